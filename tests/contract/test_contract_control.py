"""Contract: cancel, dead-letter replay, purge, retention and unique keys on every Store."""

from __future__ import annotations

import pytest

from swell.clock import ManualClock
from swell.errors import InvalidTransition, JobNotFound, SwellError
from swell.job import JobError, Status
from swell.store.base import JobFilter, Store

from .contract_support import JobFactory, StoreFactory

Q = "default"
BOOM = JobError("ValueError", "boom")


async def drain(store: Store, queue: str = Q) -> list[str]:
    """Claim everything claimable now and return the ids."""
    ids: list[str] = []
    while batch := await store.claim(queue, "drain", 100):
        ids.extend(j.id for j in batch)
    return ids


# -- cancel ------------------------------------------------------------------------------------
async def test_cancelled_pending_job_never_runs(store: Store, job: JobFactory) -> None:
    keep, gone = await store.enqueue_many([job(), job()])
    cancelled = await store.cancel(gone.id)
    assert cancelled.status is Status.CANCELLED
    assert (await store.get(gone.id)).status is Status.CANCELLED
    assert await drain(store) == [keep.id]
    assert (await store.stats()).queues[Q].cancelled == 1


async def test_cancelled_scheduled_and_retrying_jobs_never_run(store: Store, job: JobFactory,
                                                               clock: ManualClock) -> None:
    scheduled = await store.enqueue(job(delay=10))
    await store.enqueue(job())
    (running,) = await store.claim(Q, "w", 1)
    await store.retry(running, BOOM, delay=5)
    assert (await store.cancel(scheduled.id)).status is Status.CANCELLED
    assert (await store.cancel(running.id)).status is Status.CANCELLED
    assert await store.next_due_at(Q) is None
    clock.advance(3600)
    assert await store.promote_due(Q) == 0
    assert await drain(store) == []
    stats = (await store.stats()).queues[Q]
    assert stats.scheduled == 0 and stats.scheduled_due == 0 and stats.cancelled == 2


async def test_cancel_running_job_flags_it_and_it_never_runs_again(
        store: Store, job: JobFactory, clock: ManualClock) -> None:
    await store.enqueue_many([job(), job(), job()])
    retried, released, reaped = await store.claim(Q, "w", 3)
    for j in (retried, released, reaped):
        flagged = await store.cancel(j.id)
        assert flagged.status is Status.RUNNING and flagged.cancel_requested
    again = await store.cancel(retried.id)  # asking twice is harmless
    assert again.cancel_requested and again.status is Status.RUNNING
    # The worker stops them and reports; none may run again.
    assert await store.retry(retried, BOOM, delay=0) is True
    assert (await store.get(retried.id)).status is Status.CANCELLED
    assert await store.release(released) is True
    assert (await store.get(released.id)).status is Status.CANCELLED
    clock.advance(31)  # the third worker vanished: its lease expires
    report = await store.reap_expired(Q)
    assert reaped.id not in report.requeued
    assert (await store.get(reaped.id)).status is Status.CANCELLED
    clock.advance(3600)
    assert await drain(store) == []


async def test_cancel_requested_job_that_fails_or_completes_never_runs_again(
        store: Store, job: JobFactory) -> None:
    await store.enqueue_many([job(), job()])
    failed, completed = await store.claim(Q, "w", 2)
    await store.cancel(failed.id)
    await store.cancel(completed.id)
    assert await store.fail(failed, JobError("CancelledError", "cancelled")) is True
    assert (await store.get(failed.id)).status is Status.CANCELLED
    assert await store.complete(completed, "done anyway") is True
    done = await store.get(completed.id)  # the work did finish: the result is kept
    assert done.status is Status.COMPLETED and done.result == "done anyway"
    assert not done.cancel_requested
    assert not (await store.get(failed.id)).cancel_requested
    assert await drain(store) == []


async def test_cancel_terminal_or_unknown_job_raises(store: Store, job: JobFactory) -> None:
    await store.enqueue(job())
    (claimed,) = await store.claim(Q, "w", 1)
    await store.complete(claimed)
    with pytest.raises(InvalidTransition, match="completed"):
        await store.cancel(claimed.id)
    gone = await store.enqueue(job())
    await store.cancel(gone.id)
    with pytest.raises(InvalidTransition):
        await store.cancel(gone.id)
    with pytest.raises(JobNotFound):
        await store.cancel("no-such-job")
    with pytest.raises(JobNotFound):
        await store.get("no-such-job")


