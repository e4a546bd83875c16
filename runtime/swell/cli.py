"""The swell command line: worker, enqueue, stats, jobs, dead, cron, demo (and dashboard).

Every command that inspects or changes shared state needs Redis: ``--redis-url`` or
``$SWELL_REDIS_URL``, and ``--key-prefix`` / ``$SWELL_KEY_PREFIX`` (default ``swell``) to pick the
deployment. Errors are printed as one line on stderr with a non-zero exit code; argparse usage
errors exit with 2, everything else with 1. This is the only module that configures logging.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import inspect
import logging
import math
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from swell import __version__, logging_json
from swell.errors import JobNotFound, SwellError
from swell.job import Job, Priority, Status
from swell.schedule import make_trigger, next_fire, validate_schedule
from swell.settings import DEFAULT_SETTINGS, Settings
from swell.stats import Stats
from swell.store.base import JobFilter, Schedule, Store

log = logging.getLogger(__name__)

REDIS_URL_ENV = "SWELL_REDIS_URL"
KEY_PREFIX_ENV = "SWELL_KEY_PREFIX"


class CliError(SwellError):
    """A problem with what the user typed; printed as one line."""


# -- entry point -------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help(sys.stderr)
        return 2
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except KeyboardInterrupt:
        print("swell: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        # One line: swell's messages say what went wrong and what to do; anything else is a bug
        # or a surprise, named by its type (the traceback is logged at DEBUG).
        message = " ".join(str(exc).split())
        if not isinstance(exc, SwellError | ValueError | OSError):
            log.debug("unexpected error", exc_info=True)
            message = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
        command = " ".join(str(part) for part in (args.command, getattr(args, "action", None)) if part)
        print(f"swell {command}: error: {message or type(exc).__name__}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="swell", description="Typed background jobs on Redis (or in memory).")
    parser.add_argument("--version", action="version", version=f"swell {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    shared = _shared_options(quiet=False)
    # For `jobs show`: argparse lets a nested parser's defaults overwrite what the outer one
    # parsed (`swell jobs --redis-url X show ID`), so the nested copy has no defaults.
    nested = _shared_options(quiet=True)

    p = sub.add_parser("worker", parents=[shared], help="run a worker for MODULE:APP")
    p.add_argument("app", metavar="MODULE:APP", help="where the App is, e.g. myproject.jobs:app")
    p.add_argument("--queue", "-q", action="append", dest="queues", metavar="Q",
                   help="queue to serve, highest priority first (repeat; default: the handlers' queues)")
    p.add_argument("--concurrency", "-c", type=int, default=10, help="jobs at once (default 10)")
    p.add_argument("--burst", action="store_true", help="exit once the queues are empty")
    p.add_argument("--shutdown-grace", type=float, default=25.0,
                   help="seconds running jobs get after SIGTERM (default 25)")
    with contextlib.suppress(ImportError):
        from swell.monitor.server import add_worker_monitoring_options

        add_worker_monitoring_options(p)
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("enqueue", parents=[shared], help="enqueue one job")
    p.add_argument("type", metavar="TYPE")
    p.add_argument("--args", default="{}", metavar="JSON", help="job arguments as JSON (default {})")
    p.add_argument("--queue", help="default: the handler's queue with --app, else 'default'")
    p.add_argument("--priority", help="critical, high, normal or low (default: the handler's, or normal)")
    p.add_argument("--app", metavar="MODULE:APP",
                   help="validate args against the handler's model and use its defaults")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--delay", type=float, metavar="SECONDS", help="run after this many seconds")
    when.add_argument("--at", metavar="TIME",
                      help="run at this ISO 8601 time, e.g. 2025-01-31T09:00:00+01:00 (no offset = UTC)")
    p.add_argument("--tenant")
    p.add_argument("--unique-key")
    p.add_argument("--max-retries", type=int)
    p.add_argument("--json", action="store_true", help="print the stored job as JSON")
    p.set_defaults(func=cmd_enqueue)

    p = sub.add_parser("stats", parents=[shared], help="queues, durations and workers")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("jobs", parents=[shared], help="list jobs (or `jobs show ID`, `jobs cancel ID`)")
    p.add_argument("--status", choices=[s.value for s in Status])
    p.add_argument("--type")
    p.add_argument("--queue")
    p.add_argument("--tenant")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_jobs)
    jobs_sub = p.add_subparsers(dest="action", metavar="ACTION")
    cancel = jobs_sub.add_parser("cancel", parents=[nested], help="cancel a job (running: asked to stop)")
    cancel.add_argument("id", metavar="ID")
    cancel.set_defaults(func=cmd_jobs_cancel)
    show = jobs_sub.add_parser("show", parents=[nested], help="one job in full")
    show.add_argument("id", metavar="ID")
    show.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    show.set_defaults(func=cmd_jobs_show)

    p = sub.add_parser("dead", help="the dead-letter queue: list, replay, purge")
    dead_sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    d = dead_sub.add_parser("list", parents=[shared], help="dead jobs, most recent first")
    d.add_argument("--queue")
    d.add_argument("--limit", type=int, default=50)
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_dead_list)
    d = dead_sub.add_parser("replay", parents=[shared], help="move dead jobs back to pending")
    d.add_argument("id", metavar="ID", nargs="?")
    d.add_argument("--all", action="store_true", help="every dead job (of --queue, or of all queues)")
    d.add_argument("--queue")
    d.set_defaults(func=cmd_dead_replay)
    d = dead_sub.add_parser("purge", parents=[shared], help="delete dead jobs")
    d.add_argument("--queue")
    d.add_argument("--older-than", type=float, default=0.0, metavar="SECONDS")
    d.set_defaults(func=cmd_dead_purge)

    p = sub.add_parser("cron", help="schedules: list, add, enable, disable, remove")
    cron_sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = cron_sub.add_parser("list", parents=[shared], help="stored schedules and their next run")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_cron_list)
    c = cron_sub.add_parser("add", parents=[shared], help="add or replace a schedule")
    c.add_argument("name", metavar="NAME")
    c.add_argument("type", metavar="TYPE")
    every = c.add_mutually_exclusive_group(required=True)
    every.add_argument("--cron", metavar="EXPR", help="5-field cron expression or @hourly/@daily/...")
    every.add_argument("--interval", type=float, metavar="SECONDS")
    c.add_argument("--tz", default="UTC", help="IANA time zone of the cron expression (default UTC)")
    c.add_argument("--args", default="{}", metavar="JSON")
    c.add_argument("--queue", default="default")
    c.add_argument("--priority", default="normal")
    c.add_argument("--missed", choices=["skip", "run_once"], default="skip")
    c.add_argument("--disabled", action="store_true", help="store it disabled")
    c.set_defaults(func=cmd_cron_add)
    for name, helptext in (("enable", "resume a schedule"), ("disable", "pause a schedule"),
                           ("remove", "delete a stored schedule")):
        c = cron_sub.add_parser(name, parents=[shared], help=helptext)
        c.add_argument("name", metavar="NAME")
        c.set_defaults(func=cmd_cron_toggle)

    p = sub.add_parser("demo", parents=[shared], help="run a self-contained demo (in memory, or Redis)")
    p.add_argument("--jobs", type=int, default=300, help="how many ordinary jobs (default 300)")
    p.add_argument("--workers", type=int, default=2, help="worker pools in this process (default 2)")
    p.add_argument("--concurrency", type=int, default=20, help="jobs at once per worker (default 20)")
    p.add_argument("--keep", action="store_true", help="with Redis: keep the demo's jobs afterwards")
    p.set_defaults(func=cmd_demo)

    with contextlib.suppress(ImportError):
        from swell.monitor.server import add_dashboard_command

        add_dashboard_command(sub)
    return parser


def _shared_options(quiet: bool) -> argparse.ArgumentParser:
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if quiet else value

    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--redis-url", default=default(os.environ.get(REDIS_URL_ENV)),
                        help=f"Redis URL (default ${REDIS_URL_ENV})")
    shared.add_argument("--key-prefix", default=default(os.environ.get(KEY_PREFIX_ENV) or None),
                        help=f"key prefix of the deployment (default ${KEY_PREFIX_ENV} or 'swell')")
    shared.add_argument("--log-level", default=default(None),
                        help="DEBUG, INFO, WARNING (default) or ERROR")
    return shared


# -- plumbing --------------------------------------------------------------------------------------------


def _configure_logging(args: argparse.Namespace, default: str = "WARNING") -> None:
    level = (args.log_level or default).upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise CliError(f"unknown log level {args.log_level!r}: use DEBUG, INFO, WARNING or ERROR")
    logging_json.configure(level, json=bool(getattr(args, "log_json", False)))


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(key_prefix=args.key_prefix or DEFAULT_SETTINGS.key_prefix)


def _redis_store(url: str, settings: Settings) -> Store:
    from swell.store.redis import RedisStore

    return RedisStore.from_url(url, settings=settings)


def _run_with_store(args: argparse.Namespace, body: Callable[[Store], Awaitable[int]]) -> int:
    """Run ``body`` against the shared Redis store (checked reachable first), then close it."""
    _configure_logging(args)
    if not args.redis_url:
        raise CliError(f"this command needs a shared store: pass --redis-url or set ${REDIS_URL_ENV} "
                       f"(the in-memory store lives inside one process)")

    async def go() -> int:
        store = _redis_store(args.redis_url, _settings(args))
        try:
            await store.ping()
            return await body(store)
        finally:
            with contextlib.suppress(Exception):
                await store.close()

    return asyncio.run(go())


def _json_arg(text: str, what: str = "--args") -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise CliError(f"invalid {what} JSON {text!r}: {exc}") from None


def _priority(text: str) -> Priority:
    return Priority.parse(int(text) if text.isdigit() else text)


def parse_time(text: str) -> float:
    """ISO 8601 -> epoch seconds; a time without an offset is UTC; 'Z' is accepted."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CliError(f"invalid --at time {text!r}: use ISO 8601, e.g. 2025-01-31T09:00:00+01:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def iso(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def seconds(value: float) -> str:
    if value < 1:
        return f"{value * 1000:.0f}ms"
    if value < 120:
        return f"{value:.1f}s"
    if value < 7200:
        return f"{value / 60:.0f}m"
    return f"{value / 3600:.1f}h"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], out: IO[str]) -> None:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        line = "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths,
                                                                                           strict=True)))
        print(line.rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)


