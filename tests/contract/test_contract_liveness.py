"""Contract: the jobs of a worker whose heartbeat stopped come back before their lease expires."""

from __future__ import annotations

from swell.clock import ManualClock
from swell.job import Status
from swell.stats import WorkerInfo
from swell.store.base import Store

from .contract_support import JobFactory, StoreFactory

Q = "default"
LONG_LEASE = 300.0  # far beyond every step below: only the dead-worker rule can reap


def info(worker_id: str, now: float) -> WorkerInfo:
    return WorkerInfo(id=worker_id, host="h", pid=1, queues=(Q,), concurrency=1, last_heartbeat=now)


async def sweep(store: Store, clock: ManualClock, seconds: int, *, beating: tuple[str, ...] = (),
                queue: str = Q) -> list[str]:
    """One sweep a second for ``seconds`` seconds, as a worker's heartbeat loop does; the workers
    in ``beating`` send a heartbeat before each sweep. Returns every requeued id."""
    requeued: list[str] = []
    for _ in range(seconds):
        clock.advance(1)
        for worker_id in beating:
            await store.register_worker(info(worker_id, clock()))
        requeued += (await store.reap_expired(queue)).requeued
    return requeued


async def test_a_dead_workers_job_is_reaped_after_dead_after_despite_a_long_lease(
        make_store: StoreFactory, job: JobFactory, clock: ManualClock) -> None:
    store = await make_store(lease=LONG_LEASE, worker_dead_after=5.0)
    enqueued = await store.enqueue(job())
    await store.register_worker(info("w-dead", clock()))
    (claimed,) = await store.claim(Q, "w-dead", 1)
    assert (await store.reap_expired(Q)).requeued == ()  # the sweeper starts watching
    assert await sweep(store, clock, 4) == []  # stood still 4 s: not yet
    assert await sweep(store, clock, 1) == [enqueued.id]  # 5 s: dead
    back = await store.get(enqueued.id)
    assert (back.status, back.redeliveries, back.worker_id, back.token) == (Status.PENDING, 1, None, None)
    (again,) = await store.claim(Q, "w-new", 1)
    assert again.id == enqueued.id and again.attempts == 2 and again.token != claimed.token
    assert await store.complete(claimed, "late") is False  # the dead holder's token is fenced
    assert await sweep(store, clock, 3) == []  # the new holder never registered: it keeps the job


async def test_a_live_workers_job_is_not_reaped(make_store: StoreFactory, job: JobFactory,
                                                clock: ManualClock) -> None:
    store = await make_store(lease=LONG_LEASE, worker_dead_after=5.0)
    enqueued = await store.enqueue(job())
    await store.register_worker(info("w-live", clock()))
    (claimed,) = await store.claim(Q, "w-live", 1)
    assert await sweep(store, clock, 20, beating=("w-live",)) == []
    still = await store.get(enqueued.id)
    assert still.status is Status.RUNNING and still.token == claimed.token
    assert await store.complete(claimed, "ok") is True


async def test_a_worker_that_never_registered_waits_for_its_lease(
        make_store: StoreFactory, job: JobFactory, clock: ManualClock) -> None:
    store = await make_store(lease=30.0, worker_dead_after=5.0)
    enqueued = await store.enqueue(job())
    await store.register_worker(info("someone-else", clock()))  # stops beating at once
    await store.claim(Q, "raw-store-user", 1)
    assert await sweep(store, clock, 29) == []
    assert await sweep(store, clock, 2) == [enqueued.id]  # the lease ran out


async def test_a_gracefully_unregistered_worker_waits_for_its_lease(
        make_store: StoreFactory, job: JobFactory, clock: ManualClock) -> None:
    store = await make_store(lease=30.0, worker_dead_after=5.0)
    enqueued = await store.enqueue(job())
    await store.register_worker(info("w", clock()))
    await store.claim(Q, "w", 1)
    await store.unregister_worker("w")  # e.g. a release that could not be stored
    assert await sweep(store, clock, 29) == []
    assert await sweep(store, clock, 2) == [enqueued.id]


async def test_a_sweeper_that_could_not_look_watches_afresh(
        make_store: StoreFactory, job: JobFactory, clock: ManualClock) -> None:
    """After a gap in sweeping longer than dead_after (an outage, a pause), nobody is declared
    dead at once: live workers get dead_after to show a new heartbeat."""
    store = await make_store(lease=LONG_LEASE, worker_dead_after=5.0)
    enqueued = await store.enqueue(job())
    await store.register_worker(info("w", clock()))
    await store.claim(Q, "w", 1)
    assert (await store.reap_expired(Q)).requeued == ()
    clock.advance(60)
    assert (await store.reap_expired(Q)).requeued == ()  # blind for 60 s: start watching again
    assert await sweep(store, clock, 4) == []
    assert await sweep(store, clock, 1) == [enqueued.id]


async def test_dead_workers_jobs_in_every_queue_and_the_poison_rule(
        make_store: StoreFactory, job: JobFactory, clock: ManualClock) -> None:
    store = await make_store(lease=LONG_LEASE, worker_dead_after=5.0, max_redeliveries=1)
    first = await store.enqueue(job())
    other = await store.enqueue(job(queue="other"))
    await store.register_worker(info("w1", clock()))
    await store.claim(Q, "w1", 1)
    await store.claim("other", "w1", 1)
    for queue in (Q, "other"):
        await store.reap_expired(queue)
    requeued = []
    for _ in range(5):
        requeued += await sweep(store, clock, 1)
        requeued += (await store.reap_expired("other")).requeued
    assert sorted(requeued) == sorted([first.id, other.id])
    await store.register_worker(info("w2", clock()))
    await store.claim(Q, "w2", 1)  # redelivered once already: dying again makes it poison
    dead: list[str] = []
    for _ in range(6):
        clock.advance(1)
        dead += (await store.reap_expired(Q)).dead
    assert dead == [first.id]
    poisoned = await store.get(first.id)
    assert poisoned.status is Status.FAILED and (poisoned.dead_reason or "").startswith("poison")


async def test_zero_dead_after_means_leases_only(make_store: StoreFactory, job: JobFactory,
                                                 clock: ManualClock) -> None:
    store = await make_store(lease=30.0, worker_dead_after=0.0)
    enqueued = await store.enqueue(job())
    await store.register_worker(info("w", clock()))
    await store.claim(Q, "w", 1)
    assert await sweep(store, clock, 29) == []
    assert await sweep(store, clock, 2) == [enqueued.id]