# -- dead letters and replay -------------------------------------------------------------------
async def test_dead_letter_lists_most_recent_first_and_replay_resets(
        store: Store, job: JobFactory, clock: ManualClock) -> None:
    await store.enqueue_many([job("t", {"i": i}, queue="dlq") for i in range(3)])
    claimed = await store.claim("dlq", "w", 3)
    for j in claimed:
        clock.advance(1)
        assert await store.fail(j, BOOM, reason=f"reason {j.args['i']}")
    dead = await store.dead("dlq")
    assert [j.id for j in dead] == [j.id for j in reversed(claimed)]
    assert [j.id for j in await store.dead("dlq", offset=1, limit=1)] == [claimed[1].id]
    assert [j.id for j in await store.dead()][:3] == [j.id for j in reversed(claimed)]
    assert (await store.stats()).queues["dlq"].dead == 3

    replayed = await store.replay(claimed[0].id)
    assert replayed.status is Status.PENDING
    assert replayed.attempts == 0 and replayed.redeliveries == 0
    assert replayed.dead_reason is None
    assert [j.id for j in await store.dead("dlq")] == [claimed[2].id, claimed[1].id]
    (again,) = await store.claim("dlq", "w", 5)
    assert again.id == claimed[0].id and again.attempts == 1
    with pytest.raises(InvalidTransition):
        await store.replay(again.id)  # running, not dead
    with pytest.raises(JobNotFound):
        await store.replay("no-such-job")


async def test_replay_dead_oldest_first_up_to_limit(store: Store, job: JobFactory,
                                                    clock: ManualClock) -> None:
    await store.enqueue_many([job("t", {"i": i}) for i in range(4)])
    claimed = await store.claim(Q, "w", 4)
    for j in claimed:
        clock.advance(1)
        await store.fail(j, BOOM)
    assert await store.replay_dead(Q, limit=3) == 3
    assert await store.replay_dead("empty-queue") == 0
    assert sorted(await drain(store)) == sorted(j.id for j in claimed[:3])
    assert [j.id for j in await store.dead(Q)] == [claimed[3].id]
    assert await store.replay_dead(Q) == 1
    assert await store.dead(Q) == []


async def test_poison_job_can_be_replayed(make_store: StoreFactory, job: JobFactory,
                                          clock: ManualClock) -> None:
    store = await make_store(max_redeliveries=0, lease=5.0)
    poison = await store.enqueue(job())
    await store.claim(Q, "w", 1)
    clock.advance(6)
    assert (await store.reap_expired(Q)).dead == (poison.id,)
    replayed = await store.replay(poison.id)
    assert replayed.redeliveries == 0 and replayed.status is Status.PENDING
    assert await drain(store) == [poison.id]


# -- purge and retention -----------------------------------------------------------------------
async def test_purge_deletes_only_old_terminal_jobs(store: Store, job: JobFactory,
                                                    clock: ManualClock) -> None:
    await store.enqueue_many([job("t", {"i": i}) for i in range(4)])
    a, b, c, d = await store.claim(Q, "w", 4)
    await store.complete(a)
    await store.fail(b, BOOM)
    clock.advance(100)
    await store.complete(c)
    pending = await store.enqueue(job())
    assert await store.purge(Q, older_than=50) == 1  # a only (completed, 100 s old)
    with pytest.raises(JobNotFound):
        await store.get(a.id)
    assert (await store.get(c.id)).status is Status.COMPLETED
    assert await store.purge(Q, statuses=(Status.FAILED,)) == 1
    assert await store.dead(Q) == []
    assert await store.purge(None, statuses=(Status.COMPLETED, Status.FAILED, Status.CANCELLED)) == 1
    try:
        purged = await store.purge(Q, statuses=(Status.PENDING, Status.RUNNING))
    except SwellError:
        purged = 0
    assert purged == 0
    assert (await store.get(pending.id)).status is Status.PENDING
    assert (await store.get(d.id)).status is Status.RUNNING


