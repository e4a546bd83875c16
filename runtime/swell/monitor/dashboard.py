"""The web dashboard: server-rendered HTML pages over a Store, with a little vanilla JS (no CDN).

Pages read the store directly; the JavaScript only polls ``/api/queues`` for live depth and
posts actions (replay, cancel) to the JSON API, so everything works offline.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import parse_qs, urlencode

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from swell.errors import JobNotFound, SwellError
from swell.job import TERMINAL, Job, Status
from swell.monitor.access import COOKIE, Access, Denied
from swell.monitor.view import STATUS_NAMES, BadQuery, next_run, parse_filter, parse_int
from swell.stats import PRIORITY_NAMES
from swell.store.base import JobFilter, Store

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATES = {p.stem: Template(p.read_text(encoding="utf-8")) for p in (HERE / "templates").glob("*.html")}
NAV = (("", "Queues"), ("/jobs", "Jobs"), ("/dead", "Dead letters"), ("/workers", "Workers"),
       ("/schedules", "Schedules"))
Page = Callable[[Request], Awaitable[tuple[str, str]]]  # -> (title, body html)

HERE_CLASS = ' class="here"'

e = html.escape


def base_of(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def render(request: Request, title: str, body: str, access: Access | None = None,
           status: int = 200) -> HTMLResponse:
    base = base_of(request)
    here = request.url.path[len(base):] or "/"
    nav = "".join(
        f'<a href="{base}{path or "/"}"{HERE_CLASS if here == (path or "/") else ""}>{label}</a>'
        for path, label in NAV)
    read_only = bool(access and access.read_only)
    badge = '<span class="badge ro">read-only</span>' if read_only else ""
    if access and access.token:
        badge += f'<form method="post" action="{base}/logout" class="logout"><button>Sign out</button></form>'
    page = TEMPLATES["layout"].substitute(title=e(title), base=e(base), nav=nav, body=body,
                                          badge=badge, read_only="true" if read_only else "false")
    return HTMLResponse(page, status_code=status,
                        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, f"Error {status}", f'<p class="error">{e(message)}</p>', status=status)


def fmt_time(ts: float | None) -> str:
    if not ts:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def fmt_age(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def pretty(value: Any) -> str:
    return e(orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode())


def table(headers: Iterable[str], rows: Iterable[str], *, id: str = "", empty: str = "Nothing here.") -> str:
    body = "".join(rows)
    if not body:
        return f'<p class="empty">{e(empty)}</p>'
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    id_attr = f' id="{id}"' if id else ""
    return f'<table{id_attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def status_badge(status: Status) -> str:
    return f'<span class="status s-{status.value}" data-field="status">{status.value}</span>'


def job_actions(job: Job, access: Access) -> str:
    if access.read_only:
        return ""
    buttons = []
    if job.status is Status.FAILED:
        buttons.append(f'<button class="act" data-action="replay" data-job="{e(job.id)}">replay</button>')
    if job.status not in TERMINAL and not job.cancel_requested:
        buttons.append(
            f'<button class="act warn" data-action="cancel" data-job="{e(job.id)}">cancel</button>')
    return " ".join(buttons)


def job_row(job: Job, base: str, access: Access, *, dead: bool = False) -> str:
    link = f'<a href="{base}/jobs/{e(job.id)}"><code>{e(job.id)}</code></a>'
    cells = [link, e(job.type), e(job.queue), status_badge(job.status), job.priority.name.lower(),
             str(job.attempts), e(job.tenant or "—")]
    if dead:
        message = job.error.message if job.error else ""
        cells += [e(job.dead_reason or "—"), f'<span class="msg">{e(message[:160])}</span>',
                  fmt_time(job.finished_at)]
    else:
        cells.append(fmt_time(job.created_at))
    cells.append(job_actions(job, access))
    tds = "".join(f"<td>{c}</td>" for c in cells)
    return f'<tr data-job="{e(job.id)}">{tds}</tr>'


JOB_HEADERS = ("id", "type", "queue", "status", "priority", "attempts", "tenant", "created", "")
DEAD_HEADERS = ("id", "type", "queue", "status", "priority", "attempts", "tenant", "reason", "error",
                "failed at", "")


def pager(request: Request, offset: int, limit: int, more: bool) -> str:
    params = dict(request.query_params)
    links = []
    if offset > 0:
        params["offset"] = str(max(0, offset - limit))
        links.append(f'<a href="?{e(urlencode(params))}">← newer</a>')
    if more:
        params["offset"] = str(offset + limit)
        links.append(f'<a href="?{e(urlencode(params))}">older →</a>')
    return f'<p class="pager">{" · ".join(links)}</p>' if links else ""


class Dashboard:
    """The HTML pages, bound to one store."""

    def __init__(self, store: Store, access: Access) -> None:
        self.store = store
        self.access = access

    async def overview(self, request: Request) -> tuple[str, str]:
        stats = await self.store.stats()
        headers = ("queue", *PRIORITY_NAMES, "scheduled", "running", "dead", "completed", "failed",
                   "done / min", "oldest pending")
        rows = []
        for name in sorted(stats.queues):
            q = stats.queues[name]
            cells = [f'<a href="{base_of(request)}/jobs?queue={e(name)}">{e(name)}</a>']
            cells += [f'<span data-field="pending.{p}">{q.pending.get(p, 0)}</span>' for p in PRIORITY_NAMES]
            for field in ("scheduled", "running", "dead", "completed", "failed", "throughput_last_minute"):
                cell = f'<span data-field="{field}">{getattr(q, field)}</span>'
                if field == "dead":
                    cell = f'<a href="{base_of(request)}/dead?queue={e(name)}">{cell}</a>'
                cells.append(cell)
            cells.append(f'<span data-field="oldest_pending_age" data-age="1">'
                         f'{fmt_age(q.oldest_pending_age)}</span>')
            rows.append(f'<tr data-queue="{e(name)}">{"".join(f"<td>{c}</td>" for c in cells)}</tr>')
        busy = sum(1 for w in stats.workers if w.busy)
        summary = (f'<p class="summary"><span id="live" class="live">live</span> '
                   f'{plural(len(stats.queues), "queue")} · <a href="{base_of(request)}/workers">'
                   f'{plural(len(stats.workers), "worker")}</a> ({busy} busy) · updated '
                   f'<span id="updated">{fmt_time(stats.at)}</span></p>')
        tenants = [f"<tr><td>{e(name)}</td><td>{t.pending}</td><td>{t.running}</td><td>{t.completed}</td>"
                   f"<td>{t.failed}</td></tr>" for name, t in sorted(stats.tenants.items())]
        tenant_table = ("<h2>Tenants</h2>" + table(("tenant", "pending", "running", "completed", "failed"),
                                                   tenants, id="tenants")) if tenants else ""
        return "Queues", summary + table(headers, rows, id="queues",
                                         empty="No queue has held a job yet.") + tenant_table

    async def jobs(self, request: Request) -> tuple[str, str]:
        where = parse_filter(request.query_params)
        found = await self.store.find(JobFilter(status=where.status, type=where.type, queue=where.queue,
                                                tenant=where.tenant, offset=where.offset,
                                                limit=where.limit + 1))
        base = base_of(request)
        options = "".join(
            f'<option{" selected" if where.status and where.status.value == s else ""}>{s}</option>'
            for s in STATUS_NAMES)
        form = (f'<form class="filters" method="get" action="{base}/jobs">'
                f'<label>status <select name="status"><option value="">any</option>{options}</select></label>'
                + "".join(f'<label>{f} <input name="{f}" value="{e(getattr(where, f) or "")}" '
                          f'size="12"></label>' for f in ("queue", "type", "tenant"))
                + f'<label>per page <input name="limit" value="{where.limit}" size="4"></label>'
                  '<button type="submit">Filter</button></form>')
        rows = [job_row(j, base, self.access) for j in found[:where.limit]]
        return "Jobs", form + table(JOB_HEADERS, rows, id="jobs", empty="No job matches.") + pager(
            request, where.offset, where.limit, len(found) > where.limit)

    async def job(self, request: Request) -> tuple[str, str]:
        job = await self.store.get(request.path_params["job_id"])
        base = base_of(request)
        facts = [
            ("status", status_badge(job.status)), ("type", e(job.type)),
            ("queue", f'<a href="{base}/jobs?queue={e(job.queue)}">{e(job.queue)}</a>'),
            ("priority", job.priority.name.lower()),
            ("attempts", f"{job.attempts} (max retries {job.max_retries})"),
            ("redeliveries", str(job.redeliveries)), ("tenant", e(job.tenant or "—")),
            ("created", fmt_time(job.created_at)), ("run at", fmt_time(job.run_at)),
            ("started", fmt_time(job.started_at)), ("finished", fmt_time(job.finished_at)),
            ("worker", e(job.worker_id or "—")), ("lease until", fmt_time(job.lease_until)),
            ("timeout", f"{job.timeout}s" if job.timeout else "—"),
            ("unique key", e(job.unique_key or "—")),
            ("cancel requested", "yes" if job.cancel_requested else "no"),
            ("dead reason", e(job.dead_reason or "—")),
        ]
        dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
        body = [f'<div class="job" data-job="{e(job.id)}"><p><code>{e(job.id)}</code> '
                f'{job_actions(job, self.access)}</p><dl>{dl}</dl>',
                f'<h2>Args</h2><pre class="args">{pretty(job.args)}</pre>']
        if job.error is not None:
            body.append(f'<h2>Error</h2><p class="error"><b>{e(job.error.type)}</b>: '
                        f'{e(job.error.message)}</p>')
            if job.error.traceback:
                body.append(f'<pre class="traceback">{e(job.error.traceback)}</pre>')
        if job.result is not None:
            body.append(f"<h2>Result</h2><pre>{pretty(job.result)}</pre>")
        if job.metadata:
            body.append(f"<h2>Metadata</h2><pre>{pretty(dict(job.metadata))}</pre>")
        body.append("</div>")
        return f"Job {job.type}", "".join(body)

    async def dead(self, request: Request) -> tuple[str, str]:
        params = request.query_params
        queue = params.get("queue") or None
        offset = parse_int(params, "offset", 0)
        limit = parse_int(params, "limit", 50, low=1, high=1000)
        found = await self.store.dead(queue, offset, limit + 1)
        base = base_of(request)
        stats = await self.store.stats()
        chips = "".join(
            f'<a class="chip{" here" if name == queue else ""}" href="{base}/dead?queue={e(name)}">'
            f'{e(name)} <b>{q.dead}</b></a>' for name, q in sorted(stats.queues.items()) if q.dead)
        head = f'<p class="chips">{chips}</p>' if chips else ""
        if queue and not self.access.read_only and found:
            head += (f'<p><button class="act" data-action="replay-dead" data-queue="{e(queue)}">'
                     f'replay every dead job of {e(queue)}</button></p>')
        rows = [job_row(j, base, self.access, dead=True) for j in found[:limit]]
        return "Dead letters", head + table(DEAD_HEADERS, rows, id="dead",
                                            empty="The dead-letter queue is empty.") + pager(
            request, offset, limit, len(found) > limit)

    async def workers(self, request: Request) -> tuple[str, str]:
        stats = await self.store.stats()
        rows = []
        for w in stats.workers:
            age = fmt_age(max(0.0, stats.at - w.last_heartbeat)) if w.last_heartbeat else "—"
            cells = [f"<code>{e(w.id)}</code>", e(w.host), str(w.pid), e(w.pod or "—"),
                     e(", ".join(w.queues)),
                     f"{len(w.running)} / {w.concurrency}", str(w.processed), str(w.failed),
                     fmt_time(w.started_at), age]
            rows.append(f'<tr>{"".join(f"<td>{c}</td>" for c in cells)}</tr>')
        headers = ("id", "host", "pid", "pod", "queues", "running", "processed", "failed", "started",
                   "heartbeat")
        return "Workers", table(headers, rows, id="workers", empty="No live worker.")

    async def schedules(self, request: Request) -> tuple[str, str]:
        rows = []
        now = time.time()
        for s in await self.store.schedules():
            when = e(s.cron) if s.cron else (f"every {s.interval:g}s" if s.interval else "—")
            cells = [e(s.name), e(s.type), f"<code>{when}</code>", e(s.timezone), e(s.queue),
                     "yes" if s.enabled else "no", fmt_time(next_run(s, now)), e(s.missed),
                     f"<code>{pretty(s.args)}</code>"]
            rows.append(f'<tr>{"".join(f"<td>{c}</td>" for c in cells)}</tr>')
        headers = ("name", "type", "when", "timezone", "queue", "enabled", "next run", "missed runs",
                   "args")
        return "Schedules", table(headers, rows, id="schedules", empty="No schedule is declared.")

    # -- sign in (only when a token is set) ------------------------------------------------
    async def login_form(self, request: Request, message: str = "", status: int = 200) -> HTMLResponse:
        note = f'<p class="error">{e(message)}</p>' if message else ""
        body = TEMPLATES["login"].substitute(base=e(base_of(request)), message=note)
        return render(request, "Sign in", body, status=status)

    async def login(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        given = (form.get("token") or [""])[0]
        if self.access.token is None:
            return RedirectResponse(f"{base_of(request)}/", status_code=303)
        if not self.access.token_matches(given):
            return await self.login_form(request, "Wrong token.", status=401)
        response = RedirectResponse(f"{base_of(request)}/", status_code=303)
        response.set_cookie(COOKIE, given, httponly=True, samesite="strict", path=base_of(request) or "/",
                            secure=request.url.scheme == "https")
        return response

    async def logout(self, request: Request) -> Response:
        response = RedirectResponse(f"{base_of(request)}/login", status_code=303)
        response.delete_cookie(COOKIE, path=base_of(request) or "/")
        return response


def page(dash: Dashboard, view: Page) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        try:
            dash.access.check(request)
            title, body = await view(request)
        except Denied as exc:
            return await dash.login_form(request, exc.message if "invalid" in exc.message else "",
                                         status=exc.status)
        except BadQuery as exc:
            return error_page(request, 400, str(exc))
        except JobNotFound as exc:
            return error_page(request, 404, str(exc) or "job not found")
        except SwellError as exc:
            log.warning("dashboard: %s", exc)
            return error_page(request, 503, f"the store failed: {exc}")
        return render(request, title, body, dash.access)
    return run


def routes(store: Store, access: Access) -> list[BaseRoute]:
    dash = Dashboard(store, access)
    pages: Mapping[str, Page] = {"/": dash.overview, "/jobs": dash.jobs, "/jobs/{job_id}": dash.job,
                                 "/dead": dash.dead, "/workers": dash.workers, "/schedules": dash.schedules}
    return [
        *(Route(path, page(dash, view), methods=["GET"]) for path, view in pages.items()),
        Route("/login", dash.login_form, methods=["GET"]),
        Route("/login", dash.login, methods=["POST"]),
        Route("/logout", dash.logout, methods=["POST"]),
    ]
