"""The Redis job record: how a Job is laid out in one hash value so Lua can move it cheaply.

A record is newline-separated (orjson never writes a raw newline)::

    <state JSON>\n<created_at>\n<type>\n<args JSON>[\n<extra JSON>]

* the *state* is a small object the Lua scripts decode and rewrite with cjson: short keys, times
  as strings (repr of a float: cjson would round numbers to 14 digits), result and error as JSON
  strings, and the few immutable fields Lua needs (priority, tenant, unique key). It is empty
  for a fresh pending job.
* the rest is immutable and never re-encoded by Lua, so user data keeps its exact JSON:
  created_at (repr of the float), the type (JSON-quoted only if it holds a newline or starts
  with a quote), the args ("" for {}), and the other non-default spec fields (retry settings,
  metadata, timeout) as one JSON object, left out when empty.

A fresh small job is ~35 bytes, e.g. ``\n1700000000.123456\nnoop\n{"i":1}``; kept in a small
listpack hash (see swell.store.keys) plus its pending-set entry, a queued job costs about
190-215 bytes of Redis memory (measured: 193 at 100,000 jobs, 212 at 20,000).
"""

from __future__ import annotations

from typing import Any

import orjson

from swell.errors import CorruptJob
from swell.job import DEFAULT_MAX_RETRIES, Job, JobError, Priority, Status, claimed_job_value
from swell.retry import DEFAULT_RETRY_POLICY, RetryPolicy

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
_EXTRA_KEYS = frozenset({"max_retries", "retry_policy", "metadata", "timeout"})
_PRIORITIES = tuple(Priority)


def fmt_time(t: float) -> str:
    """A time as the state stores it: the shortest string that round-trips the float."""
    return repr(float(t))


def _encode_type(job_type: str) -> bytes:
    if "\n" in job_type or job_type.startswith('"'):
        return orjson.dumps(job_type)
    return job_type.encode()


def encode_record(job: Job) -> bytes:
    """Job -> record. Reads the fields directly (no Job.to_dict(): this runs once per enqueued
    job), and skips the state loop for a fresh job, whose state is at most its status, run_at,
    priority, tenant and unique key."""
    if _is_fresh(job):
        state: dict[str, Any] = {}
        if job.status is not Status.PENDING:
            state["st"] = STATUS_CODE[job.status]
        if job.run_at is not None and job.run_at != 0:
            state["ra"] = fmt_time(job.run_at)
        if job.priority is not Priority.NORMAL:
            state["p"] = int(job.priority)
        tenant: Any = job.tenant
        unique_key: Any = job.unique_key
        if tenant is not None and tenant != 0:  # as _state()'s test
            state["tn"] = tenant
        if unique_key is not None and unique_key != 0:
            state["uk"] = unique_key
    else:
        state = _state(job)
    args, created = job.args, job.created_at
    parts = [orjson.dumps(state) if state else b"",
             (repr(created) if created.__class__ is float else fmt_time(created)).encode(),
             _encode_type(job.type), b"" if args == {} else orjson.dumps(args)]
    extra = _extra(job)
    if extra:
        parts.append(orjson.dumps(extra))
    return b"\n".join(parts)


def _is_fresh(job: Job) -> bool:
    """Pending or scheduled and never touched by a worker (what enqueue stores)."""
    return ((job.status is Status.PENDING or job.status is Status.SCHEDULED) and not job.attempts
            and job.token is None and job.worker_id is None and job.lease_until is None
            and job.started_at is None and job.finished_at is None and job.result is None
            and job.error is None and not job.redeliveries and job.dead_reason is None
            and not job.cancel_requested)


def _state(job: Job) -> dict[str, Any]:
    state: dict[str, Any] = {}
    if job.status is not Status.PENDING:
        state["st"] = STATUS_CODE[job.status]
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
    return state


def _extra(job: Job) -> dict[str, Any]:
    """The non-default spec fields, in Job.to_dict()'s order and form."""
    extra: dict[str, Any] = {}
    if job.max_retries != DEFAULT_MAX_RETRIES:
        extra["max_retries"] = job.max_retries
    if job.retry_policy is not DEFAULT_RETRY_POLICY and job.retry_policy != DEFAULT_RETRY_POLICY:
        extra["retry_policy"] = job.retry_policy.to_dict()
    if job.timeout is not None:
        extra["timeout"] = job.timeout
    if job.metadata:
        extra["metadata"] = dict(job.metadata)
    return extra


