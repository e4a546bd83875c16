"""Contract: get/find/queues, the stats port, workers, cron occurrences and schedules on every Store."""

from __future__ import annotations

import asyncio

import pytest

from swell.clock import ManualClock
from swell.job import JobError, Priority, Status
from swell.stats import DurationStats, TenantStats, WorkerInfo
from swell.store.base import JobFilter, Schedule, Store

from .contract_support import JobFactory, StoreFactory

Q = "default"
BOOM = JobError("ValueError", "boom")


async def test_get_returns_what_was_enqueued(store: Store, job: JobFactory) -> None:
    original = job("email.send", {"to": ["a@b.c"], "n": 1.5, "ok": True, "none": None},
                   queue="mail", priority="high", tenant="acme", metadata={"trace": "abc"},
                   unique_key="u1", timeout=12.5, max_retries=7)
    stored = await store.enqueue(original)
    assert stored == original
    assert await store.get(original.id) == original
    delayed = job("t", delay=30)
    assert await store.enqueue(delayed) == delayed
    assert (await store.get(delayed.id)).status is Status.SCHEDULED


async def test_find_filters_and_paginates_newest_first(store: Store, job: JobFactory,
                                                       clock: ManualClock) -> None:
    made = []
    for i in range(6):
        clock.advance(1)
        made.append(await store.enqueue(job("a" if i % 2 == 0 else "b", {"i": i},
                                            tenant="x" if i < 3 else "y")))
    clock.advance(1)
    other = await store.enqueue(job("a", queue="q2"))
    clock.advance(1)
    await store.claim(Q, "w", 1)  # made[0] is running now

    a_pending = await store.find(JobFilter(status=Status.PENDING, type="a", queue=Q))
    assert [j.id for j in a_pending] == [made[4].id, made[2].id]
    page = await store.find(JobFilter(status=Status.PENDING, queue=Q, offset=1, limit=2))
    assert [j.id for j in page] == [made[4].id, made[3].id]
    assert await store.find(JobFilter(status=Status.PENDING, queue=Q, offset=10)) == []
    running = await store.find(JobFilter(status=Status.RUNNING))
    assert [j.id for j in running] == [made[0].id]
    tenant_x = await store.find(JobFilter(tenant="x"))
    assert {j.id for j in tenant_x} == {made[0].id, made[1].id, made[2].id}
    everything = await store.find(JobFilter(limit=1000))
    assert {j.id for j in everything} == {j.id for j in made} | {other.id}
    assert [j.id for j in await store.find(JobFilter(queue="q2"))] == [other.id]
    assert await store.find(JobFilter(type="nope")) == []
    assert len(await store.find(JobFilter(limit=3))) == 3


async def test_queues_lists_every_queue_that_held_a_job(store: Store, job: JobFactory) -> None:
    assert set(await store.queues()).isdisjoint({"q-a", "q-b"})
    gone = await store.enqueue(job(queue="q-a"))
    await store.enqueue(job(queue="q-b", delay=100))
    await store.cancel(gone.id)
    assert {"q-a", "q-b"} <= set(await store.queues())
    await store.ping()


