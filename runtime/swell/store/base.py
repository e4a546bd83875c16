"""The storage port: every atomic job transition a backend must offer, named in job terms.

Rules every adapter follows (the contract suite in tests/contract checks them):

* Each method is one atomic transition. Either all of it happened or none of it.
* Time comes from the store's injected clock (``clock()``, seconds since the epoch), never
  from the caller's arguments, so that tests can drive time.
* ``claim`` hands out the highest priority first, FIFO within a priority, only jobs whose
  run_at has come, and records a lease (``Settings.lease``) and a fresh random token.
* ``complete``/``retry``/``fail``/``release``/``settle`` check the token: a worker whose lease
  expired (and whose job was handed to someone else) gets ``False`` and changes nothing.
* ``reap_expired`` moves running jobs whose lease ran out back to pending (counting a
  redelivery); beyond ``Settings.max_redeliveries`` it dead-letters them with reason "poison".
  It does the same, lease or not, for the running jobs of a worker that registered
  (``register_worker``) and whose heartbeat record the sweeper has watched stay unchanged for
  ``Settings.worker_dead_after`` seconds of the store's clock (``swell.store.liveness``):
  a crashed worker's jobs come back in seconds, not after the lease. Unregistered workers
  (never registered, or ``unregister_worker`` on a graceful exit) wait for their leases.
* A record that cannot be decoded is moved to the dead-letter queue with a reason; processing
  of other jobs goes on.
* Nothing is ever silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from swell.job import Job, JobError, Status
from swell.stats import Stats, WorkerInfo


class OutcomeKind(StrEnum):
    COMPLETE = "complete"
    RETRY = "retry"  # schedule the next attempt after `delay`
    FAIL = "fail"  # dead-letter (permanent error, retries exhausted, unknown type, ...)
    RELEASE = "release"  # give back to pending without counting the attempt (graceful shutdown)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The end of one attempt, as a worker reports it (batched through ``Store.settle``)."""

    job: Job  # as returned by claim (carries id, queue and token)
    kind: OutcomeKind
    result: Any = None
    error: JobError | None = None
    delay: float = 0.0  # RETRY only
    reason: str | None = None  # FAIL only: why it was dead-lettered
    duration: float | None = None  # seconds the attempt ran; feeds the duration stats


_O_JOB, _O_KIND, _O_RESULT, _O_ERROR, _O_DELAY, _O_REASON, _O_DURATION = (
    getattr(Outcome, f.name).__set__ for f in fields(Outcome))


def completed_outcome(job: Job, result: Any, duration: float | None) -> Outcome:
    """``Outcome(job, OutcomeKind.COMPLETE, result, duration=duration)`` for a worker's hot path:
    written slot by slot (the frozen dataclass __init__ costs twice as much)."""
    outcome: Outcome = object.__new__(Outcome)
    _O_JOB(outcome, job)
    _O_KIND(outcome, OutcomeKind.COMPLETE)
    _O_RESULT(outcome, result)
    _O_ERROR(outcome, None)
    _O_DELAY(outcome, 0.0)
    _O_REASON(outcome, None)
    _O_DURATION(outcome, duration)
    return outcome


@dataclass(frozen=True, slots=True)
class LeaseReport:
    """What ``extend_leases`` learned about the jobs a worker holds."""

    extended: frozenset[str] = frozenset()
    lost: frozenset[str] = frozenset()  # no longer ours (reaped, token changed, gone)
    cancel_requested: frozenset[str] = frozenset()  # someone asked to cancel these


@dataclass(frozen=True, slots=True)
class ReapReport:
    requeued: tuple[str, ...] = ()  # job ids back to pending
    dead: tuple[str, ...] = ()  # job ids dead-lettered as poison
    skipped: bool = False  # another sweeper held the lock


@dataclass(frozen=True, slots=True)
class JobFilter:
    """Find jobs. Every field is optional; all given fields must match."""

    status: Status | None = None
    type: str | None = None
    queue: str | None = None
    tenant: str | None = None
    offset: int = 0
    limit: int = 100


@dataclass(frozen=True, slots=True)
class Schedule:
    """A cron or interval schedule as stored (the pure cron logic lives in swell.schedule)."""

    name: str
    type: str
    cron: str | None = None  # 5-field cron expression
    interval: float | None = None  # seconds
    timezone: str = "UTC"
    args: Any = field(default_factory=dict)
    queue: str = "default"
    priority: int = 2
    enabled: bool = True
    missed: str = "skip"  # "skip" or "run_once"


