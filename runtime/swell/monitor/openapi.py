"""The OpenAPI 3.1 document of the admin API, as plain data (served at /api/openapi.json)."""

from __future__ import annotations

from typing import Any

from swell.job import Status

VERSION = "0.1.0"


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    reasons = {400: "Bad query parameter", 401: "Missing or wrong bearer token",
               403: "Read-only mode, or a cookie-authenticated action without X-Requested-With",
               404: "Unknown job or queue", 409: "The job is not in a state that allows this",
               422: "Invalid body field", 503: "The store is unavailable"}
    return {str(c): _json(_ref("Error"), reasons[c]) for c in (401, 503, *codes)}


def _param(name: str, where: str, schema: dict[str, Any], description: str,
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "schema": schema, "description": description}


PAGE_PARAMS = [
    _param("offset", "query", {"type": "integer", "minimum": 0, "default": 0}, "Skip this many"),
    _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
           "Page size"),
]
JOB_ID = _param("job_id", "path", {"type": "string"}, "Job id")
QUEUE = _param("queue", "path", {"type": "string"}, "Queue name")


def _op(summary: str, ok: dict[str, Any], *, params: list[dict[str, Any]] | None = None,
        body: dict[str, Any] | None = None, errors: tuple[int, ...] = (), tag: str = "read"
        ) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "parameters": params or [],
                          "responses": {"200": ok, **_errors(*errors)}}
    if body is not None:
        op["requestBody"] = {"required": False, "content": {"application/json": {"schema": body}}}
    return op


def _action(summary: str, ok: dict[str, Any], **kw: Any) -> dict[str, Any]:
    kw["errors"] = (403, *kw.get("errors", ()))
    return _op(summary, ok, tag="action", **kw)


SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error", "status", "message"], "properties": {
        "error": {"type": "string"}, "status": {"type": "integer"}, "message": {"type": "string"}}},
    "Job": {"type": "object", "required": ["id", "type", "queue", "status"], "properties": {
        "id": {"type": "string"}, "type": {"type": "string"}, "queue": {"type": "string"},
        "status": {"enum": [s.value for s in Status]},
        "priority": {"enum": ["critical", "high", "normal", "low"]},
        "args": {}, "attempts": {"type": "integer"}, "max_retries": {"type": "integer"},
        "retry_policy": {"type": "object"},
        "created_at": {"type": "number"}, "run_at": {"type": ["number", "null"]},
        "started_at": {"type": ["number", "null"]}, "finished_at": {"type": ["number", "null"]},
        "result": {}, "error": {"type": ["object", "null"], "properties": {
            "type": {"type": "string"}, "message": {"type": "string"},
            "traceback": {"type": "string"}}},
        "metadata": {"type": "object"}, "tenant": {"type": ["string", "null"]},
        "timeout": {"type": ["number", "null"]}, "unique_key": {"type": ["string", "null"]},
        "worker_id": {"type": ["string", "null"]}, "lease_until": {"type": ["number", "null"]},
        "redeliveries": {"type": "integer"}, "cancel_requested": {"type": "boolean"},
        "dead_reason": {"type": ["string", "null"]}}},
    "JobPage": {"type": "object", "required": ["jobs", "offset", "limit", "next_offset"], "properties": {
        "jobs": {"type": "array", "items": _ref("Job")}, "offset": {"type": "integer"},
        "limit": {"type": "integer"}, "next_offset": {"type": ["integer", "null"]}}},
    "Queue": {"type": "object", "required": ["name", "pending", "pending_total", "backlog"], "properties": {
        "name": {"type": "string"},
        "pending": {"type": "object", "additionalProperties": {"type": "integer"},
                    "description": "pending jobs by priority name"},
        "pending_total": {"type": "integer"}, "scheduled": {"type": "integer"},
        "scheduled_due": {"type": "integer"}, "running": {"type": "integer"},
        "dead": {"type": "integer"}, "backlog": {"type": "integer"},
        "completed": {"type": "integer"}, "failed": {"type": "integer"},
        "retried": {"type": "integer"}, "enqueued": {"type": "integer"},
        "cancelled": {"type": "integer"}, "redelivered": {"type": "integer"},
        "oldest_pending_age": {"type": "number"}, "throughput_last_minute": {"type": "integer"},
        "durations": {"type": "object"}}},
    "Worker": {"type": "object", "required": ["id", "queues"], "properties": {
        "id": {"type": "string"}, "host": {"type": "string"}, "pid": {"type": "integer"},
        "queues": {"type": "array", "items": {"type": "string"}},
        "concurrency": {"type": "integer"}, "running": {"type": "array", "items": {"type": "string"}},
        "processed": {"type": "integer"}, "failed": {"type": "integer"},
        "busy": {"type": "boolean"}, "heartbeat_age": {"type": ["number", "null"]}}},
    "Schedule": {"type": "object", "required": ["name", "type"], "properties": {
        "name": {"type": "string"}, "type": {"type": "string"}, "cron": {"type": ["string", "null"]},
        "interval": {"type": ["number", "null"]}, "timezone": {"type": "string"},
        "queue": {"type": "string"}, "enabled": {"type": "boolean"},
        "next_run": {"type": ["number", "null"], "description": "next fire time (epoch seconds)"}}},
    "Purge": {"type": "object", "properties": {
        "queue": {"type": ["string", "null"], "description": "null: every queue"},
        "statuses": {"type": "array", "items": {"enum": ["completed", "failed", "cancelled"]},
                     "default": ["completed"]},
        "older_than": {"type": "number", "minimum": 0, "default": 0}}},
}