async def test_stats_report_every_queue_field_and_tenants(store: Store, job: JobFactory,
                                                          clock: ManualClock) -> None:
    t0 = clock()
    first = await store.enqueue_many([
        job("a", tenant="acme", priority="low"), job("a", priority="low"),
        job("b", tenant="beta", priority="low"), job("b", priority="low"),
        job("a", tenant="acme", priority="low"),
    ])
    j1, j2, j3, j4, j5 = await store.claim(Q, "w", 5)
    assert [j.id for j in (j1, j2, j3, j4, j5)] == [j.id for j in first]
    await store.complete(j1, duration=1.0)
    await store.complete(j2, duration=3.0)
    await store.fail(j3, BOOM)
    await store.retry(j4, BOOM, delay=1000)
    # j5 stays running (tenant acme)
    await store.enqueue(job("c", delay=10))
    await store.enqueue(job("c", delay=500))
    await store.enqueue_many([
        job("p", priority="critical", tenant="acme"), job("p", priority=Priority.CRITICAL),
        job("p", priority="high", tenant="beta"), job("p", tenant="acme"), job("p"), job("p"),
    ])
    doomed = await store.enqueue(job("p", priority="low"))
    await store.cancel(doomed.id)
    clock.advance(20)

    stats = await store.stats()
    assert stats.at == clock()
    q = stats.queues[Q]
    assert q.name == Q
    assert q.pending == {"critical": 2, "high": 1, "normal": 3, "low": 0}
    assert q.pending_total == 6
    assert q.scheduled == 2  # the 500 s delay and the 1000 s retry
    assert q.scheduled_due == 1  # the 10 s delay, not promoted yet
    assert q.running == 1
    assert q.backlog == 8
    assert q.dead == 1
    assert (q.completed, q.failed, q.retried, q.cancelled, q.redelivered) == (2, 1, 1, 1, 0)
    assert q.enqueued == 14
    assert q.oldest_pending_age == pytest.approx(clock() - t0)
    assert q.durations["a"] == DurationStats(count=2, min=1.0, avg=2.0, max=3.0)
    assert stats.tenants["acme"] == TenantStats(pending=2, running=1, completed=1, failed=0)
    assert stats.tenants["beta"] == TenantStats(pending=1, running=0, completed=0, failed=1)
    assert type(stats).from_dict(stats.to_dict()) == stats


async def test_stats_counts_redeliveries_throughput_and_empty_queues(
        store: Store, job: JobFactory, clock: ManualClock) -> None:
    await store.enqueue_many([job(), job(), job()])
    a, b, c = await store.claim(Q, "w", 3)
    await store.complete(a)
    await store.complete(b)
    assert (await store.stats()).queues[Q].throughput_last_minute == 2
    clock.advance(31)
    await store.reap_expired(Q)
    q = (await store.stats()).queues[Q]
    assert q.redelivered == 1 and q.pending["normal"] == 1 and q.running == 0
    assert q.oldest_pending_age == pytest.approx(0.0, abs=31.0)
    clock.advance(60)
    assert (await store.stats()).queues[Q].throughput_last_minute == 0
    (c2,) = await store.claim(Q, "w", 1)
    assert c2.id == c.id
    await store.complete(c2)
    q = (await store.stats()).queues[Q]
    assert q.throughput_last_minute == 1 and q.completed == 3 and q.backlog == 0
    assert q.oldest_pending_age == 0.0


def worker(worker_id: str, now: float) -> WorkerInfo:
    return WorkerInfo(id=worker_id, host="host-1", pid=42, queues=("default", "mail"), concurrency=8,
                      running=("job-1",), processed=10, failed=1, started_at=now - 5,
                      last_heartbeat=now, pod="pod-1")


async def test_workers_heartbeat_expire_and_unregister(make_store: StoreFactory,
                                                       clock: ManualClock) -> None:
    store = await make_store(worker_ttl=60.0)
    await store.register_worker(worker("w1", clock()))
    await store.register_worker(worker("w2", clock()))
    live = {w.id: w for w in await store.workers()}
    assert set(live) == {"w1", "w2"}
    w1 = live["w1"]
    assert (w1.host, w1.pid, w1.queues, w1.concurrency, w1.running, w1.processed, w1.failed,
            w1.pod) == ("host-1", 42, ("default", "mail"), 8, ("job-1",), 10, 1, "pod-1")
    assert {w.id for w in (await store.stats()).workers} == {"w1", "w2"}
    clock.advance(50)
    await store.register_worker(worker("w1", clock()))  # heartbeat refreshes w1 only
    clock.advance(20)
    assert [w.id for w in await store.workers()] == ["w1"]
    assert [w.id for w in (await store.stats()).workers] == ["w1"]
    await store.unregister_worker("w1")
    await store.unregister_worker("never-registered")
    assert await store.workers() == []


