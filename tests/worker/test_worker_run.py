"""The worker loop against every Store: handlers, order, delays, retries, DLQ, cancel, timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Any

import pytest
from pydantic import BaseModel
from worker_support import AppFactory, running_worker, wait_for, wait_status

from swell import worker as worker_module
from swell.app import App
from swell.clock import ManualClock
from swell.context import JobContext
from swell.errors import PermanentError, Retry
from swell.job import Job, Status
from swell.retry import RetryPolicy
from swell.store.base import Outcome, ReapReport
from swell.worker import Worker

NO_JITTER = RetryPolicy(initial=1.0, factor=2.0, jitter=0.0)


async def burst(app: App, **options: Any) -> Worker:
    worker = Worker(app, handle_signals=False, **options)
    await asyncio.wait_for(worker.run(burst=True), 30)
    return worker


class Add(BaseModel):
    a: int
    b: int


async def test_async_and_sync_handlers_with_model_and_context(app: App) -> None:
    seen: dict[str, Any] = {}

    @app.job(model=Add)
    async def add(args: Add) -> int:
        return args.a + args.b

    @app.job()
    def sync_ctx(args: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
        seen["thread"] = threading.current_thread().name
        seen["attempt"] = ctx.attempt
        ctx.logger.info("running")
        return {"job": ctx.job.id, "x": args["x"]}

    @app.job()
    def no_args() -> str:
        return "ok"

    a = await app.enqueue("add", {"a": 2, "b": 3})
    s = await app.enqueue("sync_ctx", {"x": [1, 2]})
    n = await app.enqueue("no_args")
    worker = await burst(app)
    assert (await app.get(a.id)).result == 5
    done = await app.get(s.id)
    assert done.status is Status.COMPLETED and done.result == {"job": s.id, "x": [1, 2]}
    assert seen["attempt"] == 1 and seen["thread"] != threading.main_thread().name
    assert (await app.get(n.id)).result == "ok"
    assert worker.processed == 3 and worker.failed == 0


async def test_priority_order_through_the_worker(app: App) -> None:
    order: list[str] = []

    @app.job()
    async def record(args: dict[str, Any]) -> None:
        order.append(args["name"])

    for prio in ("low", "normal", "high", "critical", "normal", "low"):
        await app.enqueue("record", {"name": prio}, priority=prio)
    await burst(app, concurrency=1)
    assert order == ["critical", "high", "normal", "normal", "low", "low"]


async def test_strict_queue_order(app: App) -> None:
    order: list[str] = []

    @app.job()
    async def record(args: dict[str, Any]) -> None:
        order.append(args["q"])

    for q in ("bulk", "urgent", "bulk", "urgent"):
        await app.enqueue("record", {"q": q}, queue=q)
    await burst(app, queues=["urgent", "bulk"], concurrency=1)
    assert order == ["urgent", "urgent", "bulk", "bulk"]


async def test_delayed_job_runs_when_due(make_app: AppFactory) -> None:
    clock = ManualClock()
    app = await make_app(clock=clock)
    ran: list[int] = []
    app.register("later", lambda args: ran.append(1))
    job = await app.enqueue("later", delay=30)
    assert job.status is Status.SCHEDULED
    await burst(app)
    assert ran == [] and (await app.get(job.id)).status is Status.SCHEDULED
    clock.advance(30)
    await burst(app)
    assert ran == [1] and (await app.get(job.id)).status is Status.COMPLETED


async def test_retries_follow_the_configured_backoff(make_app: AppFactory) -> None:
    clock = ManualClock()
    app = await make_app(clock=clock)
    attempts: list[int] = []

    @app.job(max_retries=3, retry_policy=NO_JITTER)
    async def flaky(args: dict[str, Any], ctx: JobContext) -> str:
        attempts.append(ctx.attempt)
        if ctx.attempt < 4:
            raise ConnectionError(f"down #{ctx.attempt}")
        return "finally"

    job = await app.enqueue("flaky")
    for expected_delay in (1.0, 2.0, 4.0):
        await burst(app)
        retrying = await app.get(job.id)
        assert retrying.status is Status.RETRYING
        assert retrying.run_at == pytest.approx(clock() + expected_delay)
        assert retrying.error is not None and retrying.error.type == "ConnectionError"
        clock.advance(expected_delay - 0.01)
        await burst(app)  # not due yet
        assert (await app.get(job.id)).status is Status.RETRYING
        clock.advance(0.01)
    await burst(app)
    done = await app.get(job.id)
    assert done.status is Status.COMPLETED and done.result == "finally" and attempts == [1, 2, 3, 4]


async def test_retries_exhausted_go_to_the_dead_letter_queue_and_replay(make_app: AppFactory) -> None:
    clock = ManualClock()
    app = await make_app(clock=clock)
    fail = True

    @app.job(max_retries=1, retry_policy=NO_JITTER)
    async def fragile(args: dict[str, Any]) -> str:
        if fail:
            raise ValueError("broken input")
        return "fixed"

    job = await app.enqueue("fragile")
    await burst(app)
    clock.advance(1)
    await burst(app)
    dead = await app.get(job.id)
    assert dead.status is Status.FAILED and dead.attempts == 2 and dead.dead_reason == "retries exhausted"
    assert dead.error is not None and "ValueError: broken input" in (dead.error.traceback or "")
    assert [j.id for j in await app.store.dead()] == [job.id]
    fail = False
    await app.replay(job.id)
    await burst(app)
    assert (await app.get(job.id)).result == "fixed"


async def test_retry_with_delay_and_permanent_error(make_app: AppFactory) -> None:
    clock = ManualClock()
    app = await make_app(clock=clock)

    @app.job(max_retries=5)
    async def later(args: dict[str, Any]) -> None:
        raise Retry(delay=42, reason="rate limited")

    @app.job(max_retries=5)
    def hopeless(args: dict[str, Any]) -> None:
        raise PermanentError("account closed")

    r = await app.enqueue("later")
    p = await app.enqueue("hopeless")
    await burst(app)
    retrying = await app.get(r.id)
    assert retrying.status is Status.RETRYING and retrying.run_at == pytest.approx(clock() + 42)
    failed = await app.get(p.id)
    assert failed.status is Status.FAILED and failed.attempts == 1
    assert failed.dead_reason == "permanent error" and failed.error is not None
    assert (failed.error.type, failed.error.message) == ("PermanentError", "account closed")


async def test_seed_return_shape(make_app: AppFactory) -> None:
    clock = ManualClock()
    app = await make_app(clock=clock)

    @app.job()
    def ok(args: dict[str, Any]) -> dict[str, Any]:
        return {"success": True, "result": {"processed": args["id"]}}

    @app.job(max_retries=1, retry_policy=NO_JITTER)
    def bad(args: dict[str, Any]) -> dict[str, Any]:
        return {"success": False, "error": {"message": "Processing failed", "type": "ProcessingError"}}

    o = await app.enqueue("ok", {"id": 7})
    b = await app.enqueue("bad")
    await burst(app)
    assert (await app.get(o.id)).result == {"processed": 7}
    retrying = await app.get(b.id)
    assert retrying.status is Status.RETRYING and retrying.error is not None
    assert (retrying.error.type, retrying.error.message) == ("ProcessingError", "Processing failed")
    clock.advance(1)
    await burst(app)
    assert (await app.get(b.id)).status is Status.FAILED


async def test_unknown_type_is_dead_lettered_with_a_clear_error(app: App) -> None:
    job = await app.enqueue("send_sms", {"to": "+1"})
    worker = await burst(app)
    dead = await app.get(job.id)
    assert dead.status is Status.FAILED and dead.attempts == 1
    assert dead.error is not None and dead.error.message == "no handler registered for job type 'send_sms'"
    assert worker.failed == 1
    app.register("send_sms", lambda args: "sent")
    await app.replay(job.id)
    await burst(app)
    assert (await app.get(job.id)).result == "sent"


async def test_invalid_stored_args_are_dead_lettered(app: App) -> None:
    job = await app.enqueue("add", {"a": "x"})  # enqueued by a producer without the model
    app.register("add", lambda args: args.a + args.b, model=Add)
    await burst(app)
    dead = await app.get(job.id)
    assert dead.status is Status.FAILED and dead.dead_reason == "invalid args"
    assert dead.error is not None and "a: input should be a valid integer" in dead.error.message


async def test_tenants(app: App) -> None:
    tenants = {"acme": {"schema": "tenant_acme"}}

    @app.tenant_resolver
    async def resolve(tenant: str) -> Any:
        if tenant == "broken":
            raise LookupError("tenant database unreachable")
        return tenants.get(tenant)

    @app.job()
    async def which(args: dict[str, Any], ctx: JobContext) -> Any:
        return {"tenant": ctx.tenant_id, "context": ctx.tenant}

    good = await app.enqueue("which", tenant="acme")
    missing = await app.enqueue("which", tenant="ghost")
    broken = await app.enqueue("which", tenant="broken")
    plain = await app.enqueue("which")
    await burst(app)
    assert (await app.get(good.id)).result == {"tenant": "acme", "context": {"schema": "tenant_acme"}}
    assert (await app.get(plain.id)).result == {"tenant": None, "context": None}
    for job_id, detail in ((missing.id, "the resolver returned None"), (broken.id, "unreachable")):
        dead = await app.get(job_id)
        assert dead.status is Status.FAILED and dead.attempts == 1  # no retry, no fallback
        assert dead.dead_reason == "tenant not resolved"
        assert dead.error is not None and dead.error.type == "TenantNotResolved"
        assert detail in dead.error.message


async def test_sync_tenant_resolver(app: App) -> None:
    app.tenant_resolver(lambda tenant: {"id": tenant} if tenant != "none" else None)
    app.register("ctx", lambda args, ctx: ctx.tenant)
    ok = await app.enqueue("ctx", tenant="t1")
    nope = await app.enqueue("ctx", tenant="none")
    await burst(app)
    assert (await app.get(ok.id)).result == {"id": "t1"}
    assert (await app.get(nope.id)).status is Status.FAILED


async def test_cancel_queued_job_never_runs(app: App) -> None:
    ran: list[int] = []
    app.register("x", lambda args: ran.append(1))
    job = await app.enqueue("x")
    assert (await app.cancel(job.id)).status is Status.CANCELLED
    await burst(app)
    assert ran == [] and (await app.get(job.id)).status is Status.CANCELLED


async def test_cancel_running_async_job_within_a_second(app: App) -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    @app.job()
    async def forever(args: dict[str, Any]) -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    job = await app.enqueue("forever")
    async with running_worker(app):  # default 1 s heartbeat
        await asyncio.wait_for(started.wait(), 15)
        await app.cancel(job.id)
        t0 = time.monotonic()
        await asyncio.wait_for(cancelled.wait(), 15)
        noticed = time.monotonic() - t0
        final = await wait_status(app, job.id, Status.CANCELLED)
    assert noticed < 5.0  # about one heartbeat (the lease is 30 s), with slack for a loaded machine
    assert final.status is Status.CANCELLED


async def test_cancel_running_sync_job(app: App) -> None:
    started = threading.Event()
    stopped_early = threading.Event()

    @app.job()
    def loop(args: dict[str, Any], ctx: JobContext) -> str:
        started.set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if ctx.cancel_requested:
                stopped_early.set()
                return "stopped"
            time.sleep(0.01)
        return "finished"

    job = await app.enqueue("loop")
    async with running_worker(app, heartbeat_interval=0.2):
        await asyncio.to_thread(started.wait, 15)
        await app.cancel(job.id)
        final = await wait_status(app, job.id, Status.CANCELLED)
        await asyncio.to_thread(stopped_early.wait, 15)
    assert final.result is None  # the late result was discarded


async def test_async_timeout(make_app: AppFactory) -> None:
    app = await make_app()

    @app.job(timeout=0.2, max_retries=0)
    async def slow(args: dict[str, Any]) -> None:
        await asyncio.sleep(30)

    @app.job(max_retries=2)
    async def slow_per_job(args: dict[str, Any]) -> None:
        await asyncio.sleep(30)

    a = await app.enqueue("slow")
    b = await app.enqueue("slow_per_job", timeout=0.2)
    t0 = time.monotonic()
    await burst(app)
    assert time.monotonic() - t0 < 10
    dead = await app.get(a.id)
    assert dead.status is Status.FAILED and dead.dead_reason == "retries exhausted"
    assert dead.error is not None and dead.error.type == "TimeoutError"
    retrying = await app.get(b.id)
    assert retrying.status is Status.RETRYING and retrying.error is not None
    assert retrying.error.type == "TimeoutError" and "0.2 s" in retrying.error.message


async def test_sync_timeout_discards_the_result(app: App) -> None:
    release = threading.Event()
    finished = threading.Event()

    @app.job(timeout=0.2, max_retries=0)
    def stuck(args: dict[str, Any]) -> str:
        release.wait(20)
        finished.set()
        return "late"

    job = await app.enqueue("stuck")
    await burst(app)
    dead = await app.get(job.id)
    assert dead.status is Status.FAILED and dead.error is not None and dead.error.type == "TimeoutError"
    release.set()
    await asyncio.to_thread(finished.wait, 15)
    assert (await app.get(job.id)).result is None


async def test_graceful_stop_lets_running_jobs_finish(app: App) -> None:
    started = asyncio.Event()

    @app.job()
    async def short(args: dict[str, Any]) -> str:
        started.set()
        await asyncio.sleep(0.3)
        return "done"

    job = await app.enqueue("short")
    waiting = await app.enqueue("short")
    worker = Worker(app, concurrency=1, handle_signals=False, shutdown_grace=20)
    task = asyncio.create_task(worker.run())
    await asyncio.wait_for(started.wait(), 15)
    worker.stop()
    await asyncio.wait_for(task, 20)
    assert (await app.get(job.id)).status is Status.COMPLETED
    assert (await app.get(waiting.id)).status is Status.PENDING  # not claimed after the stop


async def test_jobs_past_the_grace_go_back_to_pending(app: App) -> None:
    started = asyncio.Event()
    sync_started = threading.Event()

    @app.job()
    async def long_async(args: dict[str, Any]) -> None:
        started.set()
        await asyncio.sleep(3600)

    @app.job()
    def long_sync(args: dict[str, Any], ctx: JobContext) -> None:
        sync_started.set()
        while not ctx.cancel_requested:
            time.sleep(0.01)

    a = await app.enqueue("long_async")
    s = await app.enqueue("long_sync")
    worker = Worker(app, handle_signals=False, shutdown_grace=0.3)
    task = asyncio.create_task(worker.run())
    await asyncio.wait_for(started.wait(), 15)
    await asyncio.to_thread(sync_started.wait, 15)
    worker.stop()
    await asyncio.wait_for(task, 20)
    for job_id in (a.id, s.id):
        back = await app.get(job_id)
        assert back.status is Status.PENDING and back.attempts == 0  # the attempt is not counted


async def test_worker_publishes_heartbeats_and_unregisters(app: App) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    @app.job(queue="q1")
    async def hold(args: dict[str, Any]) -> None:
        started.set()
        await release.wait()

    job = await app.enqueue("hold")
    async with running_worker(app, concurrency=3, heartbeat_interval=0.1) as worker:
        await asyncio.wait_for(started.wait(), 15)

        async def published() -> bool:
            return any(job.id in w.running for w in await app.store.workers())

        await wait_for(published)
        info = next(w for w in await app.store.workers() if w.id == worker.id)
        assert info.queues == ("q1",) and info.concurrency == 3 and info.pid > 0 and info.pod
        release.set()
        await wait_status(app, job.id, Status.COMPLETED)
    assert all(w.id != worker.id for w in await app.store.workers())


async def test_cpu_bound_sync_job_keeps_its_lease(make_app: AppFactory) -> None:
    app = await make_app(lease=2.0, reap_interval=0.1)
    runs: list[int] = []

    @app.job()
    def crunch(args: dict[str, Any]) -> int:
        runs.append(1)
        deadline = time.monotonic() + 4.5  # over 2 leases of pure CPU, GIL held in bytecode
        n = 0
        while time.monotonic() < deadline:
            n += sum(range(1000))
        return n

    job = await app.enqueue("crunch")
    other = Worker(app, handle_signals=False)  # a second, idle worker reaping the same store
    other_task = asyncio.create_task(other.run())
    try:
        await burst(app)
    finally:
        other.stop()
        await asyncio.wait_for(other_task, 20)
    done = await app.get(job.id)
    assert done.status is Status.COMPLETED and done.redeliveries == 0 and runs == [1]


async def test_many_jobs_with_concurrency(app: App) -> None:
    peak = 0
    current = 0

    @app.job()
    async def tick(args: dict[str, Any]) -> int:
        nonlocal peak, current
        current += 1
        peak = max(peak, current)
        await asyncio.sleep(0.001)
        current -= 1
        return int(args["i"])

    jobs = await app.enqueue_many([("tick", {"i": i}) for i in range(300)])
    worker = await burst(app, concurrency=20)
    assert worker.processed == 300 and peak <= 20
    assert [(await app.get(j.id)).result for j in jobs[:5]] == [0, 1, 2, 3, 4]


async def test_a_result_the_store_cannot_encode_fails_only_that_job(app: App) -> None:
    app.register("bad", lambda args: {1, 2})  # a set is not JSON
    app.register("good", lambda args: [1, 2])
    bad = await app.enqueue("bad")
    good = await app.enqueue("good")
    await burst(app)
    failed = await app.get(bad.id)
    assert failed.status is Status.FAILED and failed.dead_reason == "unstorable result"
    assert failed.error is not None and failed.error.type == "UnstorableResult"
    assert (await app.get(good.id)).result == [1, 2]


async def test_a_handler_ignoring_cancellation_does_not_block_shutdown(app: App) -> None:
    started = asyncio.Event()
    give_up = asyncio.Event()

    @app.job()
    async def stubborn(args: dict[str, Any]) -> str:
        started.set()
        while not give_up.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await give_up.wait()
        return "late"

    job = await app.enqueue("stubborn")
    worker = Worker(app, handle_signals=False, shutdown_grace=0.1)
    worker.abandon_after = 0.2
    task = asyncio.create_task(worker.run())
    await asyncio.wait_for(started.wait(), 15)
    worker.stop()
    await asyncio.wait_for(task, 20)
    back = await app.get(job.id)
    assert back.status is Status.PENDING and back.attempts == 0 and back.result is None
    give_up.set()
    await asyncio.sleep(0)  # let the abandoned handler end: its late result is dropped
    assert (await app.get(job.id)).status is Status.PENDING


async def test_default_queues_are_those_of_the_handlers(app: App) -> None:
    assert Worker(app).queues == ["default"]
    app.register("a", lambda args: None, queue="emails")
    app.register("b", lambda args: None, queue="reports")
    app.register("c", lambda args: None, queue="emails")
    assert Worker(app).queues == ["emails", "reports"]
    assert Worker(app, queues=["x"]).queues == ["x"]
    with pytest.raises(ValueError, match="one weight per queue"):
        Worker(app, weights=[1.0])


class Recorder:
    """A JobObserver that records what the worker reports."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def on_start(self, job: Job) -> None:
        self.events.append(("start", job.type))

    def on_outcome(self, outcome: Outcome) -> None:
        self.events.append((outcome.kind.value, outcome.job.type))

    def on_lost(self, job: Job) -> None:
        self.events.append(("lost", job.type))

    def on_reap(self, queue: str, report: ReapReport) -> None:
        self.events.append(("reap", queue))


