"""The admin HTTP API: an ASGI app (Starlette) over a Store, plus the dashboard and /metrics.

``create_app(store, token=..., read_only=...)`` returns an ASGI app that can be served alone
(``swell dashboard``) or mounted into a user's app (``Mount("/swell", app)``). Every action goes
through one atomic Store method, so the API can never lose a job: replay, cancel and purge only
move or delete what the store's contract allows (purge touches terminal jobs only).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from swell.errors import InvalidJob, InvalidTransition, JobNotFound, StoreError, StoreUnavailable
from swell.job import Status
from swell.monitor import dashboard
from swell.monitor.access import Access, Denied
from swell.monitor.metrics import CONTENT_TYPE, MetricsExporter
from swell.monitor.openapi import document
from swell.monitor.view import (
    MAX_LIMIT,
    BadBody,
    BadQuery,
    job_view,
    parse_filter,
    parse_int,
    parse_limit_body,
    parse_purge,
    queue_view,
    schedule_view,
    worker_view,
)
from swell.store.base import JobFilter, Store

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
JsonHandler = Callable[[Request], Awaitable[Any]]


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


ERROR_NAMES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "too_large", 422: "invalid",
               500: "internal_error", 503: "store_unavailable"}


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data, default=str), status_code=status, headers=headers,
                    media_type="application/json")


def error_response(status: int, message: str) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="swell"'} if status == 401 else None
    body = {"error": ERROR_NAMES.get(status, "error"), "status": status, "message": message}
    return json_response(body, status, headers)


def map_error(exc: Exception) -> tuple[int, str]:
    """Exception -> (HTTP status, message) for everything a handler may raise."""
    if isinstance(exc, Denied | ApiError):
        return exc.status, exc.message
    if isinstance(exc, BadQuery):
        return exc.status, str(exc)
    if isinstance(exc, JobNotFound):
        return 404, str(exc) or "job not found"
    if isinstance(exc, InvalidTransition):
        return 409, str(exc)
    if isinstance(exc, InvalidJob):
        return 422, str(exc)
    if isinstance(exc, StoreUnavailable):
        return 503, f"the store is unavailable: {exc}"
    if isinstance(exc, StoreError):
        return 500, f"store error: {exc}"
    log.exception("admin API: unexpected error", exc_info=exc)
    return 500, f"internal error: {type(exc).__name__}"


def endpoint(access: Access, handler: JsonHandler, *, action: bool = False
             ) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        try:
            access.check(request, action=action)
            result = await handler(request)
        except Exception as exc:
            return error_response(*map_error(exc))
        if isinstance(result, Response):
            return result
        return json_response(result)
    return run


async def read_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ApiError(413, f"request body is over {MAX_BODY} bytes")
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadBody(f"request body must be a JSON object, got a JSON {type(body).__name__}")
    return body


class AdminApi:
    """The JSON handlers, bound to one store."""

    def __init__(self, store: Store, exporter: MetricsExporter) -> None:
        self.store = store
        self.exporter = exporter

    async def health(self, request: Request) -> Any:
        await self.store.ping()
        return {"ok": True}

    async def stats(self, request: Request) -> Any:
        return (await self.store.stats()).to_dict()

    async def queues(self, request: Request) -> Any:
        stats = await self.store.stats()
        return {"at": stats.at, "queues": [queue_view(stats.queues[n]) for n in sorted(stats.queues)]}

    async def queue(self, request: Request) -> Any:
        name = request.path_params["queue"]
        stats = await self.store.stats()
        if name not in stats.queues:
            raise ApiError(404, f"unknown queue {name!r}: known queues are {sorted(stats.queues)}")
        return queue_view(stats.queues[name])

    async def jobs(self, request: Request) -> Any:
        where = parse_filter(request.query_params)
        found = await self.store.find(JobFilter(status=where.status, type=where.type, queue=where.queue,
                                                tenant=where.tenant, offset=where.offset,
                                                limit=where.limit + 1))
        return page(found, where.offset, where.limit)

    async def job(self, request: Request) -> Any:
        return job_view(await self.store.get(request.path_params["job_id"]))

    async def replay(self, request: Request) -> Any:
        job = await self.store.get(request.path_params["job_id"])
        if job.status is not Status.FAILED:
            raise ApiError(409, f"job {job.id} is {job.status.value}: only failed (dead-lettered) "
                                f"jobs can be replayed")
        replayed = await self.store.replay(job.id)
        log.info("admin API: replayed job %s", job.id, extra={"job_id": job.id, "queue": job.queue})
        return job_view(replayed)

    async def cancel(self, request: Request) -> Any:
        job = await self.store.get(request.path_params["job_id"])
        if job.terminal:
            raise ApiError(409, f"job {job.id} is already {job.status.value}: nothing to cancel")
        cancelled = await self.store.cancel(job.id)
        log.info("admin API: cancelled job %s", job.id, extra={"job_id": job.id, "queue": job.queue})
        return job_view(cancelled)

    async def dead(self, request: Request) -> Any:
        params = request.query_params
        offset = parse_int(params, "offset", 0)
        limit = parse_int(params, "limit", 50, low=1, high=MAX_LIMIT)
        found = await self.store.dead(params.get("queue") or None, offset, limit + 1)
        return page(found, offset, limit)

    async def replay_dead(self, request: Request) -> Any:
        name = request.path_params["queue"]
        limit = parse_limit_body(await read_body(request))
        count = await self.store.replay_dead(name, limit)
        log.info("admin API: replayed %d dead jobs of queue %s", count, name, extra={"queue": name})
        return {"queue": name, "replayed": count}

    async def purge(self, request: Request) -> Any:
        queue, statuses, older_than = parse_purge(await read_body(request))
        count = await self.store.purge(queue, statuses, older_than)
        log.info("admin API: purged %d %s jobs", count, "/".join(s.value for s in statuses),
                 extra={"queue": queue})
        return {"purged": count, "queue": queue, "statuses": [s.value for s in statuses],
                "older_than": older_than}

    async def workers(self, request: Request) -> Any:
        stats = await self.store.stats()
        return {"workers": [worker_view(w, stats.at) for w in stats.workers]}

    async def schedules(self, request: Request) -> Any:
        now = time.time()
        return {"schedules": [schedule_view(s, now) for s in await self.store.schedules()]}

    async def openapi(self, request: Request) -> Any:
        return document(server_url=request.scope.get("root_path", "") or "/")

    async def metrics(self, request: Request) -> Any:
        return Response(await self.exporter.render(), media_type=CONTENT_TYPE)


def page(found: list[Any], offset: int, limit: int) -> dict[str, Any]:
    """One page of a list fetched with limit+1, so the next page is known to exist."""
    more = len(found) > limit
    return {"jobs": [job_view(j) for j in found[:limit]], "offset": offset, "limit": limit,
            "next_offset": offset + limit if more else None}


def api_routes(api: AdminApi, access: Access) -> list[BaseRoute]:
    def get(path: str, handler: JsonHandler) -> Route:
        return Route(path, endpoint(access, handler), methods=["GET"])

    def post(path: str, handler: JsonHandler) -> Route:
        return Route(path, endpoint(access, handler, action=True), methods=["POST"])

    return [
        get("/api/health", api.health),
        get("/api/stats", api.stats),
        get("/api/queues", api.queues),
        get("/api/queues/{queue}", api.queue),
        post("/api/queues/{queue}/replay-dead", api.replay_dead),
        get("/api/jobs", api.jobs),
        get("/api/jobs/{job_id}", api.job),
        post("/api/jobs/{job_id}/replay", api.replay),
        post("/api/jobs/{job_id}/retry", api.replay),  # same move: a dead job runs again
        post("/api/jobs/{job_id}/cancel", api.cancel),
        get("/api/dead", api.dead),
        post("/api/purge", api.purge),
        get("/api/workers", api.workers),
        get("/api/schedules", api.schedules),
        get("/api/openapi.json", api.openapi),
        get("/metrics", api.metrics),
    ]


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith(f"{request.scope.get('root_path', '')}/api") or \
            "application/json" in request.headers.get("accept", ""):
        message = "no such endpoint: see /api/openapi.json" if exc.status_code == 404 else str(exc.detail)
        return error_response(exc.status_code, message)
    return dashboard.error_page(request, exc.status_code, str(exc.detail))


def create_app(store: Store, *, token: str | None = None, read_only: bool = False) -> Starlette:
    """The admin app: JSON API under /api, Prometheus text at /metrics, the dashboard at /."""
    access = Access(token=token or None, read_only=read_only)
    api = AdminApi(store, MetricsExporter(store))
    routes = [
        *api_routes(api, access),
        *dashboard.routes(store, access),
        Mount("/static", app=StaticFiles(directory=str(dashboard.STATIC_DIR)), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    app.state.store = store
    app.state.access = access
    return app
