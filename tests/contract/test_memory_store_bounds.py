"""MemoryStore only: its indexes stay bounded under long churn (no leak in a long-lived process)."""

from __future__ import annotations

import asyncio

from swell.clock import ManualClock
from swell.job import JobError, new_job
from swell.settings import Settings
from swell.stats import WorkerInfo
from swell.store.base import Store
from swell.store.memory import MemoryStore


def test_memory_store_is_a_store() -> None:
    assert isinstance(MemoryStore(), Store)


def test_indexes_stay_bounded_under_churn(clock: ManualClock) -> None:
    store = MemoryStore(Settings(completed_max=100, dead_max=50), clock)

    async def churn() -> None:
        for round_ in range(60):
            jobs = [new_job("t", {"r": round_, "i": i}, now=clock(), tenant=f"t{i % 3}",
                            unique_key=f"u{i}" if i % 5 == 0 else None) for i in range(100)]
            await store.enqueue_many(jobs)
            await store.cancel(jobs[1].id)
            claimed = await store.claim("default", "w", 100)
            for j in claimed[:80]:
                await store.complete(j, duration=0.1)
            for j in claimed[80:90]:
                await store.fail(j, JobError("E", "x"))
            for j in claimed[90:]:
                await store.retry(j, JobError("E", "x"), delay=0)
            for j in await store.claim("default", "w", 100):
                await store.complete(j)
            await store.register_worker(WorkerInfo(id=f"w{round_}", host="h", pid=1,
                                                   queues=("default",), concurrency=1))
            await store.claim_occurrence(f"cron:{round_}", 1.0)
            clock.advance(2)
            await store.stats()

    asyncio.run(churn())
    q = store._queues["default"]
    assert len(q.completed) <= 100 and len(q.dead) <= 50 and len(q.cancelled) <= 100
    assert len(store._jobs) <= 250
    assert not q.pending and not q.running and not q.delayed and not q.unique
    assert len(q.order) == 0
    assert len(q.heap) <= 1024 and len(q.ready) <= 1024
    assert len(store._workers) <= 31  # the last minute's heartbeats only
    clock.advance(61)
    assert asyncio.run(store.workers()) == [] and not store._workers
    stats = asyncio.run(store.stats())
    assert stats.queues["default"].completed == 60 * 89
    assert stats.tenants["t0"].pending == 0 and stats.tenants["t0"].running == 0
