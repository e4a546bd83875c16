"""Contract: concurrent claimers never share a job, and random op sequences keep the order."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swell.clock import ManualClock
from swell.job import Job, JobError, Priority, Status, new_job
from swell.settings import Settings
from swell.store.base import Store
from swell.store.memory import MemoryStore

from .contract_support import JobFactory, StoreFactory, build_store

Q = "default"
FAILURE = JobError("Boom", "random failure")


async def claim_until_empty(store: Store, worker_id: str, n: int) -> list[Job]:
    got: list[Job] = []
    while batch := await store.claim(Q, worker_id, n):
        got.extend(batch)
        await asyncio.sleep(0)  # let the other claimers interleave
    return got


async def test_concurrent_tasks_never_claim_the_same_job(store: Store, job: JobFactory) -> None:
    jobs = await store.enqueue_many([job("t", {"i": i}) for i in range(2000)])
    per_task = await asyncio.gather(*(claim_until_empty(store, f"w{i}", 7) for i in range(20)))
    claimed = [j.id for batch in per_task for j in batch]
    assert len(claimed) == len(set(claimed)) == 2000
    assert set(claimed) == {j.id for j in jobs}


async def test_two_store_instances_share_work_without_duplicates(make_store: StoreFactory,
                                                                 job: JobFactory, store_kind: str) -> None:
    one = await make_store()
    # Two RedisStore objects on one prefix are two processes; MemoryStore is shared in-process.
    two = one if store_kind == "memory" else await make_store()
    await one.enqueue_many([job("t", {"i": i}) for i in range(500)])
    a, b = await asyncio.gather(claim_until_empty(one, "w1", 5), claim_until_empty(two, "w2", 5))
    ids = [j.id for j in a + b]
    assert len(ids) == len(set(ids)) == 500


async def test_concurrent_settles_of_one_claim_succeed_once(store: Store, job: JobFactory) -> None:
    await store.enqueue(job())
    (claimed,) = await store.claim(Q, "w", 1)
    results = await asyncio.gather(*(store.complete(claimed, i) for i in range(10)),
                                   *(store.release(claimed) for _ in range(5)))
    assert results.count(True) == 1


async def test_enqueue_during_claims_loses_nothing(store: Store, job: JobFactory) -> None:
    async def produce() -> list[str]:
        ids = []
        for i in range(50):
            ids.extend(j.id for j in await store.enqueue_many([job("t", {"i": i, "k": k})
                                                                for k in range(10)]))
            await asyncio.sleep(0)
        return ids

    async def consume(stop: asyncio.Event) -> list[str]:
        got: list[str] = []
        while True:
            batch = await store.claim(Q, "w", 8)
            got.extend(j.id for j in batch)
            if not batch:
                if stop.is_set():
                    return got
                await asyncio.sleep(0)

    stop = asyncio.Event()
    consumers = [asyncio.create_task(consume(stop)) for _ in range(4)]
    produced = await produce()
    stop.set()
    consumed = [i for ids in await asyncio.gather(*consumers) for i in ids]
    assert len(consumed) == len(set(consumed)) == 500
    assert set(consumed) == set(produced)


def test_memory_store_threads_never_claim_the_same_job(clock: ManualClock) -> None:
    store = MemoryStore(clock=clock)
    asyncio.run(store.enqueue_many([new_job("t", {"i": i}, now=clock()) for i in range(4000)]))
    results: list[list[Job]] = []
    lock = threading.Lock()

    def run(worker_id: str) -> None:
        got = asyncio.run(claim_until_empty(store, worker_id, 3))
        with lock:
            results.append(got)

    threads = [threading.Thread(target=run, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    claimed = [j.id for got in results for j in got]
    assert len(results) == 4
    assert len(claimed) == len(set(claimed)) == 4000


# -- property: random enqueue/claim/settle sequences keep priority-then-FIFO and lose nothing ----
# Model of the contract: a pending job is ordered by (priority, seq); seq is given at enqueue, or
# at promotion for a delayed job (due jobs are promoted in run_at order when a claim runs);
# a reaped job keeps its seq. Run-at values are kept distinct so that ties never decide.
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("enqueue"), st.lists(st.sampled_from(list(Priority)), min_size=1, max_size=6),
                  st.sampled_from([0, 0, 5, 20])),
        st.tuples(st.just("claim"), st.integers(min_value=1, max_value=5), st.just(0)),
        st.tuples(st.just("promote"), st.just(0), st.just(0)),
        st.tuples(st.just("complete"), st.integers(min_value=0, max_value=10), st.just(0)),
        st.tuples(st.just("fail"), st.integers(min_value=0, max_value=10), st.just(0)),
        st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=10), st.just(0)),
        st.tuples(st.just("advance"), st.sampled_from([1, 6, 31]), st.just(0)),
        st.tuples(st.just("expire"), st.just(0), st.just(0)),
    ),
    max_size=30,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_random_operations_keep_order_and_lose_nothing(
        ops: list[tuple[str, int | list[Priority], int]], store_kind: str,
        request: pytest.FixtureRequest) -> None:
    redis_url = request.getfixturevalue("redis_url") if store_kind == "redis" else None
    prefix = f"{request.getfixturevalue('key_prefix')}-{uuid.uuid4().hex[:6]}" if redis_url else "m"
    asyncio.run(_run_model(ops, store_kind, prefix, redis_url))


class Model:
    """What the store must hold: pending by (priority, seq), delayed by (run_at, id), running."""

    def __init__(self) -> None:
        self.seq = 0
        self.pending: dict[str, tuple[int, int]] = {}
        self.delayed: dict[str, tuple[float, int]] = {}  # id -> (run_at, priority)
        self.running: list[Job] = []
        self.place: dict[str, tuple[int, int]] = {}
        self.ended: dict[str, set[Status]] = {}

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def promote(self, now: float) -> None:
        for job_id, (_, prio) in sorted((i for i in self.delayed.items() if i[1][0] <= now),
                                        key=lambda i: i[1][0]):
            del self.delayed[job_id]
            self.pending[job_id] = self.place[job_id] = (prio, self.next_seq())

    def take(self, n: int) -> list[str]:
        ordered = sorted(self.pending, key=self.pending.__getitem__)[:n]
        for job_id in ordered:
            del self.pending[job_id]
        return ordered


async def _run_model(ops: list[tuple[str, int | list[Priority], int]], kind: str, prefix: str,
                     redis_url: str | None) -> None:
    clock = ManualClock()
    store = await build_store(kind, Settings(key_prefix=prefix, max_redeliveries=100), clock,
                              redis_url=redis_url)
    m = Model()
    try:
        for op, arg, delay in ops:
            if op == "enqueue":
                assert isinstance(arg, list)
                jobs = []
                for p in arg:
                    run_at = clock() + delay + m.seq / 1000 if delay else None
                    jobs.append(new_job("t", {"n": m.seq}, now=clock(), priority=p, run_at=run_at))
                    if run_at is None:
                        m.pending[jobs[-1].id] = m.place[jobs[-1].id] = (int(p), m.next_seq())
                    else:
                        m.delayed[jobs[-1].id] = (run_at, int(p))
                        m.next_seq()
                await store.enqueue_many(jobs)
            elif op == "claim":
                assert isinstance(arg, int)
                got = await store.claim(Q, "w", arg)
                m.promote(clock())
                assert [j.id for j in got] == m.take(arg)
                m.running.extend(got)
            elif op in ("complete", "fail") and m.running:
                assert isinstance(arg, int)
                target = m.running.pop(arg % len(m.running))
                ok = await (store.complete(target) if op == "complete" else store.fail(target, FAILURE))
                assert ok
                m.ended[target.id] = {Status.COMPLETED if op == "complete" else Status.FAILED}
            elif op == "cancel" and (m.pending or m.delayed):
                assert isinstance(arg, int)
                waiting = sorted(m.pending) + sorted(m.delayed)
                victim = waiting[arg % len(waiting)]
                assert (await store.cancel(victim)).status is Status.CANCELLED
                m.pending.pop(victim, None)
                m.delayed.pop(victim, None)
                m.ended[victim] = {Status.CANCELLED}
            elif op == "promote":
                due = sum(1 for run_at, _ in m.delayed.values() if run_at <= clock())
                assert await store.promote_due(Q) == due
                m.promote(clock())
            elif op == "advance":
                assert isinstance(arg, int)
                clock.advance(arg)
            elif op == "expire":
                clock.advance(31)
                report = await store.reap_expired(Q)
                assert sorted(report.requeued) == sorted(j.id for j in m.running)
                for j in m.running:
                    assert await store.complete(j) is False  # the old holder lost it
                    m.pending[j.id] = m.place[j.id]
                m.running = []
        clock.advance(1000)
        claimed_at_end = await claim_until_empty(store, "final", 4)
        m.promote(clock())
        assert [j.id for j in claimed_at_end] == m.take(len(m.pending))
        for j in m.running + claimed_at_end:
            assert await store.complete(j)
            m.ended[j.id] = {Status.COMPLETED}
        q = (await store.stats()).queues.get(Q)
        if q is not None:
            assert q.completed + q.failed + q.cancelled == len(m.ended) == q.enqueued
            assert q.backlog == 0 and q.scheduled == 0
        for job_id, statuses in m.ended.items():
            assert (await store.get(job_id)).status in statuses
    finally:
        await store.close()