async def test_the_observer_hears_every_start_and_outcome(app: App) -> None:
    app.register("ok", lambda args: 1)
    app.register("broken", lambda args: 1 / 0, max_retries=0)
    await app.enqueue("ok")
    await app.enqueue("broken")
    recorder = Recorder()
    await burst(app, concurrency=1, observer=recorder)
    jobs = [e for e in recorder.events if e[0] != "reap"]
    assert jobs == [("start", "ok"), ("complete", "ok"), ("start", "broken"), ("fail", "broken")]


async def test_enqueue_from_another_thread_wakes_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_module, "MIN_POLL", 60.0)  # only a wake-up can start the job soon
    app = App()  # the memory store is shared by threads of one process
    app.register("hi", lambda args: "hello")
    async with running_worker(app, poll_interval=60):
        await asyncio.sleep(0.1)  # let the worker reach its idle wait
        job = await asyncio.to_thread(asyncio.run, app.enqueue("hi"))
        done = await wait_status(app, job.id, Status.COMPLETED, timeout=10)
    assert done.result == "hello"


async def test_enqueue_sync_from_a_thread_reaches_a_running_worker(app: App) -> None:
    """What a Flask or Django view does: a blocking enqueue from another thread, no event loop."""
    import asyncio

    app.register("double", lambda args: args["n"] * 2)
    async with running_worker(app):
        job = await asyncio.to_thread(app.enqueue_sync, "double", {"n": 21})
        done = await wait_status(app, job.id, Status.COMPLETED)
    assert done.result == 42