async def test_completed_retention_by_count(make_store: StoreFactory, job: JobFactory) -> None:
    store = await make_store(completed_max=5)
    await store.enqueue_many([job("t", {"i": i}) for i in range(8)])
    claimed = await store.claim(Q, "w", 8)
    for j in claimed:
        await store.complete(j)
    completed = await store.find(JobFilter(status=Status.COMPLETED, queue=Q))
    assert {j.id for j in completed} == {j.id for j in claimed[3:]}
    for j in claimed[:3]:
        with pytest.raises(JobNotFound):
            await store.get(j.id)
    assert (await store.stats()).queues[Q].completed == 8  # counters are not trimmed


async def test_completed_retention_by_age(make_store: StoreFactory, job: JobFactory,
                                          clock: ManualClock) -> None:
    store = await make_store(completed_ttl=3600.0)
    old, new = await store.enqueue_many([job(), job()])
    a, b = await store.claim(Q, "w", 2)
    await store.complete(a)
    clock.advance(3601)
    await store.complete(b)  # retention is enforced when jobs finish
    with pytest.raises(JobNotFound):
        await store.get(old.id)
    assert (await store.get(new.id)).status is Status.COMPLETED


async def test_dead_retention_by_count_and_age(make_store: StoreFactory, job: JobFactory,
                                               clock: ManualClock) -> None:
    store = await make_store(dead_max=3, dead_ttl=1000.0)
    await store.enqueue_many([job("t", {"i": i}) for i in range(5)])
    claimed = await store.claim(Q, "w", 5)
    for j in claimed[:4]:
        clock.advance(1)
        await store.fail(j, BOOM)
    assert [j.id for j in await store.dead(Q)] == [j.id for j in reversed(claimed[1:4])]
    with pytest.raises(JobNotFound):
        await store.get(claimed[0].id)
    clock.advance(1001)
    await store.fail(claimed[4], BOOM)
    assert [j.id for j in await store.dead(Q)] == [claimed[4].id]
    assert (await store.stats()).queues[Q].dead == 1


# -- unique keys -------------------------------------------------------------------------------
async def test_unique_key_dedups_live_jobs_per_queue(store: Store, job: JobFactory) -> None:
    first = await store.enqueue(job("t", {"v": 1}, unique_key="report:7"))
    dup = await store.enqueue(job("t", {"v": 2}, unique_key="report:7"))
    assert dup.id == first.id and dup.args == {"v": 1}
    other_queue = await store.enqueue(job("t", queue="other", unique_key="report:7"))
    assert other_queue.id != first.id
    batch = await store.enqueue_many([job(unique_key="k2"), job(unique_key="k2"), job()])
    assert batch[0].id == batch[1].id != batch[2].id
    (claimed, *_) = await store.claim(Q, "w", 1)
    assert claimed.id == first.id
    assert (await store.enqueue(job(unique_key="report:7"))).id == first.id  # running: still live
    await store.complete(claimed)
    fresh = await store.enqueue(job("t", {"v": 3}, unique_key="report:7"))
    assert fresh.id != first.id and fresh.status is Status.PENDING
    stats = (await store.stats()).queues[Q]
    assert stats.enqueued == 4  # first, k2, the plain job, fresh


async def test_unique_key_freed_by_cancel_and_dead_letter(store: Store, job: JobFactory) -> None:
    a = await store.enqueue(job(unique_key="u"))
    await store.cancel(a.id)
    b = await store.enqueue(job(unique_key="u"))
    assert b.id != a.id
    (claimed,) = await store.claim(Q, "w", 1)
    await store.fail(claimed, BOOM)
    c = await store.enqueue(job(unique_key="u", delay=30))
    assert c.id not in (a.id, b.id) and c.status is Status.SCHEDULED
    assert (await store.enqueue(job(unique_key="u"))).id == c.id  # scheduled: still live


async def test_mass_cancel_keeps_the_order_of_the_rest(store: Store, job: JobFactory) -> None:
    jobs = await store.enqueue_many([job("t", {"i": i}, priority=("high", "low")[i % 2])
                                     for i in range(3000)])
    for j in jobs[::3]:
        await store.cancel(j.id)
    kept = [j for i, j in enumerate(jobs) if i % 3]
    expected = sorted(kept, key=lambda j: (int(j.priority), j.args["i"]))
    assert await drain(store) == [j.id for j in expected]
    assert (await store.stats()).queues[Q].cancelled == 1000