def _print_json(value: Any, out: IO[str] | None = None) -> None:
    print(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode(),
          file=out or sys.stdout)


# -- worker ------------------------------------------------------------------------------------------------


def load_app(spec: str) -> Any:
    """Import ``MODULE:APP`` (APP defaults to ``app``; may be dotted) from the current directory too."""
    module_name, _, attr = spec.partition(":")
    if not module_name or (":" in spec and not attr):
        raise CliError(f"invalid app {spec!r}: use MODULE:APP, e.g. myproject.jobs:app")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise CliError(f"cannot import {module_name!r}: no module named {exc.name!r} "
                           f"(run from the project directory or fix PYTHONPATH)") from None
        raise CliError(f"cannot import {module_name!r}: {exc}") from exc
    except Exception as exc:  # the user's module failed while importing
        log.debug("importing %s failed", module_name, exc_info=True)
        raise CliError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc} "
                       f"(--log-level DEBUG shows the traceback)") from exc
    target: Any = module
    for part in (attr or "app").split("."):
        if not hasattr(target, part):
            raise CliError(f"module {module_name!r} has no attribute {(attr or 'app')!r}")
        target = getattr(target, part)
    from swell.app import App

    if not isinstance(target, App):
        raise CliError(f"{spec!r} is a {type(target).__name__}, not a swell App")
    return target


