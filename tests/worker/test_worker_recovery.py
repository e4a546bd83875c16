"""Lost leases, the fetch-loop watchdog and poison redeliveries."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import pytest
from worker_support import AppFactory, running_worker, wait_for, wait_status

from swell import worker as worker_module
from swell.app import App
from swell.clock import ManualClock
from swell.job import Job, Status
from swell.store.base import Outcome, OutcomeKind
from swell.store.memory import MemoryStore


async def test_a_lost_lease_stops_the_job_and_drops_its_result(make_app: AppFactory) -> None:
    clock = ManualClock()
    app = await make_app(clock=clock, lease=10.0)
    started = asyncio.Event()
    cancelled = asyncio.Event()

    @app.job()
    async def hold(args: dict[str, Any]) -> str:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "mine"

    job = await app.enqueue("hold")
    async with running_worker(app, concurrency=1, heartbeat_interval=0.05) as worker:
        await asyncio.wait_for(started.wait(), 15)
        stolen: list[Job] = []

        async def reaped_and_stolen() -> bool:
            clock.advance(20)  # past the lease, faster than the heartbeat renews it
            await app.store.reap_expired("default")
            stolen.extend(await app.store.claim("default", "thief", 1))
            return bool(stolen)

        await wait_for(reaped_and_stolen)
        await asyncio.wait_for(cancelled.wait(), 15)  # the heartbeat learnt the lease was lost
        assert await app.store.settle([Outcome(stolen[0], OutcomeKind.COMPLETE, result="thief")]) == [True]
    done = await app.get(job.id)
    assert done.status is Status.COMPLETED and done.result == "thief" and done.redeliveries == 1
    assert worker.processed == 0


class HangingStore(MemoryStore):
    """A MemoryStore whose next claim never returns, like a call stuck on a dead connection."""

    hang_next = False

    async def claim(self, queue: str, worker_id: str, n: int) -> list[Job]:
        if self.hang_next:
            self.hang_next = False
            await asyncio.Event().wait()
        return await super().claim(queue, worker_id, n)


async def test_watchdog_restarts_a_stalled_fetch_loop(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="swell.worker")
    store = HangingStore()
    app = App(store)
    app.register("ping", lambda args: "pong")
    store.hang_next = True
    async with running_worker(app, stall_timeout=0.3, heartbeat_interval=0.05):
        job = await app.enqueue("ping")
        done = await wait_status(app, job.id, Status.COMPLETED)
    assert done.result == "pong"
    assert any("fetch loop stalled" in r.getMessage() for r in caplog.records)


async def test_poison_job_is_dead_lettered_after_max_redeliveries(make_app: AppFactory) -> None:
    clock = ManualClock()
    app = await make_app(clock=clock, lease=5.0, max_redeliveries=1)
    job = await app.enqueue("crashy")
    for round in range(2):  # two claims whose holders "crash" (never settle)
        assert [j.id for j in await app.store.claim("default", "crashed-worker", 1)] == [job.id]
        clock.advance(6)
        if round == 0:
            assert (await app.store.reap_expired("default")).requeued == (job.id,)
    app.register("crashy", lambda args: "survived")
    async with running_worker(app):
        dead = await wait_status(app, job.id, Status.FAILED)
    assert dead.dead_reason is not None and dead.dead_reason.startswith("poison")


async def test_outcomes_survive_a_failing_settle(app: App) -> None:
    """Settle fails once (the store is down): the outcomes are kept and flushed on the next try."""
    from swell.errors import StoreUnavailable

    real_settle = app.store.settle
    real_settle_and_claim = app.store.settle_and_claim
    failures = 0

    def fail_twice(outcomes: Any) -> None:
        nonlocal failures
        if outcomes and failures < 2:
            failures += 1
            raise StoreUnavailable("connection refused")

    async def flaky_settle(outcomes: Any) -> list[bool]:
        fail_twice(outcomes)
        return await real_settle(outcomes)

    async def flaky_settle_and_claim(outcomes: Any, *args: Any) -> tuple[list[bool], list[Job]]:
        fail_twice(outcomes)
        return await real_settle_and_claim(outcomes, *args)

    app.store.settle = flaky_settle  # type: ignore[method-assign]
    app.store.settle_and_claim = flaky_settle_and_claim  # type: ignore[method-assign]
    app.register("x", lambda args: args["i"])
    jobs = await app.enqueue_many([("x", {"i": i}) for i in range(5)])
    async with running_worker(app, max_backoff=0.1):
        for job in jobs:
            await wait_status(app, job.id, Status.COMPLETED)
    assert failures == 2
    assert [(await app.get(j.id)).result for j in jobs] == [0, 1, 2, 3, 4]


class PushingStore(MemoryStore):
    """A MemoryStore that announces new jobs, like a Redis store publishing from its enqueue."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = asyncio.Event()

    async def enqueue(self, job: Job) -> Job:
        stored = await super().enqueue(job)
        self.arrived.set()
        return stored

    async def wait_for_work(self, queues: Sequence[str], timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self.arrived.wait()
        pushed = self.arrived.is_set()
        self.arrived.clear()
        return pushed


async def test_a_store_that_pushes_wakes_an_idle_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_module, "MIN_POLL", 60.0)  # polling alone would take a minute
    store = PushingStore()
    consumer = App(store)
    consumer.register("hi", lambda args: "hello")
    producer = App(store)  # another App (as in another process): its notify() reaches no worker
    async with running_worker(consumer, poll_interval=60):
        await asyncio.sleep(0.1)  # let the worker reach its idle wait
        job = await producer.enqueue("hi")
        done = await wait_status(consumer, job.id, Status.COMPLETED, timeout=10)
    assert done.result == "hello"
