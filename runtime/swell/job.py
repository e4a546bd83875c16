"""The job model: values, statuses, priorities, transitions and JSON encoding (pure, time passed in)."""

from __future__ import annotations

import base64
import itertools
import math
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from enum import IntEnum, StrEnum
from typing import Any

import orjson

from swell.errors import CorruptJob, InvalidJob, InvalidTransition, PayloadTooLarge
from swell.retry import DEFAULT_RETRY_POLICY, RetryPolicy

DEFAULT_QUEUE = "default"
DEFAULT_MAX_RETRIES = 3
DEFAULT_PAYLOAD_LIMIT = 512 * 1024


class Priority(IntEnum):
    """Lower value runs first: critical > high > normal > low."""

    CRITICAL = 0
    HIGH = 1
    NORMAL = 2
    LOW = 3

    @classmethod
    def parse(cls, value: Priority | str | int) -> Priority:
        """Accept a Priority, its name (any case) or its number; raise InvalidJob otherwise."""
        if isinstance(value, Priority):
            return value
        if isinstance(value, str):
            try:
                return cls[value.strip().upper()]
            except KeyError:
                pass
        elif isinstance(value, int) and not isinstance(value, bool):
            try:
                return cls(value)
            except ValueError:
                pass
        names = ", ".join(p.name.lower() for p in cls)
        raise InvalidJob(f"unknown priority {value!r}: use one of {names}")


class Status(StrEnum):
    PENDING = "pending"  # ready to claim (run_at has come)
    SCHEDULED = "scheduled"  # waiting for run_at (delayed or cron)
    RUNNING = "running"  # claimed under a lease
    RETRYING = "retrying"  # failed an attempt, waiting for the next one
    COMPLETED = "completed"
    FAILED = "failed"  # in the dead-letter queue
    CANCELLED = "cancelled"


TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED})

# Which moves the model allows. Everything else raises InvalidTransition.
TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.RUNNING, Status.CANCELLED, Status.FAILED}),
    Status.SCHEDULED: frozenset({Status.PENDING, Status.CANCELLED}),
    Status.RETRYING: frozenset({Status.PENDING, Status.CANCELLED}),
    # RUNNING -> PENDING: a lease was reaped or a worker gave the job back on shutdown.
    Status.RUNNING: frozenset(
        {Status.COMPLETED, Status.RETRYING, Status.FAILED, Status.PENDING, Status.CANCELLED}
    ),
    Status.FAILED: frozenset({Status.PENDING}),  # replay from the dead-letter queue
    Status.COMPLETED: frozenset(),
    Status.CANCELLED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class JobError:
    """Why an attempt failed."""

    type: str
    message: str
    traceback: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.traceback:
            d["traceback"] = self.traceback
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobError:
        return cls(str(data.get("type", "")), str(data.get("message", "")), data.get("traceback"))

    @classmethod
    def from_exception(cls, exc: BaseException, traceback: str | None = None) -> JobError:
        return cls(type(exc).__name__, str(exc), traceback)