def cmd_worker(args: argparse.Namespace) -> int:
    _configure_logging(args, default="INFO")
    if args.concurrency < 1:
        raise CliError(f"--concurrency must be >= 1, got {args.concurrency}")
    app = load_app(args.app)
    if args.redis_url:
        # The command line wins over how the module built its App.
        # Keep the App's own prefix unless one was given (flag or environment).
        app.settings = replace(app.settings, key_prefix=args.key_prefix or app.settings.key_prefix)
        app.store = _redis_store(args.redis_url, app.settings)
    else:
        from swell.store.memory import MemoryStore

        if isinstance(app.store, MemoryStore):
            log.warning("worker uses the in-memory store: it sees only jobs enqueued in this process "
                        "(pass --redis-url or set $%s to share work)", REDIS_URL_ENV)
    return asyncio.run(_worker(app, args))


async def _worker(app: Any, args: argparse.Namespace) -> int:
    from swell.worker import Worker

    await app.store.ping()
    metrics: Any = None
    server: Any = None
    with contextlib.suppress(ImportError):
        from swell.monitor.server import start_worker_monitoring

        metrics, server = await start_worker_monitoring(args, app.store)
    options: dict[str, Any] = {"queues": args.queues, "concurrency": args.concurrency,
                               "shutdown_grace": args.shutdown_grace}
    if metrics is not None:
        accepted = inspect.signature(Worker).parameters
        hook = next((name for name in ("metrics", "observer") if name in accepted), None)
        if hook is None:
            log.warning("this Worker cannot report job metrics; /metrics shows store stats only")
        else:
            options[hook] = metrics
    worker = Worker(app, **options)
    try:
        await worker.run(burst=args.burst)
    finally:
        if server is not None:
            await server.close()
        await app.store.close()
    return 0


