"""MemoryStore: the embedded default Store, in one process, safe under asyncio tasks and threads.

Every method is one atomic transition done under a single ``threading.Lock`` (never held across
an ``await``), so it behaves like the Redis store's Lua scripts: all of it or none of it.

Semantics shared with ``RedisStore`` (the contract suite in tests/contract checks them):

* Claim order: highest priority first, then FIFO by a sequence number given when the job
  became pending (at enqueue, or at promotion for delayed and retrying jobs). ``claim``
  promotes due scheduled/retrying jobs itself first, so a due job is claimable without a
  separate ``promote_due`` call.
* ``release`` and a reaped lease put the job back at its old place (its original sequence), so
  it is claimed again ahead of jobs enqueued after it. ``release`` does not count the attempt.
* The token is the fence, not the clock: a holder whose lease ran out but was not reaped yet
  can still settle its job.
* Cancel: pending/scheduled/retrying jobs become CANCELLED at once. A running job is flagged
  ``cancel_requested``; then ``complete`` records COMPLETED (the work did finish), while
  ``retry``, ``fail``, ``release`` and an expired lease all end it CANCELLED (error kept), so
  a cancelled job never runs again. Cancelling a terminal job raises InvalidTransition.
* Dead workers: ``reap_expired`` also requeues the running jobs of a registered worker whose
  heartbeat it has watched stand still for ``Settings.worker_dead_after`` (see
  ``swell.store.liveness``), lease or not; that counts a redelivery like an expired lease.
* Poison: the lease of a job expiring (or its worker dying) more than ``max_redeliveries`` times
  dead-letters it with reason ``"poison: lease expired N times"``.
* ``replay`` resets attempts and redeliveries, clears ``dead_reason`` and keeps the last error.
* Enqueueing an id that already exists returns the stored job (idempotent client retries).
* Retention, trimmed per queue at each completion/dead-lettering/cancellation: completed and
  cancelled jobs by ``completed_ttl``/``completed_max``, dead jobs by ``dead_ttl``/``dead_max``.
* Jobs handed out are frozen; args and results are copied on the way in and args on the way out
  of ``claim``, so a handler mutating its args cannot change the stored job.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import logging
import secrets
import threading
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from swell.clock import Clock, wall_clock
from swell.errors import InvalidTransition, JobNotFound
from swell.job import TERMINAL, Job, JobError, Priority, Status, priority_score, transition
from swell.settings import DEFAULT_SETTINGS, Settings
from swell.stats import PRIORITY_NAMES, DurationStats, QueueStats, Stats, TenantStats, WorkerInfo
from swell.store.base import JobFilter, LeaseReport, Outcome, OutcomeKind, ReapReport, Schedule
from swell.store.liveness import HeartbeatWatch

log = logging.getLogger(__name__)

THROUGHPUT_WINDOW = 60.0
_STATUS_ORDER = {status: i for i, status in enumerate(Status)}


def _copy(value: Any) -> Any:
    """A private deep copy of a JSON value (cheap for the common small payloads)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if not value:
        return type(value)() if isinstance(value, dict | list) else value
    return orjson.loads(orjson.dumps(value))


@dataclass
class _Queue:
    """The indexes of one queue. Heaps are lazy: an entry counts only while ``pending`` holds it."""

    name: str
    pending: dict[str, int] = field(default_factory=dict)  # job id -> live heap entry number
    order: dict[str, int] = field(default_factory=dict)  # job id -> claim score (priority, seq)
    heap: list[tuple[int, int, str]] = field(default_factory=list)  # (score, entry, id)
    ready: list[tuple[float, int, str]] = field(default_factory=list)  # (ready since, entry, id)
    delayed: list[tuple[float, int, str]] = field(default_factory=list)  # sorted (run_at, seq, id)
    delayed_key: dict[str, tuple[float, int, str]] = field(default_factory=dict)
    running: dict[str, float] = field(default_factory=dict)  # job id -> lease_until
    completed: OrderedDict[str, float] = field(default_factory=OrderedDict)  # id -> finished_at
    cancelled: OrderedDict[str, float] = field(default_factory=OrderedDict)
    dead: OrderedDict[str, tuple[int, float]] = field(default_factory=OrderedDict)  # id -> (seq, at)
    unique: dict[str, str] = field(default_factory=dict)  # unique_key -> live job id
    by_priority: list[int] = field(default_factory=lambda: [0] * len(Priority))
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("completed", "failed", "retried", "enqueued", "cancelled", "redelivered"), 0))
    durations: dict[str, list[float]] = field(default_factory=dict)  # type -> [n, min, sum, max]
    finished: deque[float] = field(default_factory=deque)  # finish times in the last minute