def document(server_url: str = "/") -> dict[str, Any]:
    """The whole OpenAPI 3.1 document; ``server_url`` is where the app is mounted."""
    obj = {"type": "object"}
    filters = [
        _param("status", "query", {"enum": [s.value for s in Status]}, "Only jobs in this status"),
        _param("type", "query", {"type": "string"}, "Only jobs of this type"),
        _param("queue", "query", {"type": "string"}, "Only jobs of this queue"),
        _param("tenant", "query", {"type": "string"}, "Only jobs of this tenant"),
        *PAGE_PARAMS,
    ]
    job = _json(_ref("Job"), "The job")
    paths: dict[str, Any] = {
        "/api/health": {"get": _op("Ping the store", _json(obj, "The store answers"))},
        "/api/stats": {"get": _op("Every queue, worker and tenant in one snapshot",
                                  _json(obj, "Stats.to_dict()"))},
        "/api/queues": {"get": _op("Queues and their sizes", _json(
            {"type": "object", "properties": {"at": {"type": "number"},
                                              "queues": {"type": "array", "items": _ref("Queue")}}},
            "All queues"))},
        "/api/queues/{queue}": {"get": _op("One queue", _json(_ref("Queue"), "The queue"),
                                           params=[QUEUE], errors=(404,))},
        "/api/queues/{queue}/replay-dead": {"post": _action(
            "Replay up to `limit` dead jobs of a queue, oldest first",
            _json(obj, "{queue, replayed}"), params=[QUEUE], errors=(422,),
            body={"type": "object", "properties": {"limit": {"type": "integer", "minimum": 1,
                                                             "maximum": 10000, "default": 1000}}})},
        "/api/jobs": {"get": _op("Find jobs (newest first within a status), paginated",
                                 _json(_ref("JobPage"), "One page"), params=filters, errors=(400,))},
        "/api/jobs/{job_id}": {"get": _op("One job in full", job, params=[JOB_ID], errors=(404,))},
        "/api/jobs/{job_id}/replay": {"post": _action(
            "Move a dead (failed) job back to pending, attempts reset", job,
            params=[JOB_ID], errors=(404, 409))},
        "/api/jobs/{job_id}/retry": {"post": _action(
            "Retry a dead job now (same as replay)", job, params=[JOB_ID], errors=(404, 409))},
        "/api/jobs/{job_id}/cancel": {"post": _action(
            "Cancel a waiting job, or ask the worker of a running one to stop it", job,
            params=[JOB_ID], errors=(404, 409))},
        "/api/dead": {"get": _op("The dead-letter queue, most recent first",
                                 _json(_ref("JobPage"), "One page"), errors=(400,),
                                 params=[_param("queue", "query", {"type": "string"}, "Only this queue"),
                                         *PAGE_PARAMS])},
        "/api/purge": {"post": _action(
            "Delete finished jobs (completed, failed or cancelled only)",
            _json(obj, "{purged, queue, statuses, older_than}"), body=_ref("Purge"), errors=(400, 422))},
        "/api/workers": {"get": _op("Live workers", _json(
            {"type": "object", "properties": {"workers": {"type": "array", "items": _ref("Worker")}}},
            "Workers with a recent heartbeat"))},
        "/api/schedules": {"get": _op("Cron and interval schedules", _json(
            {"type": "object", "properties": {"schedules": {"type": "array", "items": _ref("Schedule")}}},
            "Schedules"))},
        "/api/openapi.json": {"get": _op("This document", _json(obj, "OpenAPI 3.1"))},
        "/metrics": {"get": _op("Prometheus metrics", {
            "description": "Prometheus text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}}})},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "swell admin API", "version": VERSION,
                 "description": "Inspect and repair swell queues. Actions are refused in read-only "
                                "mode; every request needs the bearer token when one is set."},
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "tags": [{"name": "read", "description": "Look"}, {"name": "action", "description": "Change jobs"}],
        "paths": paths,
        "components": {"schemas": SCHEMAS,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