# -- enqueue, stats, jobs ------------------------------------------------------------------------------------


def cmd_enqueue(args: argparse.Namespace) -> int:
    job_args = _json_arg(args.args)
    priority = _priority(args.priority) if args.priority is not None else None
    if args.delay is not None and (not math.isfinite(args.delay) or args.delay < 0):
        raise CliError(f"--delay must be a number of seconds >= 0, got {args.delay}")
    run_at = parse_time(args.at) if args.at else None

    async def body(store: Store) -> int:
        from swell.app import App

        if args.app:
            app = load_app(args.app)
            app.store = store  # the handlers validate; the job goes to the shared store
        else:
            app = App(store, settings=_settings(args))
        job = await app.enqueue(args.type, job_args, queue=args.queue, priority=priority,
                                delay=args.delay or None, run_at=run_at, tenant=args.tenant,
                                unique_key=args.unique_key, max_retries=args.max_retries)
        if args.json:
            _print_json(job.to_dict())
        else:
            when = f", runs at {iso(job.run_at)}" if job.status is Status.SCHEDULED else ""
            print(f"{job.id} {job.type} queue={job.queue} priority={job.priority.name.lower()} "
                  f"{job.status.value}{when}")
        return 0

    return _run_with_store(args, body)


def cmd_stats(args: argparse.Namespace) -> int:
    async def body(store: Store) -> int:
        stats = await store.stats()
        if args.json:
            _print_json(stats.to_dict())
        else:
            print_stats(stats, sys.stdout)
        return 0

    return _run_with_store(args, body)


def print_stats(stats: Stats, out: IO[str]) -> None:
    """Queues, durations by type, and workers, as readable tables."""
    queues = sorted(stats.queues.values(), key=lambda q: q.name)
    if not queues:
        print("no queues yet", file=out)
    else:
        table(["queue", "pending", "crit/high/norm/low", "scheduled", "running", "completed", "failed",
               "dead", "retried", "oldest"],
              [[q.name, q.pending_total, "/".join(str(q.pending[p]) for p in q.pending),
                q.scheduled + q.scheduled_due, q.running, q.completed, q.failed, q.dead, q.retried,
                seconds(q.oldest_pending_age) if q.pending_total else "-"] for q in queues], out)
        durations = [(q.name, t, d) for q in queues for t, d in sorted(q.durations.items())]
        if durations:
            print(file=out)
            table(["job type", "queue", "runs", "min", "avg", "max"],
                  [[t, name, d.count, seconds(d.min), seconds(d.avg), seconds(d.max)]
                   for name, t, d in durations], out)
    if stats.workers:
        print(file=out)
        table(["worker", "queues", "busy", "processed", "failed", "heartbeat"],
              [[w.id, ",".join(w.queues), f"{len(w.running)}/{w.concurrency}", w.processed, w.failed,
                f"{seconds(max(0.0, stats.at - w.last_heartbeat))} ago"] for w in stats.workers], out)
    if stats.tenants:
        print(file=out)
        table(["tenant", "pending", "running", "completed", "failed"],
              [[n, t.pending, t.running, t.completed, t.failed] for n, t in sorted(stats.tenants.items())],
              out)


