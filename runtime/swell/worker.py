"""Worker: claims jobs from a store, runs their handlers with concurrency N, settles outcomes.

One asyncio task (the fetch loop) claims only as many jobs as the worker has free slots (no
prefetch hoarding, so priorities and the autoscaler's backlog stay truthful) and reports what
finished in batches: each store request settles every outcome collected since the last one and
claims for the free slots in one round trip (``Store.settle_and_claim``); while a backlog
streams in, two requests are in flight, each for at most half the slots (see ``_fetch_loop``).

Semantics (documented for users in the README):

* Lease renewal is the job of a heartbeat task of the worker, independent of job code: a
  CPU-bound sync handler running in a thread does not lose its lease. The heartbeat also learns
  of cancel requests and lost leases. Sync handlers cannot be interrupted: when cancelled, timed
  out or past the shutdown grace their thread runs on, but the result is discarded;
  ``ctx.cancel_requested`` lets long loops stop early.
* Timeout (``job.timeout``, else the handler's): an async handler is cancelled; a sync handler's
  result is discarded. The attempt then counts as failed with a ``TimeoutError`` error and is
  retried per the job's retry policy.
* Failure: ``PermanentError`` dead-letters at once; ``Retry(delay)`` retries after ``delay``
  (or the policy's delay) while retries remain; any other exception retries per the policy and
  dead-letters with reason "retries exhausted" once ``max_retries`` re-runs were spent. Unknown
  job types, args that fail the handler's model and tenants the resolver cannot resolve are
  dead-lettered without retry.
* Cancel: a running job whose cancel was requested is cancelled (async) or abandoned (sync)
  within about one heartbeat and recorded CANCELLED.
* Shutdown (``stop()``, SIGTERM or SIGINT): stop claiming, let running jobs finish within
  ``shutdown_grace`` seconds, then give the rest back to pending without counting the attempt.
  A second signal exits the process at once; the leases bring its jobs back.
* Store outage (``StoreUnavailable``): one log line, then capped exponential backoff; running
  jobs keep running and their outcomes are kept until the store is back. A watchdog restarts a
  fetch loop that made no progress for ``stall_timeout`` seconds. An outcome the store refuses
  (a result that is not JSON) dead-letters that job ("unstorable result"), not the batch.
* Pick-up latency: idle workers poll every ``poll_interval`` (backing off from 1 ms); jobs
  enqueued through the same App in the same process wake the worker at once, and so does any
  process's job on Redis (``RedisStore.wait_for_work``: the scripts publish on the queue's wake
  channel when a job becomes ready in an empty queue, or is promoted, released, reaped or
  replayed). Polling stays the fallback when pub/sub is unavailable.
* A lost lease (reaped, handed to another worker) cancels the attempt and drops its result.
* Crash recovery: every worker sweeps its queues each ``Settings.reap_interval`` (1 s). A job
  comes back when its lease (30 s) expires, or sooner when its worker registered and its
  heartbeat stood still for ``Settings.worker_dead_after`` (5 s): a SIGKILLed worker's jobs
  start again in about 6 s. So the event loop must not block that long (an async handler doing
  blocking work): its jobs would be handed to another worker. A graceful stop releases its
  jobs before unregistering, so nothing it gives back is counted as a redelivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import os
import random
import signal
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from swell.app import App
from swell.context import JobContext
from swell.errors import ArgsValidationError, StoreUnavailable
from swell.failure import (
    HandlerFailed,
    JobTimeout,
    cancelled_outcome,
    failure_outcome,
    unknown_type_outcome,
)
from swell.job import Job, JobError
from swell.registry import Handler, describe_validation_error, interpret_result
from swell.scheduler import Scheduler
from swell.stats import WorkerInfo
from swell.store.base import Outcome, OutcomeKind, completed_outcome
from swell.tenant import resolve_tenant
from swell.threadpool import ThreadPool

if TYPE_CHECKING:
    from swell.monitor.observer import JobObserver

log = logging.getLogger(__name__)

COMPLETE = OutcomeKind.COMPLETE
MIN_POLL = 0.001  # first idle wait; doubles up to poll_interval while queues stay empty
MAX_IN_FLIGHT = 2  # store requests in flight while a backlog streams in (see _fetch_loop)
HOT_WINDOW = 0.025  # seconds after the last claimed job during which idle waits stay at MIN_POLL

# Why the worker stopped an attempt itself (slot.stop).
_CANCELLED = "cancelled"
_LOST = "lost"
_SHUTDOWN = "shutdown"
_ABANDONED = "abandoned"  # ignored cancellation past the grace: reported for it, result dropped
ABANDON_AFTER = 5.0  # seconds past the grace a job may take to honour its cancellation


class _Slot:
    """One running attempt."""

    __slots__ = ("ctx", "handler", "job", "stop", "task")

    def __init__(self, job: Job, handler: Handler | None) -> None:
        self.job = job
        self.handler = handler
        self.task: asyncio.Task[None] | None = None
        self.ctx: JobContext | None = None
        self.stop: str | None = None


def ordered_queues(queues: Sequence[str], weights: Sequence[float] | None, rand: Callable[[], float]
                   ) -> list[str]:
    """Claim order for one iteration: as given (strict), or a weighted random permutation."""
    if weights is None:
        return list(queues)
    # Efraimidis-Spirakis: key = u ** (1 / w); sorting by key samples without replacement.
    keyed = [(rand() ** (1.0 / w) if w > 0 else -1.0, q) for q, w in zip(queues, weights, strict=True)]
    keyed.sort(reverse=True)
    return [q for _, q in keyed]


async def cancel_and_wait(tasks: Sequence[asyncio.Task[Any]]) -> None:
    """Cancel tasks and wait until they end, cancelling again those that swallowed it: redis-py
    (8.x) sometimes turns a cancellation that lands while a command is being sent into nothing,
    and the task would run on (a heartbeat loop forever, hanging the worker's exit)."""
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.2)