def decode_record(job_id: str, queue: str, raw: bytes) -> Job:
    """Record -> Job; CorruptJob (with the decoder's message) when it is not a job record."""
    parts = raw.split(b"\n", 4)
    if len(parts) < 4:
        raise CorruptJob(f"job record has {len(parts)} lines, not 4 or 5")
    state_raw, created, job_type, args = parts[:4]
    try:
        state = orjson.loads(state_raw) if state_raw else {}
        extra = orjson.loads(parts[4]) if len(parts) == 5 else {}
        type_ = orjson.loads(job_type) if job_type.startswith(b'"') else job_type.decode()
        args_ = orjson.loads(args) if args else {}
    except (orjson.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptJob(f"job record is not valid: {exc}") from exc
    if not isinstance(state, dict) or not isinstance(extra, dict) or not isinstance(type_, str):
        raise CorruptJob("job record state is not a JSON object")
    if extra.keys() - _EXTRA_KEYS:
        extra.update(id=job_id, queue=queue, type=type_, args=args_,
                     created_at=created.decode("ascii", "replace"))
        return _decode_slow(state, extra)
    # The claim hot path: build the Job directly (Job.from_dict would build a dict first).
    get = state.get
    try:
        policy = extra.get("retry_policy")
        return Job(
            id=job_id, type=type_, args=args_, queue=queue,
            priority=_PRIORITIES[get("p", 2)],
            status=CODE_STATUS[get("st", "p")],
            attempts=int(get("a", 0)),
            max_retries=int(extra.get("max_retries", DEFAULT_MAX_RETRIES)),
            retry_policy=RetryPolicy.from_dict(policy) if policy else DEFAULT_RETRY_POLICY,
            run_at=_opt_float(get("ra")),
            created_at=float(created),
            started_at=_opt_float(get("sa")),
            finished_at=_opt_float(get("fa")),
            result=orjson.loads(state["r"]) if "r" in state else None,
            error=JobError.from_dict(orjson.loads(state["e"])) if "e" in state else None,
            metadata=extra.get("metadata") or {},
            tenant=get("tn"),
            timeout=_opt_float(extra.get("timeout")),
            unique_key=get("uk"),
            token=get("tk"),
            worker_id=get("w"),
            lease_until=_opt_float(get("lu")),
            redeliveries=int(get("rd", 0)),
            cancel_requested=bool(get("cr", False)),
            dead_reason=get("dr"),
        )
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, orjson.JSONDecodeError) as exc:
        raise CorruptJob(f"job state is not valid: {exc!r}") from exc


def _decode_slow(state: dict[str, Any], d: dict[str, Any]) -> Job:
    """Through Job.from_dict: for records with spec fields this module does not know yet."""
    try:
        d["status"] = CODE_STATUS[state.get("st", "p")].value
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


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def enqueue_order(raw: bytes) -> int | None:
    """The enqueue sequence a record carries once it was claimed, cancelled or scheduled (st.n);
    None for a job still in its first pending place (its pending score holds it)."""
    state_raw = raw[:raw.find(b"\n")]
    if not state_raw.startswith(b"{"):
        return None
    try:
        n = orjson.loads(state_raw).get("n")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return int(n) if isinstance(n, int | float) else None


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


def decode_claimed(job_id: str, queue: str, raw: bytes, *, token: str, worker_id: str,
                   started_at: float, lease_until: float) -> Job:
    """A record from a claim reply. One with an empty state line was claimed from its first
    pending place: its state is what the claim wrote (see lua/claiming.lua), built here without
    parsing. Others go through ``decode_record``. CorruptJob as there."""
    if not raw.startswith(b"\n"):
        return decode_record(job_id, queue, raw)
    parts = raw.split(b"\n", 5)
    if len(parts) == 6 or len(parts) < 4:
        raise CorruptJob(f"job record has {len(parts) - 1} lines, not 4 or 5")
    try:
        job_type = orjson.loads(parts[2]) if parts[2].startswith(b'"') else parts[2].decode()
        args = orjson.loads(parts[3]) if parts[3] else {}
        extra = orjson.loads(parts[4]) if len(parts) == 5 else None
        created_at = float(parts[1])
    except (orjson.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise CorruptJob(f"job record is not valid: {exc}") from exc
    if extra is not None or not isinstance(job_type, str):
        # retry settings, metadata or a timeout: the general decoder knows them
        state = {"st": "r", "a": 1, "tk": token, "w": worker_id, "sa": fmt_time(started_at),
                 "lu": fmt_time(lease_until)}
        return decode_record(job_id, queue, orjson.dumps(state) + raw)
    return claimed_job_value(job_id, job_type, args, queue, created_at, started_at=started_at, token=token,
                             worker_id=worker_id, lease_until=lease_until)
