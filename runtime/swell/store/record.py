"""The Redis job record: how a Job is laid out in one hash value so Lua can move it cheaply.

A record is ``<state JSON>\\n<spec JSON>`` (orjson never writes a raw newline):

* the *spec* is ``Job.to_dict()`` without the fields below: the immutable part (type, args,
  retry settings, metadata, ...). Lua never re-encodes it, so user data keeps its exact JSON.
* the *state* is a small object the Lua scripts decode and rewrite with cjson: short keys,
  times as strings (repr of a float: cjson would round numbers to 14 digits), result and
  error as JSON strings, and the few immutable fields Lua needs (priority, tenant, unique key).

A fresh small job costs about 40 bytes plus its args, e.g.
``{"c":"1700000000.123456"}\\n{"type":"noop","args":{"i":1}}``.
"""

from __future__ import annotations

from typing import Any

import orjson

from swell.errors import CorruptJob
from swell.job import Job, Priority, Status

STATUS_CODE: dict[Status, str] = {
    Status.PENDING: "p",
    Status.SCHEDULED: "s",
    Status.RUNNING: "r",
    Status.RETRYING: "y",
    Status.COMPLETED: "c",
    Status.FAILED: "f",
    Status.CANCELLED: "x",
}
CODE_STATUS: dict[str, Status] = {code: status for status, code in STATUS_CODE.items()}

# Job.to_dict() keys that live in the state (or nowhere: id and queue come from the key).
_NOT_SPEC = frozenset({
    "id", "queue", "status", "attempts", "run_at", "started_at", "finished_at", "result", "error",
    "token", "worker_id", "lease_until", "redeliveries", "cancel_requested", "dead_reason",
    "created_at", "priority", "tenant", "unique_key",
})
# state key -> Job.to_dict key, for the plain values
_STATE_FIELDS = (
    ("a", "attempts"), ("ra", "run_at"), ("sa", "started_at"), ("fa", "finished_at"),
    ("tk", "token"), ("w", "worker_id"), ("lu", "lease_until"), ("rd", "redeliveries"),
    ("dr", "dead_reason"), ("p", "priority"), ("tn", "tenant"), ("uk", "unique_key"),
)
_TIME_KEYS = frozenset({"ra", "sa", "fa", "lu"})

CORRUPT_TYPE = "<corrupt>"


def fmt_time(t: float) -> str:
    """A time as the state stores it: the shortest string that round-trips the float."""
    return repr(float(t))


def encode_record(job: Job) -> bytes:
    d = job.to_dict()
    spec = {k: v for k, v in d.items() if k not in _NOT_SPEC}
    state: dict[str, Any] = {}
    if job.status is not Status.PENDING:
        state["st"] = STATUS_CODE[job.status]
    state["c"] = fmt_time(job.created_at)
    for key, name in _STATE_FIELDS:
        value = getattr(job, name)
        if key == "p":
            if value is not Priority.NORMAL:
                state["p"] = int(value)
        elif value is not None and value != 0:
            state[key] = fmt_time(value) if key in _TIME_KEYS else value
    if job.result is not None:
        state["r"] = orjson.dumps(job.result).decode()
    if job.error is not None:
        state["e"] = orjson.dumps(job.error.to_dict()).decode()
    if job.cancel_requested:
        state["cr"] = True
    return orjson.dumps(state) + b"\n" + orjson.dumps(spec)


def decode_record(job_id: str, queue: str, raw: bytes) -> Job:
    """Record -> Job; CorruptJob (with the decoder's message) when it is not a job record."""
    nl = raw.find(b"\n")
    if nl < 0:
        raise CorruptJob("job record has no state line")
    try:
        state = orjson.loads(raw[:nl])
        spec = orjson.loads(raw[nl + 1:])
    except orjson.JSONDecodeError as exc:
        raise CorruptJob(f"job record is not JSON: {exc}") from exc
    if not isinstance(state, dict) or not isinstance(spec, dict):
        raise CorruptJob("job record is not a JSON object")
    d: dict[str, Any] = spec
    d["id"] = job_id
    d["queue"] = queue
    try:
        d["status"] = CODE_STATUS[state.get("st", "p")].value
        d["created_at"] = state["c"]
        for key, name in _STATE_FIELDS:
            if key in state:
                d[name] = state[key]
        if "r" in state:
            d["result"] = orjson.loads(state["r"])
        if "e" in state:
            d["error"] = orjson.loads(state["e"])
    except (KeyError, TypeError, orjson.JSONDecodeError) as exc:
        raise CorruptJob(f"job state is not valid: {exc!r}") from exc
    if state.get("cr"):
        d["cancel_requested"] = True
    return Job.from_dict(d)


def corrupt_job(job_id: str, queue: str, raw: bytes, reason: str) -> Job:
    """What get()/dead() show for a record that cannot be decoded: the evidence and the reason."""
    return Job(
        id=job_id,
        type=CORRUPT_TYPE,
        args={"raw": raw[:200].decode("utf-8", "replace")},
        queue=queue,
        status=Status.FAILED,
        dead_reason=reason,
    )