@dataclass(frozen=True, slots=True)
class Job:
    """One unit of work. Times are seconds since the epoch (floats)."""

    id: str
    type: str
    args: Any = field(default_factory=dict)
    queue: str = DEFAULT_QUEUE
    priority: Priority = Priority.NORMAL
    status: Status = Status.PENDING
    attempts: int = 0  # how many times a worker started it
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY
    run_at: float | None = None
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    result: Any = None
    error: JobError | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    tenant: str | None = None
    timeout: float | None = None
    unique_key: str | None = None
    # Delivery bookkeeping, written by stores.
    token: str | None = None  # lease token of the current claim (fencing)
    worker_id: str | None = None
    lease_until: float | None = None
    redeliveries: int = 0  # how many times a lease expired and the job was handed out again
    cancel_requested: bool = False
    dead_reason: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; fields at their default value are left out (compact storage)."""
        d: dict[str, Any] = {"id": self.id, "type": self.type, "status": self.status.value}
        if self.args != {}:
            d["args"] = self.args
        if self.queue != DEFAULT_QUEUE:
            d["queue"] = self.queue
        if self.priority is not Priority.NORMAL:
            d["priority"] = int(self.priority)
        if self.attempts:
            d["attempts"] = self.attempts
        if self.max_retries != DEFAULT_MAX_RETRIES:
            d["max_retries"] = self.max_retries
        if self.retry_policy != DEFAULT_RETRY_POLICY:
            d["retry_policy"] = self.retry_policy.to_dict()
        d["created_at"] = self.created_at
        for name in ("run_at", "started_at", "finished_at", "result", "tenant", "timeout",
                     "unique_key", "token", "worker_id", "lease_until", "dead_reason"):
            value = getattr(self, name)
            if value is not None:
                d[name] = value
        if self.error is not None:
            d["error"] = self.error.to_dict()
        if self.metadata:
            d["metadata"] = dict(self.metadata)
        if self.redeliveries:
            d["redeliveries"] = self.redeliveries
        if self.cancel_requested:
            d["cancel_requested"] = True
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Job:
        try:
            policy = d.get("retry_policy")
            error = d.get("error")
            return cls(
                id=str(d["id"]),
                type=str(d["type"]),
                args=d.get("args", {}),
                queue=str(d.get("queue", DEFAULT_QUEUE)),
                priority=Priority(int(d.get("priority", Priority.NORMAL))),
                status=Status(d.get("status", Status.PENDING)),
                attempts=int(d.get("attempts", 0)),
                max_retries=int(d.get("max_retries", DEFAULT_MAX_RETRIES)),
                retry_policy=RetryPolicy.from_dict(policy) if policy else DEFAULT_RETRY_POLICY,
                run_at=_opt_float(d.get("run_at")),
                created_at=float(d.get("created_at", 0.0)),
                started_at=_opt_float(d.get("started_at")),
                finished_at=_opt_float(d.get("finished_at")),
                result=d.get("result"),
                error=JobError.from_dict(error) if error else None,
                metadata=d.get("metadata") or {},
                tenant=d.get("tenant"),
                timeout=_opt_float(d.get("timeout")),
                unique_key=d.get("unique_key"),
                token=d.get("token"),
                worker_id=d.get("worker_id"),
                lease_until=_opt_float(d.get("lease_until")),
                redeliveries=int(d.get("redeliveries", 0)),
                cancel_requested=bool(d.get("cancel_requested", False)),
                dead_reason=d.get("dead_reason"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptJob(f"job record is not a valid job: {exc!r}") from exc


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def encode(job: Job) -> bytes:
    """Job -> JSON bytes. Never pickle."""
    return orjson.dumps(job.to_dict())


def decode(data: bytes | str) -> Job:
    """JSON bytes -> Job; CorruptJob when the record is not a job."""
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise CorruptJob(f"job record is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise CorruptJob(f"job record is a JSON {type(raw).__name__}, not an object")
    return Job.from_dict(raw)


_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_ID_BLOCK = 64  # consecutive ids of a process that share their last two characters
_ID_BATCH = 256
_ids: list[str] = []
_id_counter = itertools.count(secrets.randbelow(_ID_BLOCK * 4096))


def new_id() -> str:
    """16 URL-safe characters: 14 random ones (84 bits), then two that this process changes
    every 64 ids. The Redis store keeps a pending job in a small hash picked by the last two
    characters (swell.store.keys): jobs enqueued one after another share one, so a worker
    claiming them reads and clears one hash instead of one per job.

    The random part is drawn from the OS 256 ids at a time (12 bytes are 16 base64
    characters), about 4x cheaper per id than a token_urlsafe call each. A forked child starts
    with an empty pool, so two processes never hand out the same ids."""
    try:
        head = _ids.pop()
    except IndexError:
        block = base64.urlsafe_b64encode(os.urandom(12 * _ID_BATCH)).decode()
        _ids.extend(block[k:k + 14] for k in range(16, 16 * _ID_BATCH, 16))
        head = block[:14]
    n = next(_id_counter) // _ID_BLOCK
    return head + _ID_ALPHABET[(n >> 6) & 63] + _ID_ALPHABET[n & 63]


os.register_at_fork(after_in_child=_ids.clear)


def new_job(
    type: str,
    args: Any = None,
    *,
    now: float,
    queue: str = DEFAULT_QUEUE,
    priority: Priority | str | int = Priority.NORMAL,
    delay: float | None = None,
    run_at: float | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    metadata: Mapping[str, Any] | None = None,
    tenant: str | None = None,
    timeout: float | None = None,
    unique_key: str | None = None,
    job_id: str | None = None,
    payload_limit: int = DEFAULT_PAYLOAD_LIMIT,
) -> Job:
    """Build a validated job. Raises InvalidJob (with a message naming the problem) on bad input."""
    if not isinstance(type, str) or not type:
        raise InvalidJob("job type must be a non-empty string")
    if not isinstance(queue, str) or not queue or not _QUEUE_FORBIDDEN.isdisjoint(queue):
        raise InvalidJob(f"invalid queue name {queue!r}: use letters, digits, '-', '_' or '.'")
    prio = priority if priority.__class__ is Priority else Priority.parse(priority)
    if delay is not None and run_at is not None:
        raise InvalidJob("give either delay or run_at, not both")
    if delay is not None:
        if not isinstance(delay, int | float) or isinstance(delay, bool) or not math.isfinite(delay):
            raise InvalidJob(f"delay must be a number of seconds, got {delay!r}")
        if delay < 0:
            raise InvalidJob(f"delay must be >= 0 seconds, got {delay}")
        run_at = now + delay if delay > 0 else None
    if run_at is not None and not math.isfinite(run_at):
        raise InvalidJob(f"run_at must be a finite timestamp, got {run_at!r}")
    if max_retries < 0:
        raise InvalidJob(f"max_retries must be >= 0, got {max_retries}")
    if timeout is not None and timeout <= 0:
        raise InvalidJob(f"timeout must be > 0 seconds, got {timeout}")
    if args is None:
        args = {}
    try:
        args_json = orjson.dumps(args)
        args = orjson.loads(args_json)  # normalise: tuples -> lists, reject non-JSON
    except TypeError as exc:
        raise InvalidJob(f"args of job {type!r} are not JSON-serialisable: {exc}") from exc
    status = Status.SCHEDULED if run_at is not None and run_at > now else Status.PENDING
    job = _new_job_value(job_id or new_id(), type, args, queue, prio, status, max_retries, retry_policy,
                         run_at if status is Status.SCHEDULED else None, now, dict(metadata or {}),
                         tenant, timeout, unique_key)
    if _size_bound(job, len(args_json)) <= payload_limit:
        return job  # cannot be over the limit: no need to encode it just to measure
    size = len(encode(job))
    if size > payload_limit:
        raise PayloadTooLarge(
            f"job {type!r} is {size} bytes encoded, over the {payload_limit}-byte payload limit"
        )
    return job


# Job's slot setters (descriptors' __set__), one per field: _new_job_value fills a Job with them.
_SLOT = {f.name: getattr(Job, f.name).__set__ for f in fields(Job)}
(_id, _type, _args, _queue, _priority, _status, _attempts, _max_retries, _retry_policy, _run_at,
 _created_at, _started_at, _finished_at, _result, _error, _metadata, _tenant, _timeout, _unique_key,
 _token, _worker_id, _lease_until, _redeliveries, _cancel_requested, _dead_reason) = (
    _SLOT[name] for name in (
        "id", "type", "args", "queue", "priority", "status", "attempts", "max_retries",
        "retry_policy", "run_at", "created_at", "started_at", "finished_at", "result", "error",
        "metadata", "tenant", "timeout", "unique_key", "token", "worker_id", "lease_until",
        "redeliveries", "cancel_requested", "dead_reason"))
if len(_SLOT) != 25:  # a new field must be filled below too (the unpacking checks the names)
    raise ImportError(f"Job has {len(_SLOT)} fields: update swell.job._new_job_value")


def _new_job_value(  # noqa: PLR0917 (one argument per field new_job sets)
        job_id: str, type: str, args: Any, queue: str, priority: Priority, status: Status,
        max_retries: int, retry_policy: RetryPolicy, run_at: float | None, created_at: float,
        metadata: Mapping[str, Any], tenant: str | None, timeout: float | None,
        unique_key: str | None) -> Job:
    """``Job(id=job_id, ...)`` with the other fields at their defaults, at 40 % of the cost.

    The generated __init__ of a frozen dataclass goes through ``object.__setattr__`` for each
    of the 25 fields (about 3 us, a quarter of an enqueue_many's client CPU per job); this
    writes the slots through their descriptors, one plain call each. Job has no __post_init__
    to skip; a test checks the result equals the Job(...) call, field by field."""
    job: Job = object.__new__(Job)
    _id(job, job_id)
    _type(job, type)
    _args(job, args)
    _queue(job, queue)
    _priority(job, priority)
    _status(job, status)
    _attempts(job, 0)
    _max_retries(job, max_retries)
    _retry_policy(job, retry_policy)
    _run_at(job, run_at)
    _created_at(job, created_at)
    _started_at(job, None)
    _finished_at(job, None)
    _result(job, None)
    _error(job, None)
    _metadata(job, metadata)
    _tenant(job, tenant)
    _timeout(job, timeout)
    _unique_key(job, unique_key)
    _token(job, None)
    _worker_id(job, None)
    _lease_until(job, None)
    _redeliveries(job, 0)
    _cancel_requested(job, False)
    _dead_reason(job, None)
    return job


def claimed_job_value(job_id: str, type: str, args: Any, queue: str, created_at: float, *,
                      started_at: float, token: str, worker_id: str, lease_until: float) -> Job:
    """A fresh job (every other field at its default) as a claim hands it out: running, first
    attempt, with its lease. For stores decoding claims (swell.store.record.decode_claimed): the
    same slot writes as _new_job_value, a test checks it equals Job(...)."""
    job: Job = object.__new__(Job)
    _id(job, job_id)
    _type(job, type)
    _args(job, args)
    _queue(job, queue)
    _priority(job, Priority.NORMAL)
    _status(job, Status.RUNNING)
    _attempts(job, 1)
    _max_retries(job, DEFAULT_MAX_RETRIES)
    _retry_policy(job, DEFAULT_RETRY_POLICY)
    _run_at(job, None)
    _created_at(job, created_at)
    _started_at(job, started_at)
    _finished_at(job, None)
    _result(job, None)
    _error(job, None)
    _metadata(job, {})
    _tenant(job, None)
    _timeout(job, None)
    _unique_key(job, None)
    _token(job, token)
    _worker_id(job, worker_id)
    _lease_until(job, lease_until)
    _redeliveries(job, 0)
    _cancel_requested(job, False)
    _dead_reason(job, None)
    return job


_QUEUE_FORBIDDEN = frozenset("{}: \n")
_MAX_EXACT = 2**53  # integers up to this write at most 16 digits
_UNBOUNDED = 1 << 62


def _size_bound(job: Job, args_size: int) -> int:
    """An upper bound of ``len(encode(job))`` for a job new_job built, from the size of its
    args JSON, without encoding it: every string at 6 bytes a character (JSON's worst escape),
    every number at 32 bytes, 256 bytes of keys and punctuation. Jobs with metadata, a custom
    retry policy or values of unusual types get _UNBOUNDED, so they are encoded exactly (and
    any encoding error is raised here, as before). (No generators: this runs once a job.)"""
    job_id, tenant, unique_key = job.id, job.tenant or "", job.unique_key or ""
    if (job.metadata or job.retry_policy is not DEFAULT_RETRY_POLICY or not isinstance(job_id, str)
            or not isinstance(tenant, str) or not isinstance(unique_key, str)
            or not (job.created_at.__class__ is float or _small_number(job.created_at))
            or not _small_number(job.max_retries)
            or not (job.run_at is None or _small_number(job.run_at))
            or not (job.timeout is None or _small_number(job.timeout))):
        return _UNBOUNDED
    chars = len(job_id) + len(job.type) + len(job.queue) + len(tenant) + len(unique_key)
    return args_size + 6 * chars + 4 * 32 + 256


def _small_number(value: Any) -> bool:
    """None, a float, or an int orjson writes in at most 16 digits."""
    kind = value.__class__
    return value is None or kind is float or (kind is int and -_MAX_EXACT < value < _MAX_EXACT)


def transition(job: Job, to: Status, **changes: Any) -> Job:
    """Move ``job`` to status ``to``, applying ``changes``; InvalidTransition if not allowed."""
    if to not in TRANSITIONS[job.status]:
        raise InvalidTransition(f"job {job.id} cannot go from {job.status.value} to {to.value}")
    return replace(job, status=to, **changes)


def is_ready(job: Job, now: float) -> bool:
    """A job may be claimed: pending, or scheduled/retrying with run_at reached."""
    if job.status is Status.PENDING:
        return True
    if job.status in (Status.SCHEDULED, Status.RETRYING):
        return job.run_at is not None and job.run_at <= now
    return False


# Priority bands for a single sorted set: score = band * PRIORITY_BAND + sequence.
# 2**44 sequence numbers per band keeps every score an exact integer in a double (< 2**53).
PRIORITY_BAND = 2**44


def priority_score(priority: Priority, sequence: int) -> int:
    """Sort key for claiming: higher priority first, then FIFO by enqueue sequence."""
    return int(priority) * PRIORITY_BAND + sequence