def job_rows(jobs: Sequence[Job]) -> list[list[Any]]:
    return [[j.id, j.type, j.queue, j.status.value, j.priority.name.lower(), j.attempts,
             iso(j.created_at), j.tenant or "-"] for j in jobs]


JOB_HEADERS = ["id", "type", "queue", "status", "priority", "attempts", "created", "tenant"]


def cmd_jobs(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise CliError(f"--limit must be >= 1, got {args.limit}")

    async def body(store: Store) -> int:
        where = JobFilter(status=Status(args.status) if args.status else None, type=args.type,
                          queue=args.queue, tenant=args.tenant, limit=args.limit)
        jobs = await store.find(where)
        if args.json:
            _print_json([j.to_dict() for j in jobs])
        elif not jobs:
            print("no matching jobs")
        else:
            table(JOB_HEADERS, job_rows(jobs), sys.stdout)
        return 0

    return _run_with_store(args, body)


def cmd_jobs_show(args: argparse.Namespace) -> int:
    async def body(store: Store) -> int:
        try:
            job = await store.get(args.id)
        except JobNotFound:
            raise CliError(f"no job with id {args.id!r} (wrong --key-prefix, or purged by retention?)"
                           ) from None
        if args.json:
            _print_json(job.to_dict())
        else:
            print_job(job, sys.stdout)
        return 0

    return _run_with_store(args, body)


def cmd_jobs_cancel(args: argparse.Namespace) -> int:
    async def body(store: Store) -> int:
        try:
            job = await store.cancel(args.id)
        except JobNotFound:
            raise CliError(f"no job with id {args.id!r}") from None
        state = "cancel requested (its worker stops it)" if job.cancel_requested and not job.terminal \
            else job.status.value
        print(f"{job.id} {job.type}: {state}")
        return 0

    return _run_with_store(args, body)


def print_job(job: Job, out: IO[str]) -> None:
    fields: list[tuple[str, Any]] = [
        ("id", job.id), ("type", job.type), ("queue", job.queue), ("status", job.status.value),
        ("priority", job.priority.name.lower()), ("attempts", f"{job.attempts} (max retries "
                                                              f"{job.max_retries})"),
        ("created", iso(job.created_at)), ("run at", iso(job.run_at)), ("started", iso(job.started_at)),
        ("finished", iso(job.finished_at)), ("tenant", job.tenant or "-"),
        ("unique key", job.unique_key or "-"), ("worker", job.worker_id or "-"),
        ("redeliveries", job.redeliveries),
        ("args", orjson.dumps(job.args).decode()),
    ]
    if job.result is not None:
        fields.append(("result", orjson.dumps(job.result).decode()))
    if job.error is not None:
        fields.append(("error", f"{job.error.type}: {job.error.message}"))
    if job.dead_reason:
        fields.append(("dead reason", job.dead_reason))
    if job.metadata:
        fields.append(("metadata", orjson.dumps(dict(job.metadata)).decode()))
    width = max(len(k) for k, _ in fields)
    for key, value in fields:
        print(f"{key.ljust(width)}  {value}", file=out)
    if job.error is not None and job.error.traceback:
        print(job.error.traceback.rstrip(), file=out)


# -- dead letters --------------------------------------------------------------------------------------------


def cmd_dead_list(args: argparse.Namespace) -> int:
    async def body(store: Store) -> int:
        jobs = await store.dead(args.queue, limit=args.limit)
        if args.json:
            _print_json([j.to_dict() for j in jobs])
        elif not jobs:
            print("the dead-letter queue is empty")
        else:
            table(["id", "type", "queue", "attempts", "failed at", "reason", "error"],
                  [[j.id, j.type, j.queue, j.attempts, iso(j.finished_at), j.dead_reason or "-",
                    dead_error(j)] for j in jobs], sys.stdout)
        return 0

    return _run_with_store(args, body)


def dead_error(job: Job, width: int = 60) -> str:
    if job.error is None:
        return "-"
    text = " ".join(f"{job.error.type}: {job.error.message}".split())
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_dead_replay(args: argparse.Namespace) -> int:
    if bool(args.id) == bool(args.all):
        raise CliError("give a job ID or --all (optionally with --queue)")
    if args.id and args.queue:
        raise CliError("--queue goes with --all, not with a job ID")

    async def body(store: Store) -> int:
        if args.id:
            try:
                job = await store.replay(args.id)
            except JobNotFound:
                raise CliError(f"no job with id {args.id!r}") from None
            print(f"replayed {job.id} ({job.type}) to queue {job.queue}")
            return 0
        queues = [args.queue] if args.queue else await store.queues()
        total = 0
        for queue in queues:
            while n := await store.replay_dead(queue):
                total += n
        print(f"replayed {total} dead job(s)" + (f" of queue {args.queue}" if args.queue else ""))
        return 0

    return _run_with_store(args, body)


def cmd_dead_purge(args: argparse.Namespace) -> int:
    async def body(store: Store) -> int:
        n = await store.purge(args.queue, statuses=(Status.FAILED,), older_than=args.older_than)
        print(f"purged {n} dead job(s)")
        return 0

    return _run_with_store(args, body)


# -- cron ----------------------------------------------------------------------------------------------


def cmd_cron_list(args: argparse.Namespace) -> int:
    async def body(store: Store) -> int:
        schedules = await store.schedules()
        if args.json:
            _print_json([schedule_dict(s) for s in schedules])
        elif not schedules:
            print("no schedules (schedules declared in code appear once a worker has started)")
        else:
            now = datetime.now(UTC).timestamp()
            table(["name", "type", "when", "tz", "queue", "missed", "enabled", "next run"],
                  [[s.name, s.type, s.cron or f"every {seconds(s.interval or 0)}", s.timezone, s.queue,
                    s.missed, "yes" if s.enabled else "no", _next_run(s, now)] for s in schedules],
                  sys.stdout)
        return 0

    return _run_with_store(args, body)


def schedule_dict(s: Schedule) -> dict[str, Any]:
    return {"name": s.name, "type": s.type, "cron": s.cron, "interval": s.interval, "timezone": s.timezone,
            "args": s.args, "queue": s.queue, "priority": s.priority, "enabled": s.enabled,
            "missed": s.missed}


def _next_run(s: Schedule, now: float) -> str:
    if not s.enabled:
        return "-"
    try:
        return iso(next_fire(make_trigger(s.cron, s.interval, s.timezone), now))
    except SwellError as exc:
        return f"invalid: {exc}"


def cmd_cron_add(args: argparse.Namespace) -> int:
    schedule = Schedule(name=args.name, type=args.type, cron=args.cron, interval=args.interval,
                        timezone=args.tz, args=_json_arg(args.args), queue=args.queue,
                        priority=int(_priority(args.priority)), enabled=not args.disabled,
                        missed=args.missed)
    trigger = validate_schedule(schedule)

    async def body(store: Store) -> int:
        await store.save_schedule(schedule)
        now = datetime.now(UTC).timestamp()
        state = "disabled" if args.disabled else f"next run {iso(next_fire(trigger, now))}"
        print(f"saved schedule {schedule.name} ({state})")
        return 0

    return _run_with_store(args, body)


def cmd_cron_toggle(args: argparse.Namespace) -> int:
    async def body(store: Store) -> int:
        if args.action == "remove":
            if not await store.delete_schedule(args.name):
                raise CliError(f"no stored schedule named {args.name!r}")
            print(f"removed schedule {args.name}")
            return 0
        found = {s.name: s for s in await store.schedules()}.get(args.name)
        if found is None:
            raise CliError(f"no stored schedule named {args.name!r} (see `swell cron list`)")
        await store.save_schedule(replace(found, enabled=args.action == "enable"))
        print(f"{args.action}d schedule {args.name}")
        return 0

    return _run_with_store(args, body)


# -- demo ----------------------------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from swell.demo import run_demo

    # The final report shows the dead job; warnings would only break the progress bar.
    _configure_logging(args, default="ERROR")
    if args.jobs < 0 or args.workers < 1 or args.concurrency < 1:
        raise CliError("--jobs must be >= 0, --workers and --concurrency >= 1")
    return asyncio.run(run_demo(
        redis_url=args.redis_url,
        key_prefix=args.key_prefix,
        jobs=args.jobs, workers=args.workers, concurrency=args.concurrency, keep=args.keep,
        out=sys.stdout, err=sys.stderr,
    ))