async def test_claim_occurrence_exactly_once_per_key_within_ttl(store: Store, clock: ManualClock) -> None:
    results = await asyncio.gather(*(store.claim_occurrence("cron:report:1700000000", 120)
                                     for _ in range(25)))
    assert results.count(True) == 1
    assert await store.claim_occurrence("cron:report:1700000060", 120) is True
    clock.advance(119)
    assert await store.claim_occurrence("cron:report:1700000000", 120) is False
    clock.advance(2)
    assert await store.claim_occurrence("cron:report:1700000000", 120) is True
    assert await store.claim_occurrence("cron:report:1700000000", 120) is False


async def test_schedules_crud(store: Store) -> None:
    nightly = Schedule(name="nightly", type="report.build", cron="0 3 * * *", timezone="Europe/Paris",
                       args={"full": True, "days": [1, 2]}, queue="reports", priority=1,
                       missed="run_once")
    ping = Schedule(name="ping", type="health.ping", interval=30.0)
    assert await store.schedules() == []
    await store.save_schedule(nightly)
    await store.save_schedule(ping)
    assert sorted(await store.schedules(), key=lambda s: s.name) == [nightly, ping]
    paused = Schedule(name="ping", type="health.ping", interval=60.0, enabled=False)
    await store.save_schedule(paused)
    assert {s.name: s for s in await store.schedules()}["ping"] == paused
    assert await store.delete_schedule("nightly") is True
    assert await store.delete_schedule("nightly") is False
    assert await store.schedules() == [paused]


async def test_claimed_args_are_a_private_copy(store: Store, job: JobFactory, clock: ManualClock) -> None:
    await store.enqueue(job("t", {"items": [1, 2], "meta": {"k": "v"}}))
    (claimed,) = await store.claim(Q, "w", 1)
    claimed.args["items"].append(3)  # a handler scribbling on its args
    claimed.args["meta"]["k"] = "changed"
    await store.retry(claimed, BOOM, delay=0)
    (again,) = await store.claim(Q, "w", 1)
    assert again.args == {"items": [1, 2], "meta": {"k": "v"}}
    result = {"rows": [1]}
    await store.complete(again, result)
    result["rows"].append(2)
    assert (await store.get(again.id)).result == {"rows": [1]}


async def test_tenant_and_priority_gauges_follow_every_transition(store: Store, job: JobFactory,
                                                                  clock: ManualClock) -> None:
    async def gauges() -> tuple[TenantStats, dict[str, int], int]:
        stats = await store.stats()
        return stats.tenants.get("t1", TenantStats()), stats.queues[Q].pending, stats.queues[Q].running

    await store.enqueue_many([job(tenant="t1", priority="high") for _ in range(4)])
    await store.enqueue(job(tenant="t1", delay=5))
    assert await gauges() == (TenantStats(pending=4), {"critical": 0, "high": 4, "normal": 0, "low": 0}, 0)
    a, b, c, _ = await store.claim(Q, "w", 4)
    assert (await gauges())[0] == TenantStats(running=4)
    await store.release(a)
    await store.retry(b, BOOM, delay=100)
    await store.cancel(c.id)
    assert await gauges() == (TenantStats(pending=1, running=2), {"critical": 0, "high": 1, "normal": 0,
                                                                   "low": 0}, 2)
    clock.advance(31)
    await store.reap_expired(Q)  # c ends cancelled, d back to pending
    assert await gauges() == (TenantStats(pending=2), {"critical": 0, "high": 2, "normal": 0, "low": 0}, 0)
    clock.advance(100)
    claimed = await store.claim(Q, "w", 10)  # a, d, then the delayed one and b (both due now)
    assert len(claimed) == 4
    for j in claimed[:3]:
        await store.complete(j)
    await store.fail(claimed[3], BOOM)
    tenant, pending, running = await gauges()
    assert tenant == TenantStats(pending=0, running=0, completed=3, failed=1)
    assert sum(pending.values()) == 0 and running == 0