@runtime_checkable
class Store(Protocol):
    """The storage port. ``MemoryStore`` and ``RedisStore`` implement it."""

    # -- enqueue -----------------------------------------------------------------------------
    async def enqueue(self, job: Job) -> Job:
        """Store a new job (pending, or scheduled when run_at is in the future).

        With a ``unique_key``, if a non-terminal job with the same key exists in the queue,
        nothing is stored and that existing job is returned.
        """
        ...

    async def enqueue_many(self, jobs: Sequence[Job]) -> list[Job]:
        """``enqueue`` for many jobs in one round trip; results in the same order."""
        ...

    def enqueue_sync(self, job: Job) -> Job:
        """``enqueue`` for synchronous code (a Flask or Django view, a script): blocks for one
        round trip; safe from any thread."""
        ...

    # -- delivery ----------------------------------------------------------------------------
    async def claim(self, queue: str, worker_id: str, n: int) -> list[Job]:
        """Claim up to n ready jobs: status RUNNING, attempts+1, new token, lease set."""
        ...

    async def complete(self, job: Job, result: Any = None, duration: float | None = None) -> bool: ...

    async def retry(self, job: Job, error: JobError, delay: float, duration: float | None = None) -> bool:
        """Status RETRYING, run_at = now + delay; promoted to pending when due."""
        ...

    async def fail(self, job: Job, error: JobError, reason: str | None = None,
                   duration: float | None = None) -> bool:
        """Dead-letter the job (status FAILED) with the error and reason."""
        ...

    async def release(self, job: Job) -> bool:
        """Give a running job back to pending without counting the attempt."""
        ...

    async def settle(self, outcomes: Sequence[Outcome]) -> list[bool]:
        """Apply many outcomes in one round trip; one bool per outcome (False = token lost)."""
        ...

    async def settle_and_claim(self, outcomes: Sequence[Outcome], queue: str, worker_id: str,
                               n: int) -> tuple[list[bool], list[Job]]:
        """``settle(outcomes)`` then ``claim(queue, worker_id, n)``, in one round trip where the
        store can (a worker's loop turn). If it raises, treat both as not done: settling again
        is harmless (tokens), and jobs it may have claimed come back when their leases expire."""
        ...

    async def extend_leases(self, queue: str, tokens: Mapping[str, str]) -> LeaseReport:
        """Renew the leases of {job_id: token}; report lost ones and cancel requests."""
        ...

    async def promote_due(self, queue: str, limit: int = 1000) -> int:
        """Move scheduled/retrying jobs whose run_at has come to pending; return how many."""
        ...

    async def next_due_at(self, queue: str) -> float | None:
        """The earliest run_at among scheduled/retrying jobs, or None."""
        ...

    async def reap_expired(self, queue: str) -> ReapReport:
        """Return expired leases, and the jobs of dead workers, to pending (or dead-letter poison
        jobs). One sweeper at a time."""
        ...

    # -- control -----------------------------------------------------------------------------
    async def cancel(self, job_id: str) -> Job:
        """Cancel a pending/scheduled/retrying job at once; flag a running one
        (``cancel_requested``) so its worker stops it. Raises JobNotFound."""
        ...

    async def replay(self, job_id: str) -> Job:
        """Move a dead job back to pending with attempts and redeliveries reset."""
        ...

    async def replay_dead(self, queue: str, limit: int = 1000) -> int:
        """Replay up to ``limit`` dead jobs of a queue, oldest first."""
        ...

    async def purge(self, queue: str | None = None, statuses: Sequence[Status] = (Status.COMPLETED,),
                    older_than: float = 0.0) -> int:
        """Delete terminal jobs (completed/failed/cancelled only) finished more than ``older_than``
        seconds ago. Returns how many were deleted."""
        ...

    # -- queries -----------------------------------------------------------------------------
    async def get(self, job_id: str) -> Job:
        """Raises JobNotFound."""
        ...

    async def find(self, where: JobFilter) -> list[Job]:
        """Jobs matching the filter, newest first within a status."""
        ...

    async def dead(self, queue: str | None = None, offset: int = 0, limit: int = 100) -> list[Job]:
        """Dead-lettered jobs, most recent first."""
        ...

    async def queues(self) -> list[str]:
        """Every queue that has ever held a job."""
        ...

    async def stats(self) -> Stats:
        """The stats port: all queues, workers and tenants in one round trip."""
        ...

    # -- workers and schedules ---------------------------------------------------------------
    async def register_worker(self, info: WorkerInfo) -> None:
        """Publish (or refresh) a worker's heartbeat; expires after ``Settings.worker_ttl``."""
        ...

    async def unregister_worker(self, worker_id: str) -> None: ...

    async def workers(self) -> list[WorkerInfo]: ...

    async def claim_occurrence(self, key: str, ttl: float) -> bool:
        """SET NX: True for exactly one caller per key within ttl (cron exactly-once)."""
        ...

    async def save_schedule(self, schedule: Schedule) -> None: ...

    async def schedules(self) -> list[Schedule]: ...

    async def delete_schedule(self, name: str) -> bool: ...

    # -- lifecycle ---------------------------------------------------------------------------
    async def ping(self) -> None:
        """Raise StoreUnavailable if the backend cannot be reached."""
        ...

    async def close(self) -> None: ...