@dataclass
class _Tenant:
    pending: int = 0
    running: int = 0
    completed: int = 0
    failed: int = 0


class MemoryStore:
    """The Store port in process memory. Nothing survives the process; use RedisStore for that."""

    def __init__(self, settings: Settings = DEFAULT_SETTINGS, clock: Clock = wall_clock) -> None:
        self.settings = settings
        self.clock = clock
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}  # insertion order = enqueue order (find relies on it)
        self._queues: dict[str, _Queue] = {}
        self._tenants: dict[str, _Tenant] = {}
        self._seq = itertools.count(1)
        self._workers: dict[str, tuple[WorkerInfo, float]] = {}  # id -> (info, expires_at)
        self._watch = HeartbeatWatch(settings.worker_dead_after)  # dead workers (reap_expired)
        self._occurrences: dict[str, float] = {}  # key -> expires_at
        self._occurrence_limit = 1024
        self._schedules: dict[str, Schedule] = {}

    # -- enqueue -----------------------------------------------------------------------------
    async def enqueue(self, job: Job) -> Job:
        args = _copy(job.args)
        with self._lock:
            return self._enqueue(job, args, self.clock())

    def enqueue_sync(self, job: Job) -> Job:
        args = _copy(job.args)
        with self._lock:
            return self._enqueue(job, args, self.clock())

    async def enqueue_many(self, jobs: Sequence[Job]) -> list[Job]:
        # Copy first: args that are not JSON fail the whole batch before anything is stored.
        args = [_copy(job.args) for job in jobs]
        with self._lock:
            now = self.clock()
            return [self._enqueue(job, a, now) for job, a in zip(jobs, args, strict=True)]

    def _enqueue(self, job: Job, args: Any, now: float) -> Job:
        existing = self._jobs.get(job.id)
        if existing is not None:
            return existing
        q = self._queue(job.queue)
        if job.unique_key is not None:
            holder = q.unique.get(job.unique_key)
            if holder is not None:
                return self._jobs[holder]
        delayed = job.run_at is not None and job.run_at > now
        job = replace(
            job,
            status=Status.SCHEDULED if delayed else Status.PENDING,
            run_at=job.run_at if delayed else None,
            args=args,
            attempts=0, token=None, worker_id=None, lease_until=None, started_at=None,
            finished_at=None, cancel_requested=False, dead_reason=None,
        )
        if job.unique_key is not None:
            q.unique[job.unique_key] = job.id
        q.counters["enqueued"] += 1
        self._put(None, job)
        if delayed:
            self._push_delayed(q, job)
        else:
            self._push_pending(q, job, now, new_place=True)
        return job

    # -- delivery ----------------------------------------------------------------------------
    async def claim(self, queue: str, worker_id: str, n: int) -> list[Job]:
        with self._lock:
            now = self.clock()
            q = self._queues.get(queue)
            if q is None or n <= 0:
                return []
            self._promote(q, now, None)
            claimed: list[Job] = []
            while len(claimed) < n and q.heap:
                _, entry, job_id = heapq.heappop(q.heap)
                if q.pending.get(job_id) != entry:
                    continue  # stale entry: the job left pending since
                del q.pending[job_id]
                job = self._jobs[job_id]
                running = transition(
                    job, Status.RUNNING, attempts=job.attempts + 1, started_at=now,
                    token=secrets.token_hex(16), worker_id=worker_id,
                    lease_until=now + self.settings.lease, run_at=None,
                )
                q.running[job_id] = now + self.settings.lease
                self._put(job, running)
                claimed.append(replace(running, args=_copy(running.args)))
            return claimed

    async def complete(self, job: Job, result: Any = None, duration: float | None = None) -> bool:
        result = _copy(result)
        with self._lock:
            return self._complete(job, result, duration, self.clock())

    async def retry(self, job: Job, error: JobError, delay: float, duration: float | None = None) -> bool:
        with self._lock:
            return self._retry(job, error, delay, self.clock())

    async def fail(self, job: Job, error: JobError, reason: str | None = None,
                   duration: float | None = None) -> bool:
        with self._lock:
            return self._fail(job, error, reason, self.clock())

    async def release(self, job: Job) -> bool:
        with self._lock:
            return self._release(job, self.clock())

    async def settle(self, outcomes: Sequence[Outcome]) -> list[bool]:
        # Copy results first: a result that is not JSON fails the whole batch before any change.
        results = [_copy(o.result) if o.kind is OutcomeKind.COMPLETE else None for o in outcomes]
        with self._lock:
            now = self.clock()
            done: list[bool] = []
            for o, result in zip(outcomes, results, strict=True):
                if o.kind is OutcomeKind.COMPLETE:
                    done.append(self._complete(o.job, result, o.duration, now))
                elif o.kind is OutcomeKind.RETRY:
                    error = o.error or JobError("Retry", "retry requested")
                    done.append(self._retry(o.job, error, o.delay, now))
                elif o.kind is OutcomeKind.FAIL:
                    error = o.error or JobError("Failed", o.reason or "failed")
                    done.append(self._fail(o.job, error, o.reason, now))
                else:
                    done.append(self._release(o.job, now))
            return done

    async def settle_and_claim(self, outcomes: Sequence[Outcome], queue: str, worker_id: str,
                               n: int) -> tuple[list[bool], list[Job]]:
        return await self.settle(outcomes), await self.claim(queue, worker_id, n)

    def _held(self, job: Job) -> Job | None:
        """The stored job if ``job``'s token still holds its lease, else None."""
        stored = self._jobs.get(job.id)
        if stored is None or stored.status is not Status.RUNNING:
            return None
        if job.token is None or stored.token != job.token:
            return None
        return stored

    def _complete(self, job: Job, result: Any, duration: float | None, now: float) -> bool:
        stored = self._held(job)
        if stored is None:
            return False
        q = self._queues[stored.queue]
        done = transition(stored, Status.COMPLETED, result=result, finished_at=now,
                          token=None, lease_until=None, cancel_requested=False)
        self._leave_running(q, stored)
        q.order.pop(stored.id, None)
        q.counters["completed"] += 1
        if stored.tenant is not None:
            self._tenant(stored.tenant).completed += 1
        if duration is not None:
            self._record_duration(q, stored.type, duration)
        self._finished(q, now)
        self._put(stored, done)
        self._release_unique(q, done)
        q.completed[done.id] = now
        self._trim(q.completed, self.settings.completed_ttl, self.settings.completed_max, now)
        return True

    def _retry(self, job: Job, error: JobError, delay: float, now: float) -> bool:
        stored = self._held(job)
        if stored is None:
            return False
        q = self._queues[stored.queue]
        self._leave_running(q, stored)
        if stored.cancel_requested:
            self._cancel_now(q, stored, now, error=error)
            return True
        waiting = transition(stored, Status.RETRYING, run_at=now + max(0.0, delay), error=error,
                             token=None, worker_id=None, lease_until=None)
        q.counters["retried"] += 1
        self._put(stored, waiting)
        self._push_delayed(q, waiting)
        return True

    def _fail(self, job: Job, error: JobError, reason: str | None, now: float) -> bool:
        stored = self._held(job)
        if stored is None:
            return False
        q = self._queues[stored.queue]
        self._leave_running(q, stored)
        if stored.cancel_requested:
            self._cancel_now(q, stored, now, error=error)
            return True
        self._dead_letter(q, stored, error, reason or f"{error.type}: {error.message}", now)
        return True

    def _release(self, job: Job, now: float) -> bool:
        stored = self._held(job)
        if stored is None:
            return False
        q = self._queues[stored.queue]
        self._leave_running(q, stored)
        if stored.cancel_requested:
            self._cancel_now(q, stored, now)
            return True
        back = transition(stored, Status.PENDING, attempts=max(0, stored.attempts - 1),
                          token=None, worker_id=None, lease_until=None)
        self._put(stored, back)
        self._push_pending(q, back, now, new_place=False)
        return True

    async def extend_leases(self, queue: str, tokens: Mapping[str, str]) -> LeaseReport:
        with self._lock:
            now = self.clock()
            extended: set[str] = set()
            lost: set[str] = set()
            cancel: set[str] = set()
            for job_id, token in tokens.items():
                stored = self._jobs.get(job_id)
                if (stored is None or stored.queue != queue or stored.status is not Status.RUNNING
                        or stored.token != token):
                    lost.add(job_id)
                    continue
                until = now + self.settings.lease
                self._queues[queue].running[job_id] = until
                self._jobs[job_id] = replace(stored, lease_until=until)
                extended.add(job_id)
                if stored.cancel_requested:
                    cancel.add(job_id)
            return LeaseReport(frozenset(extended), frozenset(lost), frozenset(cancel))

    async def promote_due(self, queue: str, limit: int = 1000) -> int:
        with self._lock:
            q = self._queues.get(queue)
            return 0 if q is None else self._promote(q, self.clock(), limit)

    async def next_due_at(self, queue: str) -> float | None:
        with self._lock:
            q = self._queues.get(queue)
            return q.delayed[0][0] if q is not None and q.delayed else None

    async def reap_expired(self, queue: str) -> ReapReport:
        with self._lock:
            now = self.clock()
            q = self._queues.get(queue)
            if q is None:
                return ReapReport()
            expired = [job_id for job_id, until in q.running.items() if until < now]
            beats = {worker_id: expires for worker_id, (_, expires) in self._workers.items()}
            gone = self._watch.dead(beats, now)
            if gone:  # running jobs of workers whose heartbeat stopped, whatever their lease says
                late = set(expired)
                expired += [job_id for job_id in q.running
                            if job_id not in late and self._jobs[job_id].worker_id in gone]
            requeued: list[str] = []
            dead: list[str] = []
            for job_id in expired:
                stored = self._jobs[job_id]
                self._leave_running(q, stored)
                q.counters["redelivered"] += 1
                times = stored.redeliveries + 1
                if stored.cancel_requested:
                    self._cancel_now(q, stored, now)
                elif times > self.settings.max_redeliveries:
                    error = JobError("LeaseExpired", f"lease expired {times} times without the job "
                                     f"finishing (max_redeliveries={self.settings.max_redeliveries})")
                    self._dead_letter(q, replace(stored, redeliveries=times), error,
                                      f"poison: lease expired {times} times", now)
                    dead.append(job_id)
                    log.warning("job %s in queue %s dead-lettered as poison", job_id, queue)
                else:
                    back = transition(stored, Status.PENDING, redeliveries=times, token=None,
                                      worker_id=None, lease_until=None)
                    self._put(stored, back)
                    self._push_pending(q, back, now, new_place=False)
                    requeued.append(job_id)
                    log.info("job %s in queue %s: lease expired or worker dead, back to pending",
                             job_id, queue)
            return ReapReport(requeued=tuple(requeued), dead=tuple(dead))

    # -- control -----------------------------------------------------------------------------
    async def cancel(self, job_id: str) -> Job:
        with self._lock:
            now = self.clock()
            stored = self._get(job_id)
            if stored.terminal:
                raise InvalidTransition(
                    f"job {job_id} is already {stored.status.value}: only pending, scheduled, "
                    "retrying or running jobs can be cancelled")
            q = self._queues[stored.queue]
            if stored.status is Status.RUNNING:
                flagged = replace(stored, cancel_requested=True)
                self._jobs[job_id] = flagged
                return flagged
            q.pending.pop(job_id, None)
            self._drop_delayed(q, job_id)
            return self._cancel_now(q, stored, now)

    async def replay(self, job_id: str) -> Job:
        with self._lock:
            return self._replay(self._get(job_id), self.clock())

    async def replay_dead(self, queue: str, limit: int = 1000) -> int:
        with self._lock:
            now = self.clock()
            q = self._queues.get(queue)
            if q is None:
                return 0
            ids = list(itertools.islice(q.dead, max(0, limit)))
            for job_id in ids:
                self._replay(self._jobs[job_id], now)
            return len(ids)

    def _replay(self, stored: Job, now: float) -> Job:
        if stored.status is not Status.FAILED:
            raise InvalidTransition(
                f"job {stored.id} is {stored.status.value}: only dead (failed) jobs can be replayed")
        q = self._queues[stored.queue]
        del q.dead[stored.id]
        back = transition(stored, Status.PENDING, attempts=0, redeliveries=0, dead_reason=None,
                          finished_at=None, run_at=None, token=None, worker_id=None,
                          lease_until=None, cancel_requested=False)
        if back.unique_key is not None:
            q.unique.setdefault(back.unique_key, back.id)
        self._put(stored, back)
        self._push_pending(q, back, now, new_place=True)
        return back

    async def purge(self, queue: str | None = None, statuses: Sequence[Status] = (Status.COMPLETED,),
                    older_than: float = 0.0) -> int:
        wanted = set(statuses)
        if wanted - TERMINAL:
            names = ", ".join(sorted(s.value for s in wanted - TERMINAL))
            raise InvalidTransition(f"purge deletes only terminal jobs, not {names}")
        with self._lock:
            now = self.clock()
            queues = self._queues.values() if queue is None else [
                q for q in (self._queues.get(queue),) if q is not None]
            deleted = 0
            for q in queues:
                if Status.COMPLETED in wanted:
                    deleted += self._purge_index(q.completed, now, older_than)
                if Status.CANCELLED in wanted:
                    deleted += self._purge_index(q.cancelled, now, older_than)
                if Status.FAILED in wanted:
                    old = [i for i, (_, at) in q.dead.items() if now - at >= older_than]
                    for job_id in old:
                        del q.dead[job_id]
                        self._jobs.pop(job_id, None)
                    deleted += len(old)
            return deleted

    def _purge_index(self, index: OrderedDict[str, float], now: float, older_than: float) -> int:
        old = [job_id for job_id, at in index.items() if now - at >= older_than]
        for job_id in old:
            del index[job_id]
            self._jobs.pop(job_id, None)
        return len(old)

    # -- queries -----------------------------------------------------------------------------
    async def get(self, job_id: str) -> Job:
        with self._lock:
            return self._get(job_id)

    async def find(self, where: JobFilter) -> list[Job]:
        with self._lock:
            found = [
                job for job in reversed(self._jobs.values())
                if (where.status is None or job.status is where.status)
                and (where.type is None or job.type == where.type)
                and (where.queue is None or job.queue == where.queue)
                and (where.tenant is None or job.tenant == where.tenant)
            ]
        if where.status is None:
            found.sort(key=lambda job: _STATUS_ORDER[job.status])  # stable: newest first within
        offset = max(0, where.offset)
        return found[offset:offset + max(0, where.limit)]

    async def dead(self, queue: str | None = None, offset: int = 0, limit: int = 100) -> list[Job]:
        with self._lock:
            queues = self._queues.values() if queue is None else [
                q for q in (self._queues.get(queue),) if q is not None]
            entries = sorted(((seq, job_id) for q in queues for job_id, (seq, _) in q.dead.items()),
                             reverse=True)
            offset = max(0, offset)
            return [self._jobs[job_id] for _, job_id in entries[offset:offset + max(0, limit)]]

    async def queues(self) -> list[str]:
        with self._lock:
            return sorted(self._queues)

    async def stats(self) -> Stats:
        with self._lock:
            now = self.clock()
            queues = {name: self._queue_stats(q, now) for name, q in sorted(self._queues.items())}
            tenants = {name: TenantStats(t.pending, t.running, t.completed, t.failed)
                       for name, t in sorted(self._tenants.items())
                       if t.pending or t.running or t.completed or t.failed}
            return Stats(at=now, queues=queues, workers=self._live_workers(now), tenants=tenants)

    def _queue_stats(self, q: _Queue, now: float) -> QueueStats:
        due = bisect.bisect_right(q.delayed, (now, float("inf"), ""))
        while q.ready and q.pending.get(q.ready[0][2]) != q.ready[0][1]:
            heapq.heappop(q.ready)
        oldest = max(0.0, now - q.ready[0][0]) if q.ready else 0.0
        self._prune_finished(q, now)
        c = q.counters
        return QueueStats(
            name=q.name,
            pending=dict(zip(PRIORITY_NAMES, q.by_priority, strict=True)),
            scheduled=len(q.delayed) - due,
            scheduled_due=due,
            running=len(q.running),
            dead=len(q.dead),
            completed=c["completed"], failed=c["failed"], retried=c["retried"],
            enqueued=c["enqueued"], cancelled=c["cancelled"], redelivered=c["redelivered"],
            oldest_pending_age=oldest,
            throughput_last_minute=len(q.finished),
            durations={t: DurationStats(int(n), lo, total / n, hi)
                       for t, (n, lo, total, hi) in sorted(q.durations.items())},
        )

    # -- workers and schedules ---------------------------------------------------------------
    async def register_worker(self, info: WorkerInfo) -> None:
        with self._lock:
            now = self.clock()
            self._workers[info.id] = (replace(info, last_heartbeat=now), now + self.settings.worker_ttl)

    async def unregister_worker(self, worker_id: str) -> None:
        with self._lock:
            self._workers.pop(worker_id, None)

    async def workers(self) -> list[WorkerInfo]:
        with self._lock:
            return self._live_workers(self.clock())

    def _live_workers(self, now: float) -> list[WorkerInfo]:
        for worker_id in [w for w, (_, expires) in self._workers.items() if expires <= now]:
            del self._workers[worker_id]
        return [info for _, (info, _) in sorted(self._workers.items())]

    async def claim_occurrence(self, key: str, ttl: float) -> bool:
        with self._lock:
            now = self.clock()
            expires = self._occurrences.get(key)
            if expires is not None and expires > now:
                return False
            self._occurrences[key] = now + ttl
            if len(self._occurrences) > self._occurrence_limit:  # forget expired keys now and then
                self._occurrences = {k: e for k, e in self._occurrences.items() if e > now}
                self._occurrence_limit = max(1024, 2 * len(self._occurrences))
            return True

    async def save_schedule(self, schedule: Schedule) -> None:
        with self._lock:
            self._schedules[schedule.name] = replace(schedule, args=_copy(schedule.args))

    async def schedules(self) -> list[Schedule]:
        with self._lock:
            return [self._schedules[name] for name in sorted(self._schedules)]

    async def delete_schedule(self, name: str) -> bool:
        with self._lock:
            return self._schedules.pop(name, None) is not None

    # -- lifecycle ---------------------------------------------------------------------------
    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None  # nothing to release; the data lives as long as the object

    # -- internals (call with the lock held) -------------------------------------------------
    def _get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(f"no job with id {job_id!r} (never enqueued, or purged by retention)")
        return job

    def _queue(self, name: str) -> _Queue:
        q = self._queues.get(name)
        if q is None:
            q = self._queues[name] = _Queue(name)
        return q

    def _tenant(self, name: str) -> _Tenant:
        t = self._tenants.get(name)
        if t is None:
            t = self._tenants[name] = _Tenant()
        return t

    def _put(self, old: Job | None, new: Job) -> None:
        """Store ``new`` and keep the per-priority and per-tenant gauges in step."""
        self._jobs[new.id] = new
        q = self._queues[new.queue]
        tenant = self._tenant(new.tenant) if new.tenant is not None else None
        if old is not None:
            if old.status is Status.PENDING:
                q.by_priority[old.priority] -= 1
                if tenant is not None:
                    tenant.pending -= 1
            elif old.status is Status.RUNNING and tenant is not None:
                tenant.running -= 1
        if new.status is Status.PENDING:
            q.by_priority[new.priority] += 1
            if tenant is not None:
                tenant.pending += 1
        elif new.status is Status.RUNNING and tenant is not None:
            tenant.running += 1

    def _push_pending(self, q: _Queue, job: Job, ready_since: float, *, new_place: bool) -> None:
        if new_place or job.id not in q.order:
            q.order[job.id] = priority_score(job.priority, next(self._seq))
        entry = next(self._seq)
        q.pending[job.id] = entry
        heapq.heappush(q.heap, (q.order[job.id], entry, job.id))
        heapq.heappush(q.ready, (ready_since, entry, job.id))
        if len(q.heap) > 2 * len(q.pending) + 1024:
            q.heap = [e for e in q.heap if q.pending.get(e[2]) == e[1]]
            heapq.heapify(q.heap)
        if len(q.ready) > 2 * len(q.pending) + 1024:
            q.ready = [e for e in q.ready if q.pending.get(e[2]) == e[1]]
            heapq.heapify(q.ready)

    def _push_delayed(self, q: _Queue, job: Job) -> None:
        assert job.run_at is not None
        key = (job.run_at, next(self._seq), job.id)
        q.delayed_key[job.id] = key
        bisect.insort(q.delayed, key)

    def _drop_delayed(self, q: _Queue, job_id: str) -> None:
        key = q.delayed_key.pop(job_id, None)
        if key is not None:
            del q.delayed[bisect.bisect_left(q.delayed, key)]

    def _promote(self, q: _Queue, now: float, limit: int | None) -> int:
        due = bisect.bisect_right(q.delayed, (now, float("inf"), ""))
        if limit is not None:
            due = min(due, max(0, limit))
        moved, q.delayed[:due] = q.delayed[:due], []
        for run_at, _, job_id in moved:
            del q.delayed_key[job_id]
            stored = self._jobs[job_id]
            ready = transition(stored, Status.PENDING)
            self._put(stored, ready)
            self._push_pending(q, ready, run_at, new_place=True)
        return len(moved)

    def _leave_running(self, q: _Queue, job: Job) -> None:
        q.running.pop(job.id, None)

    def _cancel_now(self, q: _Queue, stored: Job, now: float, error: JobError | None = None) -> Job:
        changes: dict[str, Any] = {"finished_at": now, "token": None, "lease_until": None,
                                   "cancel_requested": False}
        if error is not None:
            changes["error"] = error
        done = transition(stored, Status.CANCELLED, **changes)
        q.counters["cancelled"] += 1
        self._put(stored, done)
        self._release_unique(q, done)
        q.order.pop(done.id, None)
        q.cancelled[done.id] = now
        self._trim(q.cancelled, self.settings.completed_ttl, self.settings.completed_max, now)
        return done

    def _dead_letter(self, q: _Queue, stored: Job, error: JobError, reason: str, now: float) -> None:
        dead = transition(stored, Status.FAILED, error=error, dead_reason=reason, finished_at=now,
                          token=None, lease_until=None)
        q.counters["failed"] += 1
        if stored.tenant is not None:
            self._tenant(stored.tenant).failed += 1
        self._finished(q, now)
        self._put(stored, dead)
        self._release_unique(q, dead)
        q.order.pop(dead.id, None)
        q.dead[dead.id] = (next(self._seq), now)
        while len(q.dead) > self.settings.dead_max or (
                q.dead and next(iter(q.dead.values()))[1] < now - self.settings.dead_ttl):
            job_id, _ = q.dead.popitem(last=False)
            self._jobs.pop(job_id, None)

    def _trim(self, index: OrderedDict[str, float], ttl: float, cap: int, now: float) -> None:
        while index and (len(index) > cap or next(iter(index.values())) < now - ttl):
            job_id, _ = index.popitem(last=False)
            job = self._jobs.pop(job_id, None)
            if job is not None:
                self._queues[job.queue].order.pop(job_id, None)

    def _release_unique(self, q: _Queue, job: Job) -> None:
        if job.unique_key is not None and q.unique.get(job.unique_key) == job.id:
            del q.unique[job.unique_key]

    def _record_duration(self, q: _Queue, job_type: str, seconds: float) -> None:
        d = q.durations.get(job_type)
        if d is None:
            q.durations[job_type] = [1, seconds, seconds, seconds]
        else:
            d[0] += 1
            d[1] = min(d[1], seconds)
            d[2] += seconds
            d[3] = max(d[3], seconds)

    def _finished(self, q: _Queue, now: float) -> None:
        q.finished.append(now)
        self._prune_finished(q, now)

    def _prune_finished(self, q: _Queue, now: float) -> None:
        while q.finished and q.finished[0] <= now - THROUGHPUT_WINDOW:
            q.finished.popleft()
