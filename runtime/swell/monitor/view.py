"""JSON views of jobs, queues, workers and schedules, and the parsing of list queries (pure)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from swell.errors import SwellError
from swell.job import Job, Priority, Status
from swell.schedule import next_fire, trigger_of
from swell.stats import QueueStats, WorkerInfo
from swell.store.base import JobFilter, Schedule

MAX_LIMIT = 1000
DEFAULT_LIMIT = 50
STATUS_NAMES = tuple(s.value for s in Status)


class BadQuery(ValueError):
    """A query parameter is invalid (HTTP 400); the message names it and says what to use."""

    status = 400


class BadBody(BadQuery):
    """A well-formed JSON body has an invalid field (HTTP 422)."""

    status = 422


def job_view(job: Job) -> dict[str, Any]:
    """Every field of a job, defaults included, with the lease token left out (it is a secret
    that lets its holder settle the job)."""
    return {
        "id": job.id,
        "type": job.type,
        "queue": job.queue,
        "status": job.status.value,
        "priority": job.priority.name.lower(),
        "args": job.args,
        "attempts": job.attempts,
        "max_retries": job.max_retries,
        "retry_policy": job.retry_policy.to_dict(),
        "created_at": job.created_at,
        "run_at": job.run_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "result": job.result,
        "error": job.error.to_dict() if job.error else None,
        "metadata": dict(job.metadata),
        "tenant": job.tenant,
        "timeout": job.timeout,
        "unique_key": job.unique_key,
        "worker_id": job.worker_id,
        "lease_until": job.lease_until,
        "redeliveries": job.redeliveries,
        "cancel_requested": job.cancel_requested,
        "dead_reason": job.dead_reason,
    }


def queue_view(q: QueueStats) -> dict[str, Any]:
    d = asdict(q)
    d["pending_total"] = q.pending_total
    d["backlog"] = q.backlog
    return d


def worker_view(w: WorkerInfo, now: float) -> dict[str, Any]:
    d = w.to_dict()
    d["busy"] = w.busy
    d["heartbeat_age"] = max(0.0, now - w.last_heartbeat) if w.last_heartbeat else None
    return d


def schedule_view(s: Schedule, now: float) -> dict[str, Any]:
    d = asdict(s)
    d["priority"] = Priority(s.priority).name.lower() if s.priority in set(Priority) else s.priority
    d["next_run"] = next_run(s, now)
    return d


def next_run(s: Schedule, now: float) -> float | None:
    """When the schedule fires next, or None if it is disabled or cannot be parsed."""
    if not s.enabled:
        return None
    try:
        return next_fire(trigger_of(s), now)
    except SwellError:
        return None


def parse_status(raw: str | None) -> Status | None:
    if raw is None or raw == "":
        return None
    try:
        return Status(raw.strip().lower())
    except ValueError:
        raise BadQuery(f"unknown status {raw!r}: use one of {', '.join(STATUS_NAMES)}") from None


def parse_int(params: Mapping[str, str], name: str, default: int, *, low: int = 0,
              high: int | None = None) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadQuery(f"{name} must be an integer, got {raw!r}") from None
    if value < low:
        raise BadQuery(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise BadQuery(f"{name} must be <= {high}, got {value}")
    return value


def parse_filter(params: Mapping[str, str]) -> JobFilter:
    """?status=&type=&queue=&tenant=&offset=&limit= -> JobFilter; BadQuery names a bad field."""
    return JobFilter(
        status=parse_status(params.get("status")),
        type=params.get("type") or None,
        queue=params.get("queue") or None,
        tenant=params.get("tenant") or None,
        offset=parse_int(params, "offset", 0),
        limit=parse_int(params, "limit", DEFAULT_LIMIT, low=1, high=MAX_LIMIT),
    )


def parse_purge(body: Mapping[str, Any]) -> tuple[str | None, tuple[Status, ...], float]:
    """The body of POST /api/purge -> (queue, statuses, older_than). Only terminal statuses may
    be purged, so the API can never delete a job that still has work to do."""
    queue = body.get("queue")
    if queue is not None and (not isinstance(queue, str) or not queue):
        raise BadBody("queue must be a non-empty string or null")
    raw_statuses = body.get("statuses", ["completed"])
    if not isinstance(raw_statuses, list) or not raw_statuses:
        raise BadBody("statuses must be a non-empty list, e.g. [\"completed\", \"cancelled\"]")
    statuses: list[Status] = []
    purgeable = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)
    for raw in raw_statuses:
        status = _status_or_none(raw)
        if status not in purgeable:
            raise BadBody(f"cannot purge status {raw!r}: only completed, failed or cancelled "
                           f"jobs can be purged")
        assert status is not None
        statuses.append(status)
    older_than = body.get("older_than", 0)
    if (not isinstance(older_than, int | float) or isinstance(older_than, bool)
            or not math.isfinite(older_than) or older_than < 0):
        raise BadBody(f"older_than must be a number of seconds >= 0, got {older_than!r}")
    return queue, tuple(statuses), float(older_than)


def parse_limit_body(body: Mapping[str, Any], default: int = 1000) -> int:
    limit = body.get("limit", default)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 10_000:
        raise BadBody(f"limit must be an integer between 1 and 10000, got {limit!r}")
    return limit


def _status_or_none(raw: Any) -> Status | None:
    try:
        return Status(raw.strip().lower()) if isinstance(raw, str) else None
    except ValueError:
        return None