# -- the worker ----------------------------------------------------------------------------------
class Worker:
    """Runs the jobs of an App's queues.

    queues:             queues to serve; default: the queues of the registered handlers, or
                        ["default"] when there are none.
    concurrency:        how many jobs run at once (async tasks and sync threads together).
    weights:            None = strict order (a later queue is served only when the earlier ones
                        are empty), else one weight per queue for a weighted random order.
    shutdown_grace:     seconds running jobs get to finish after a stop request.
    heartbeat_interval: seconds between lease renewals / cancel checks / worker heartbeats
                        (capped at a third of the lease).
    poll_interval:      longest wait between claims while the queues are empty.
    max_backoff:        longest wait between retries while the store is unavailable.
    stall_timeout:      the watchdog restarts a fetch loop that made no progress this long.
    handle_signals:     install SIGTERM/SIGINT handlers while running (main thread only).
    scheduler:          run ``swell.scheduler.Scheduler`` (delayed jobs, retries, cron).
    observer:           told of every start, outcome, lost lease and reap (e.g. the Prometheus
                        ``swell.monitor.WorkerMetrics``); see ``swell.monitor.observer.JobObserver``.
    """

    def __init__(
        self,
        app: App,
        *,
        queues: Sequence[str] | None = None,
        concurrency: int = 10,
        weights: Sequence[float] | None = None,
        shutdown_grace: float = 25.0,
        heartbeat_interval: float = 1.0,
        poll_interval: float = 0.25,
        max_backoff: float = 5.0,
        stall_timeout: float = 30.0,
        handle_signals: bool = True,
        scheduler: bool = True,
        worker_id: str | None = None,
        observer: JobObserver | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.app = app
        self.store = app.store
        self.queues: list[str] = list(queues) if queues else (app.registry.queues() or ["default"])
        if weights is not None:
            if len(weights) != len(self.queues):
                raise ValueError("give one weight per queue")
            if any(w < 0 for w in weights) or not any(w > 0 for w in weights):
                raise ValueError("weights must be >= 0 and not all 0")
        self.weights = list(weights) if weights is not None else None
        self.concurrency = concurrency
        self.shutdown_grace = shutdown_grace
        lease = app.settings.lease
        self.heartbeat_interval = min(heartbeat_interval, lease / 3) if lease > 0 else heartbeat_interval
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.stall_timeout = stall_timeout
        self.abandon_after = ABANDON_AFTER
        self.handle_signals = handle_signals
        self.use_scheduler = scheduler
        self.observer = observer
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.pod = os.environ.get("POD_NAME") or self.host
        self.id = worker_id or f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self.processed = 0
        self.failed = 0
        self.started_at = 0.0
        self._running: dict[str, _Slot] = {}
        self._outcomes: list[Outcome] = []
        self._requests: set[asyncio.Task[int]] = set()  # store requests in flight (streaming mode)
        self._reserved = 0  # slots the requests in flight claim for
        self._streaming = False  # the last claim came back full: keep requests in flight
        self._handlers = app.registry  # looked up per claim: late registrations are seen
        self._random = random.Random()
        self._threads = ThreadPool(f"swell-{self.id[-8:]}")
        self._stop_requested = False
        self._signals = 0
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._no_resolver = True
        self._stopped: asyncio.Event | None = None
        self._fetch_task: asyncio.Task[None] | None = None
        self._restart_fetch = False
        self._loop_beat = 0.0
        self._outage_since: float | None = None
        self._backoff = 0.0
        self._retry_at = 0.0
        self._last_reap = 0.0
        self._stop_deadline: float | None = None

    # -- public ----------------------------------------------------------------------------------
    @property
    def running(self) -> list[Job]:
        return [slot.job for slot in self._running.values()]

    def stop(self) -> None:
        """Ask the worker to stop: no more claims; running jobs get ``shutdown_grace`` to finish."""
        self._stop_requested = True
        if self._stopped is not None and not self._stopped.is_set():
            self._stopped.set()
            self._stop_deadline = time.monotonic() + self.shutdown_grace
        if self._wake is not None:
            self._wake.set()

    async def run(self, burst: bool = False) -> None:
        """Run until ``stop()`` or a signal; with ``burst`` also return once the queues are
        empty (nothing pending or due) and nothing runs."""
        loop = self._loop = asyncio.get_running_loop()
        self._no_resolver = self.app.resolver is None
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        if self._stop_requested:
            self.stop()
        self.started_at = self.app.clock()
        self._loop_beat = time.monotonic()
        self.app.listen(self._wake)
        signals = self._install_signals(loop) if self.handle_signals else []
        log.info("worker %s serving %s with concurrency %d", self.id, ",".join(self.queues),
                 self.concurrency)
        background = [asyncio.create_task(self._heartbeat_loop(), name=f"swell-heartbeat-{self.id}")]
        if self.use_scheduler and not burst:  # burst mode promotes due jobs itself when idle
            scheduler = Scheduler(self.app, self.queues)
            background.append(asyncio.create_task(scheduler.run(self._stopped), name="swell-scheduler"))
        wait_for_work = getattr(self.store, "wait_for_work", None)
        if callable(wait_for_work) and not burst:
            background.append(asyncio.create_task(self._push_loop(wait_for_work), name="swell-push"))
        try:
            await self._supervise(burst)
        finally:
            await cancel_and_wait(background)
            for sig in signals:
                loop.remove_signal_handler(sig)
            self.app.unlisten(self._wake)
            self._threads.shutdown()
            with contextlib.suppress(Exception):
                await self.store.unregister_worker(self.id)
            log.info("worker %s stopped: %d processed, %d failed", self.id, self.processed, self.failed)

    # -- fetch loop ------------------------------------------------------------------------------
    async def _supervise(self, burst: bool) -> None:
        """Run the fetch loop; start a new one when the watchdog cancelled a stalled one."""
        while True:
            self._fetch_task = asyncio.create_task(self._fetch_loop(burst), name=f"swell-fetch-{self.id}")
            try:
                await asyncio.wait({self._fetch_task})
            except asyncio.CancelledError:
                await cancel_and_wait([self._fetch_task, *self._requests])
                await self._abandon_running()
                raise
            if self._fetch_task.cancelled() and self._restart_fetch:
                self._restart_fetch = False
                log.error("worker %s: fetch loop stalled for over %.0f s; restarted it",
                          self.id, self.stall_timeout)
                continue
            self._fetch_task.result()
            return

    async def _fetch_loop(self, burst: bool) -> None:
        """Claim, run, settle. Each store request settles what finished since the last one and
        claims for the free slots (``Store.settle_and_claim``: one round trip on Redis).

        While claims come back full (a backlog), up to two requests are in flight, each for at
        most half the slots: the store works on one while this process runs the jobs of the
        other. Claims never exceed the free slots (no prefetch: priorities and the autoscaler's
        backlog stay truthful). Otherwise (idle, stopping, an outage) one request at a time,
        waiting between empty claims (``poll_interval``, or a push from ``wait_for_work``).
        """
        assert self._wake is not None
        wake = self._wake
        idle_wait = MIN_POLL
        last_claim = 0.0
        tried_promote = False
        lane = max(1, (self.concurrency + 1) // 2)
        while True:
            self._loop_beat = time.monotonic()
            stopping = self._stop_requested
            store_ok = self._outage_since is None or self._loop_beat >= self._retry_at
            if self._streaming and store_ok and not stopping:
                while len(self._requests) < MAX_IN_FLIGHT:
                    n = min(lane, self.concurrency - len(self._running) - self._reserved)
                    if n <= 0:
                        break
                    self._send(n)
                if not wake.is_set():
                    if self._requests:  # one of them ends (a reply, or the store's timeout) and wakes us
                        await wake.wait()
                    else:
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(1.0):
                                await wake.wait()
                wake.clear()
                continue
            if self._requests:  # leaving the streaming mode: let the requests in flight land
                await asyncio.wait(self._requests)
                continue
            free = self.concurrency - len(self._running)
            n = free if store_ok and not stopping else 0
            claimed = 0
            if store_ok and (n > 0 or self._outcomes):
                self._reserved += n
                try:
                    claimed = await self._request(n)
                finally:
                    self._reserved -= n
            if stopping:
                if not self._running and not self._outcomes:
                    return
                self._enforce_grace()
                if self._outcomes and self._past_final_deadline():
                    log.warning("worker %s: the store is unavailable; %d outcomes not saved, "
                                "their leases will bring the jobs back", self.id, len(self._outcomes))
                    self._outcomes.clear()
                    if not self._running:
                        return
            elif claimed > 0:
                idle_wait = MIN_POLL
                last_claim = time.monotonic()
                tried_promote = False
                if claimed < free:
                    continue  # more may have arrived meanwhile; the next claim finds out
            elif burst and not self._running and not self._outcomes and self._outage_since is None:
                if tried_promote:
                    return
                tried_promote = True  # due jobs may be waiting for a promotion
                await self._promote_due()
                continue
            # Wait for a finished job, a new job (same process) or a stop, at most `timeout`.
            if self._outage_since is not None:
                timeout = max(0.0, self._retry_at - time.monotonic())
            elif stopping:
                timeout = 0.05
            elif free - claimed > 0:
                timeout = idle_wait
                # Poll fast for a moment after the last job (jobs come in bursts), then back off.
                if time.monotonic() - last_claim > HOT_WINDOW:
                    idle_wait = min(idle_wait * 2, self.poll_interval)
            else:
                timeout = 1.0  # all slots busy: a finishing job wakes us
            if not wake.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await wake.wait()
            wake.clear()

    def _send(self, n: int) -> None:
        """Start a request for n slots without waiting for it (the streaming mode)."""
        assert self._loop is not None
        self._reserved += n  # now: the loop may send another request before this one starts
        task = self._loop.create_task(self._request(n))
        self._requests.add(task)
        task.add_done_callback(functools.partial(self._request_done, n))

    def _request_done(self, n: int, task: asyncio.Task[int]) -> None:
        self._reserved -= n  # here, not in _request: a task cancelled before it ran ends too
        self._requests.discard(task)
        if self._wake is not None:
            self._wake.set()

    async def _request(self, n: int) -> int:
        """Settle every outcome collected so far and claim up to n jobs (the jobs start at
        once); returns how many were claimed. Sets the streaming mode when the claim was full.
        The caller reserves the n slots (``_reserved``) for the time the request is out."""
        batch, self._outcomes = self._outcomes, []
        queues = [] if n <= 0 else (
            self.queues if self.weights is None and len(self.queues) == 1
            else ordered_queues(self.queues, self.weights, self._random.random))
        claimed = 0
        if queues:
            try:
                results, jobs = await self.store.settle_and_claim(batch, queues[0], self.id, n)
            except StoreUnavailable as exc:
                self._outcomes[:0] = batch  # kept until the store is back
                self._store_failed("claim", exc)
                self._streaming = False
                return 0
            except asyncio.CancelledError:
                self._outcomes[:0] = batch  # unknown whether applied: settling again is harmless
                raise
            except Exception as exc:
                # Not an outage: maybe an outcome the store refuses (a result it cannot encode).
                log.error("worker %s: settling %d outcomes and claiming failed; settling them one "
                          "by one, then claiming alone", self.id, len(batch), exc_info=exc)
                await self._settle_each(batch)
                results, jobs = [], []
                queues = [queues[0], *queues]  # claim from it again, alone
            self._store_ok()
            self._settled(batch, results)
            claimed = self._start_all(jobs)
            for queue in queues[1:]:
                if claimed >= n:
                    break
                try:
                    jobs = await self.store.claim(queue, self.id, n - claimed)
                except Exception as exc:
                    self._store_failed("claim", exc)
                    break
                self._store_ok()
                claimed += self._start_all(jobs)
        elif batch:
            await self._settle(batch)
        self._streaming = n > 0 and claimed >= n and not self._stop_requested
        return claimed

    def _start_all(self, jobs: list[Job]) -> int:
        for job in jobs:
            self._start(job)
        return len(jobs)

    def _start(self, job: Job) -> None:
        slot = _Slot(job, self._handlers.get(job.type))
        self._running[job.id] = slot
        if self.observer is not None:
            self._observe("on_start", job)
        loop = self._loop
        assert loop is not None  # set by run()
        slot.task = loop.create_task(self._execute(slot), name=job.id)  # (a name is cheaper than a counter)

    async def _settle(self, batch: list[Outcome]) -> None:
        try:
            results = await self.store.settle(batch)
        except asyncio.CancelledError:
            self._outcomes[:0] = batch  # unknown whether applied: settling again is harmless
            raise
        except StoreUnavailable as exc:
            self._outcomes[:0] = batch  # kept until the store is back
            self._store_failed("settle", exc)
            return
        except Exception as exc:
            # Not an outage: maybe one outcome the store refuses (a result it cannot encode).
            # Settle one by one so a bad outcome cannot hold the others back forever.
            log.error("worker %s: settling %d outcomes failed; settling them one by one", self.id,
                      len(batch), exc_info=exc)
            await self._settle_each(batch)
            return
        self._store_ok()
        self._settled(batch, results)

    async def _settle_each(self, batch: list[Outcome]) -> None:
        results = [await self._settle_alone(outcome) for outcome in batch]
        self._store_ok()
        self._settled(batch, results)

    def _settled(self, batch: list[Outcome], results: list[bool]) -> None:
        lost = 0
        for outcome, ok in zip(batch, results, strict=False):
            if not ok:
                lost += 1
            elif outcome.kind is COMPLETE:
                self.processed += 1
            elif outcome.kind is OutcomeKind.FAIL:
                self.failed += 1
                self.processed += 1
        if lost:
            log.info("worker %s: %d outcomes not applied (lease lost to another worker)", self.id, lost)

    async def _settle_alone(self, outcome: Outcome) -> bool:
        try:
            return (await self.store.settle([outcome]))[0]
        except StoreUnavailable:
            self._outcomes.append(outcome)
            return False
        except Exception as exc:
            if outcome.kind is not COMPLETE:
                log.error("worker %s: job %s: outcome %s cannot be stored (%s); the lease will bring "
                          "the job back", self.id, outcome.job.id, outcome.kind.value, exc)
                return False
            problem = str(exc)
        # A result the store cannot take fails the job rather than vanishing.
        error = JobError("UnstorableResult", f"the job's result could not be stored: {problem}")
        failed = Outcome(outcome.job, OutcomeKind.FAIL, error=error, reason="unstorable result",
                         duration=outcome.duration)
        return await self._settle_alone(failed)

    # -- one attempt -----------------------------------------------------------------------------
    async def _execute(self, slot: _Slot) -> None:
        job = slot.job
        handler = slot.handler
        started = time.perf_counter()
        outcome: Outcome | None
        try:
            if handler is None:
                outcome = unknown_type_outcome(job)
            else:
                if handler.direct and job.timeout is None and (job.tenant is None or self._no_resolver):
                    value = await handler.fn(job.args)  # the common case, without the extra coroutine
                else:
                    value = await self._invoke(slot, handler)
                if type(value) is dict and ("success" in value or "success?" in value):
                    ok, value, error = interpret_result(value)
                    if not ok:
                        raise HandlerFailed(error)
                outcome = completed_outcome(job, value, time.perf_counter() - started)
        except asyncio.CancelledError:
            reason = slot.stop
            duration = time.perf_counter() - started
            if reason == _LOST:
                outcome = None  # someone else holds the job now: nothing to report
            elif reason == _CANCELLED:
                outcome = cancelled_outcome(job, duration)
            else:  # shutdown (or the loop is being torn down): back to pending, attempt not counted
                outcome = Outcome(job, OutcomeKind.RELEASE, duration=duration)
        except Exception as exc:
            if slot.stop == _LOST:
                outcome = None
            else:
                outcome = failure_outcome(job, exc, time.perf_counter() - started, self._random.random())
                if outcome.kind is OutcomeKind.RETRY:
                    log.info("job %s (%s) attempt %d failed: %s; retry in %.1fs", job.id, job.type,
                             job.attempts, outcome.error.message if outcome.error else "", outcome.delay)
                else:
                    log.warning("job %s (%s) dead-lettered (%s): %s", job.id, job.type, outcome.reason,
                                outcome.error.message if outcome.error else "")
        finally:
            self._running.pop(job.id, None)
        if slot.stop == _ABANDONED:
            return
        if outcome is None:
            if self.observer is not None:
                self._observe("on_lost", job)
            return
        self._outcomes.append(outcome)
        if self.observer is not None:
            self._observe("on_outcome", outcome)
        wake = self._wake
        if wake is not None and not wake.is_set():
            wake.set()

    def _observe(self, hook: str, *args: Any) -> None:
        try:
            getattr(self.observer, hook)(*args)
        except Exception:  # metrics must never break job processing
            log.debug("observer %s failed", hook, exc_info=True)

    async def _invoke(self, slot: _Slot, handler: Handler) -> Any:
        job = slot.job
        args = job.args
        if handler.model is not None:
            try:
                args = handler.parse(args)
            except Exception as exc:
                detail = describe_validation_error(exc) if isinstance(exc, ValidationError) else str(exc)
                raise ArgsValidationError(f"args of job {job.type!r} are invalid: {detail}") from exc
        ctx = None
        if handler.arity == 2 or (job.tenant is not None and self.app.resolver is not None):
            tenant = await resolve_tenant(self.app.resolver, job.tenant)
            ctx = slot.ctx = JobContext(job, tenant, self.id, self.app)
        call_args: tuple[Any, ...] = (args, ctx)[: handler.arity]
        timeout = job.timeout or handler.timeout
        if handler.is_async:
            if timeout is None:
                return await handler.fn(*call_args)
            cm = asyncio.timeout(timeout)
            try:
                async with cm:
                    return await handler.fn(*call_args)
            except TimeoutError:
                if cm.expired():
                    raise JobTimeout(f"job timed out after {timeout:g} s") from None
                raise
        fut = self._threads.submit(handler.fn, *call_args)
        cm = asyncio.timeout(timeout)
        try:
            async with cm:
                value = await fut
        except TimeoutError:
            if cm.expired():
                if ctx is not None:
                    ctx.cancel_requested = True
                raise JobTimeout(f"job timed out after {timeout:g} s (its thread was abandoned)") from None
            raise
        if inspect.isawaitable(value):  # a sync callable that returned a coroutine
            value = await value
        return value

    def _stop_slot(self, slot: _Slot, reason: str) -> None:
        if slot.stop is not None:
            return
        slot.stop = reason
        if slot.ctx is not None:
            slot.ctx.cancel_requested = True
        if slot.task is not None:
            slot.task.cancel()

    # -- shutdown --------------------------------------------------------------------------------
    def _enforce_grace(self) -> None:
        if self._stop_deadline is None or time.monotonic() < self._stop_deadline:
            return
        pending = [slot for slot in self._running.values() if slot.stop is None]
        if pending:
            log.warning("worker %s: %d jobs still running after %.0f s grace; giving them back",
                        self.id, len(pending), self.shutdown_grace)
        for slot in pending:
            self._stop_slot(slot, _SHUTDOWN)
        if time.monotonic() < self._stop_deadline + self.abandon_after:
            return
        for slot in list(self._running.values()):
            # An async handler that swallows CancelledError: report for it and stop waiting.
            log.error("worker %s: job %s ignores cancellation; abandoning it", self.id, slot.job.id)
            outcome: Outcome | None = None
            if slot.stop == _CANCELLED:
                outcome = cancelled_outcome(slot.job, None)
            elif slot.stop != _LOST:
                outcome = Outcome(slot.job, OutcomeKind.RELEASE)
            if outcome is not None:
                self._outcomes.append(outcome)
                if self.observer is not None:
                    self._observe("on_outcome", outcome)
            slot.stop = _ABANDONED
            del self._running[slot.job.id]

    def _past_final_deadline(self) -> bool:
        return (self._stop_deadline is not None and self._outage_since is not None
                and time.monotonic() > self._stop_deadline + max(5.0, self.max_backoff))

    async def _abandon_running(self) -> None:
        """run() itself was cancelled: release what runs, best effort."""
        slots = list(self._running.values())
        for slot in slots:
            self._stop_slot(slot, _SHUTDOWN)
        await asyncio.gather(*(s.task for s in slots if s.task is not None), return_exceptions=True)
        if self._outcomes:
            with contextlib.suppress(Exception):
                await self.store.settle(self._outcomes)
            self._outcomes.clear()

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> list[signal.Signals]:
        if threading.current_thread() is not threading.main_thread():
            return []
        installed = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError, ValueError):
                continue
            installed.append(sig)
        return installed

    def _on_signal(self, sig: signal.Signals) -> None:
        self._signals += 1
        if self._signals > 1:
            log.warning("worker %s: second %s, exiting now; running jobs come back when their "
                        "leases expire", self.id, sig.name)
            logging.shutdown()
            os._exit(1)
        log.info("worker %s: %s received, finishing running jobs (grace %.0f s); send it again "
                 "to exit at once", self.id, sig.name, self.shutdown_grace)
        self.stop()

    # -- heartbeat, reaper, promotion ------------------------------------------------------------
    async def _heartbeat_loop(self) -> None:
        while True:
            try:
                # A store call hanging on a dead connection must not stop the watchdog below.
                async with asyncio.timeout(max(1.0, self.app.settings.lease / 2)):
                    await self._heartbeat()
            except TimeoutError:
                self._store_failed("heartbeat", StoreUnavailable("the heartbeat timed out"))
            except Exception as exc:
                self._store_failed("heartbeat", exc)
            self._watchdog()
            await asyncio.sleep(self.heartbeat_interval)

    async def _heartbeat(self) -> None:
        by_queue: dict[str, dict[str, str]] = {}
        for slot in self._running.values():
            if slot.stop is None and slot.job.token is not None:
                by_queue.setdefault(slot.job.queue, {})[slot.job.id] = slot.job.token
        for queue, tokens in by_queue.items():
            report = await self.store.extend_leases(queue, tokens)
            for job_id in report.lost:
                lost = self._running.get(job_id)
                if lost is not None:
                    log.warning("job %s: lease lost (another worker may run it); its result will be "
                                "dropped", job_id)
                    self._stop_slot(lost, _LOST)
            for job_id in report.cancel_requested:
                cancelled = self._running.get(job_id)
                if cancelled is not None:
                    log.info("job %s: cancel requested, stopping it", job_id)
                    self._stop_slot(cancelled, _CANCELLED)
        await self.store.register_worker(self.info())
        self._store_ok()
        now = time.monotonic()
        if now - self._last_reap >= self.app.settings.reap_interval:
            self._last_reap = now
            for queue in self.queues:
                reaped = await self.store.reap_expired(queue)
                if self.observer is not None:
                    self._observe("on_reap", queue, reaped)
                if reaped.requeued or reaped.dead:
                    log.info("queue %s: %d expired leases requeued, %d dead-lettered as poison",
                             queue, len(reaped.requeued), len(reaped.dead))
                    if self._wake is not None:
                        self._wake.set()

    def info(self) -> WorkerInfo:
        return WorkerInfo(
            id=self.id, host=self.host, pid=self.pid, queues=tuple(self.queues),
            concurrency=self.concurrency, running=tuple(self._running), processed=self.processed,
            failed=self.failed, started_at=self.started_at, last_heartbeat=self.app.clock(),
            pod=self.pod,
        )

    def _watchdog(self) -> None:
        task = self._fetch_task
        if task is None or task.done() or self._restart_fetch:
            return
        if time.monotonic() - self._loop_beat > self.stall_timeout:
            self._restart_fetch = True
            task.cancel()

    async def _push_loop(self, wait_for_work: Callable[[Sequence[str], float], Awaitable[bool]]
                         ) -> None:
        """Wake the fetch loop as soon as the store says work arrived (no polling delay).

        Optional store method ``wait_for_work(queues, timeout) -> bool``: True once a job may
        have become claimable in one of ``queues`` (e.g. Redis pub/sub from the enqueue script),
        False after ``timeout`` seconds. Polling stays the fallback, so a missed push only delays.
        """
        while True:
            try:
                if await wait_for_work(self.queues, 1.0) and self._wake is not None:
                    self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # an outage: the fetch loop reports and backs off
                await asyncio.sleep(max(self._backoff, 0.5))

    async def _promote_due(self) -> None:
        try:
            promoted = 0
            for queue in self.queues:
                promoted += await self.store.promote_due(queue)
        except Exception as exc:
            self._store_failed("promote", exc)
            return
        if promoted and self._wake is not None:
            self._wake.set()

    # -- store outages ---------------------------------------------------------------------------
    def _store_failed(self, what: str, exc: BaseException) -> None:
        now = time.monotonic()
        if self._outage_since is None:
            self._outage_since = now
            self._backoff = 0.1
            if isinstance(exc, StoreUnavailable):
                log.warning("worker %s: store unavailable (%s during %s); running jobs continue, "
                            "retrying with backoff up to %g s", self.id, exc, what, self.max_backoff)
            else:
                log.error("worker %s: store error during %s; retrying with backoff", self.id, what,
                          exc_info=exc)
        else:
            self._backoff = min(self._backoff * 2, self.max_backoff)
        self._retry_at = now + self._backoff

    def _store_ok(self) -> None:
        if self._outage_since is not None:
            log.warning("worker %s: store reachable again after %.1f s; resuming", self.id,
                        time.monotonic() - self._outage_since)
            self._outage_since = None
            self._backoff = 0.0
            if self._wake is not None:
                self._wake.set()