async def test_streaming_a_backlog_never_runs_more_than_concurrency_jobs(app: App) -> None:
    """With two store requests in flight while a backlog streams in, the slots they reserve
    still cap what runs: never more than `concurrency` jobs at once, every job exactly once."""
    import asyncio

    running = peak = 0
    seen: list[int] = []

    async def job(args: dict[str, int]) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        seen.append(args["i"])
        await asyncio.sleep(0 if args["i"] % 3 else 0.002)  # some finish at once, some later
        running -= 1

    app.register("job", job)
    jobs = await app.enqueue_many([("job", {"i": i}) for i in range(1500)])
    async with running_worker(app, concurrency=7) as worker:
        await wait_status(app, jobs[-1].id, Status.COMPLETED, timeout=60)

        async def all_done() -> bool:
            return worker.processed == len(jobs)

        await wait_for(all_done, timeout=60)
    assert peak <= 7
    assert sorted(seen) == list(range(1500))  # each exactly once, none lost
    assert worker.processed == 1500


async def test_stopping_while_a_backlog_streams_leaves_nothing_running(app: App) -> None:
    """A stop in the middle of streaming: the requests in flight land, their jobs finish (or go
    back to pending), and no job is left running or lost."""
    import asyncio

    async def job(args: dict[str, int]) -> None:
        await asyncio.sleep(0.001)

    app.register("job", job)
    jobs = await app.enqueue_many([("job", {"i": i}) for i in range(3000)])
    async with running_worker(app) as worker:
        async def busy() -> bool:
            return worker.processed >= 300

        await wait_for(busy)
    statuses = [(await app.get(j.id)).status for j in jobs]
    assert Status.RUNNING not in statuses
    assert set(statuses) <= {Status.COMPLETED, Status.PENDING}
    assert statuses.count(Status.COMPLETED) == worker.processed
    # what is left is claimed again, in order, by the next worker
    async with running_worker(app) as again:
        await wait_status(app, jobs[-1].id, Status.COMPLETED, timeout=60)
    assert worker.processed + again.processed == 3000
