"""Contract: claiming, leases, settling and redelivery behave the same on every Store."""

from __future__ import annotations

from dataclasses import replace

import pytest

from swell.clock import ManualClock
from swell.job import JobError, Priority, Status
from swell.store.base import LeaseReport, Outcome, OutcomeKind, ReapReport, Store

from .contract_support import JobFactory, StoreFactory

Q = "default"
BOOM = JobError("ValueError", "boom")


async def test_priority_then_fifo_across_10000_jobs(store: Store, job: JobFactory) -> None:
    priorities = list(Priority)
    jobs = [job("t", {"i": i}, priority=priorities[(i * 7) % 4]) for i in range(10_000)]
    stored = await store.enqueue_many(jobs)
    assert [j.id for j in stored] == [j.id for j in jobs]
    expected = sorted(jobs, key=lambda j: (int(j.priority), j.args["i"]))
    claimed = []
    while batch := await store.claim(Q, "w1", 500):
        assert len(batch) <= 500
        claimed.extend(batch)
    assert [j.id for j in claimed] == [j.id for j in expected]
    assert len({j.token for j in claimed}) == 10_000


async def test_claim_marks_running_with_lease_and_token(store: Store, job: JobFactory,
                                                        clock: ManualClock) -> None:
    await store.enqueue(job("t", {"x": [1, 2]}, tenant="acme", metadata={"m": 1}))
    (claimed,) = await store.claim(Q, "worker-a", 5)
    assert claimed.status is Status.RUNNING
    assert claimed.attempts == 1
    assert claimed.started_at == clock()
    assert claimed.worker_id == "worker-a"
    assert claimed.lease_until == clock() + 30.0
    assert claimed.token and len(claimed.token) >= 16
    assert claimed.args == {"x": [1, 2]}
    assert claimed.tenant == "acme" and claimed.metadata == {"m": 1}
    stored = await store.get(claimed.id)
    assert stored.status is Status.RUNNING and stored.token == claimed.token


async def test_claim_n_limits_and_empty_queues(store: Store, job: JobFactory) -> None:
    assert await store.claim(Q, "w", 10) == []
    assert await store.claim("never-used", "w", 10) == []
    await store.enqueue_many([job() for _ in range(7)])
    assert len(await store.claim(Q, "w", 3)) == 3
    assert len(await store.claim(Q, "w", 1)) == 1
    assert len(await store.claim(Q, "w", 10)) == 3
    assert await store.claim(Q, "w", 10) == []


async def test_queues_are_independent(store: Store, job: JobFactory) -> None:
    a = await store.enqueue(job(queue="a"))
    b = await store.enqueue(job(queue="b"))
    assert [j.id for j in await store.claim("a", "w", 10)] == [a.id]
    assert [j.id for j in await store.claim("b", "w", 10)] == [b.id]
    assert set(await store.queues()) >= {"a", "b"}


async def test_no_job_runs_before_its_run_at(store: Store, job: JobFactory, clock: ManualClock) -> None:
    later = await store.enqueue(job("t", delay=60))
    at = await store.enqueue(job("t", run_at=clock() + 30))
    assert later.status is Status.SCHEDULED and at.status is Status.SCHEDULED
    assert await store.next_due_at(Q) == pytest.approx(clock() + 30)
    assert await store.claim(Q, "w", 10) == []
    clock.advance(29.9)
    assert await store.promote_due(Q) == 0
    assert await store.claim(Q, "w", 10) == []
    clock.advance(0.1)
    got = await store.claim(Q, "w", 10)
    assert [j.id for j in got] == [at.id]
    assert await store.next_due_at(Q) == pytest.approx(later.run_at)
    clock.advance(29)
    assert await store.claim(Q, "w", 10) == []
    clock.advance(1)
    assert await store.promote_due(Q) == 1
    assert (await store.get(later.id)).status is Status.PENDING
    assert [j.id for j in await store.claim(Q, "w", 10)] == [later.id]
    assert await store.next_due_at(Q) is None


async def test_promote_due_respects_limit_and_ready_order(store: Store, job: JobFactory,
                                                          clock: ManualClock) -> None:
    delayed = await store.enqueue_many([job("t", {"i": i}, delay=10 + i) for i in range(5)])
    clock.advance(100)
    assert await store.promote_due(Q, limit=2) == 2
    assert await store.promote_due(Q) == 3
    assert await store.promote_due(Q) == 0
    got = await store.claim(Q, "w", 10)
    assert [j.id for j in got] == [j.id for j in delayed]  # due in run_at order


async def test_complete_records_result_and_rejects_wrong_or_stale_tokens(
        store: Store, job: JobFactory, clock: ManualClock) -> None:
    await store.enqueue(job())
    (claimed,) = await store.claim(Q, "w", 1)
    forged = replace(claimed, token="not-the-token")
    assert await store.complete(forged, "bad") is False
    assert (await store.get(claimed.id)).status is Status.RUNNING
    clock.advance(2)
    assert await store.complete(claimed, {"ok": True}, duration=1.5) is True
    done = await store.get(claimed.id)
    assert done.status is Status.COMPLETED
    assert done.result == {"ok": True}
    assert done.finished_at == clock()
    assert await store.complete(claimed, "again") is False
    assert await store.retry(claimed, BOOM, 1) is False
    assert await store.fail(claimed, BOOM) is False
    assert await store.release(claimed) is False
    assert (await store.get(claimed.id)).result == {"ok": True}


async def test_expired_lease_is_claimed_again_once_and_late_complete_is_rejected(
        store: Store, job: JobFactory, clock: ManualClock) -> None:
    original = await store.enqueue(job())
    (first,) = await store.claim(Q, "vanishing-worker", 1)
    clock.advance(29)
    report = await store.reap_expired(Q)
    assert report.requeued == () and report.dead == ()
    assert await store.claim(Q, "w2", 1) == []
    clock.advance(2)  # lease (30 s) ran out
    report = await store.reap_expired(Q)
    assert report.requeued == (original.id,) and report.dead == ()
    assert (await store.reap_expired(Q)).requeued == ()  # once
    requeued = await store.get(original.id)
    assert requeued.status is Status.PENDING and requeued.redeliveries == 1
    (second,) = await store.claim(Q, "w2", 5)
    assert second.id == original.id and second.token != first.token
    assert second.attempts == 2 and second.worker_id == "w2"
    assert await store.claim(Q, "w3", 5) == []  # handed out once, not twice
    assert await store.complete(first, "stale result") is False
    assert await store.complete(second, "fresh result") is True
    done = await store.get(original.id)
    assert done.status is Status.COMPLETED and done.result == "fresh result"
    assert await store.complete(first, "stale result") is False
    assert (await store.get(original.id)).result == "fresh result"


async def test_poison_job_dead_lettered_after_max_redeliveries(
        make_store: StoreFactory, job: JobFactory, clock: ManualClock) -> None:
    store = await make_store(max_redeliveries=2, lease=10.0)
    poison = await store.enqueue(job("poison"))
    for expected in (1, 2):
        assert len(await store.claim(Q, "w", 1)) == 1
        clock.advance(11)
        assert (await store.reap_expired(Q)).requeued == (poison.id,)
        assert (await store.get(poison.id)).redeliveries == expected
    await store.claim(Q, "w", 1)
    clock.advance(11)
    report = await store.reap_expired(Q)
    assert report.dead == (poison.id,) and report.requeued == ()
    dead = await store.get(poison.id)
    assert dead.status is Status.FAILED
    assert dead.dead_reason is not None and dead.dead_reason.startswith("poison")
    assert "3" in dead.dead_reason
    assert [j.id for j in await store.dead(Q)] == [poison.id]
    assert await store.claim(Q, "w", 1) == []


async def test_extend_leases_keeps_jobs_and_reports_lost_and_cancelled(
        store: Store, job: JobFactory, clock: ManualClock) -> None:
    await store.enqueue_many([job() for _ in range(3)])
    a, b, c = await store.claim(Q, "w", 3)
    clock.advance(25)
    report = await store.extend_leases(Q, {a.id: a.token or "", b.id: b.token or "",
                                           c.id: "wrong-token", "no-such-job": "x"})
    assert report.extended == {a.id, b.id}
    assert report.lost == {c.id, "no-such-job"}
    assert report.cancel_requested == frozenset()
    assert (await store.get(a.id)).lease_until == clock() + 30
    await store.cancel(b.id)
    clock.advance(25)  # a and b renewed at t+25, c expired at t+30
    report = await store.extend_leases(Q, {a.id: a.token or "", b.id: b.token or ""})
    assert report.cancel_requested == {b.id}
    assert a.id in report.extended and not report.lost
    reaped = await store.reap_expired(Q)
    assert reaped.requeued == (c.id,)
    clock.advance(10)
    report = await store.extend_leases(Q, {c.id: c.token or ""})
    assert report.lost == {c.id} and report.extended == frozenset()


async def test_retry_schedules_next_attempt_with_error(store: Store, job: JobFactory,
                                                       clock: ManualClock) -> None:
    await store.enqueue(job(max_retries=5))
    (claimed,) = await store.claim(Q, "w", 1)
    assert await store.retry(claimed, BOOM, delay=15, duration=0.2) is True
    waiting = await store.get(claimed.id)
    assert waiting.status is Status.RETRYING
    assert waiting.run_at == pytest.approx(clock() + 15)
    assert waiting.error == BOOM
    assert waiting.attempts == 1
    assert await store.next_due_at(Q) == pytest.approx(clock() + 15)
    assert await store.claim(Q, "w", 1) == []
    assert await store.retry(claimed, BOOM, delay=1) is False  # token spent
    clock.advance(15)
    (again,) = await store.claim(Q, "w", 1)
    assert again.id == claimed.id and again.attempts == 2 and again.token != claimed.token
    assert await store.retry(again, JobError("KeyError", "k"), delay=0) is True
    (third,) = await store.claim(Q, "w", 1)  # delay 0: due at once
    assert third.attempts == 3
    stats = (await store.stats()).queues[Q]
    assert stats.retried == 2


async def test_fail_dead_letters_with_reason(store: Store, job: JobFactory, clock: ManualClock) -> None:
    await store.enqueue(job("t"))
    (claimed,) = await store.claim(Q, "w", 1)
    assert await store.fail(claimed, BOOM, reason="retries exhausted") is True
    dead = await store.get(claimed.id)
    assert dead.status is Status.FAILED
    assert dead.error == BOOM and dead.dead_reason == "retries exhausted"
    assert dead.finished_at == clock()
    assert [j.id for j in await store.dead(Q)] == [claimed.id]


async def test_release_returns_job_without_counting_the_attempt(store: Store, job: JobFactory) -> None:
    first, second = await store.enqueue_many([job(), job()])
    (claimed,) = await store.claim(Q, "w", 1)
    assert claimed.id == first.id
    assert await store.release(claimed) is True
    back = await store.get(first.id)
    assert back.status is Status.PENDING and back.attempts == 0 and back.token is None
    assert await store.complete(claimed) is False
    again = await store.claim(Q, "w", 2)
    assert [j.id for j in again] == [first.id, second.id]  # keeps its place at the front
    assert again[0].attempts == 1


async def test_settle_applies_mixed_outcomes_in_one_call(store: Store, job: JobFactory,
                                                         clock: ManualClock) -> None:
    await store.enqueue_many([job("t", {"i": i}) for i in range(5)])
    a, b, c, d, e = await store.claim(Q, "w", 5)
    results = await store.settle([
        Outcome(a, OutcomeKind.COMPLETE, result=42, duration=0.5),
        Outcome(b, OutcomeKind.RETRY, error=BOOM, delay=30),
        Outcome(c, OutcomeKind.FAIL, error=BOOM, reason="permanent"),
        Outcome(d, OutcomeKind.RELEASE),
        Outcome(replace(e, token="stale"), OutcomeKind.COMPLETE, result="late"),
    ])
    assert results == [True, True, True, True, False]
    assert (await store.get(a.id)).result == 42
    assert (await store.get(a.id)).status is Status.COMPLETED
    retrying = await store.get(b.id)
    assert retrying.status is Status.RETRYING and retrying.run_at == pytest.approx(clock() + 30)
    failed = await store.get(c.id)
    assert failed.status is Status.FAILED and failed.dead_reason == "permanent"
    assert (await store.get(d.id)).status is Status.PENDING
    assert (await store.get(e.id)).status is Status.RUNNING
    assert await store.settle([]) == []


async def test_settle_and_claim_settles_then_claims_in_one_call(store: Store, job: JobFactory,
                                                              clock: ManualClock) -> None:
    jobs = await store.enqueue_many([job("t", {"i": i}) for i in range(5)])
    first, second = await store.claim(Q, "w", 2)
    clock.advance(1)
    results, claimed = await store.settle_and_claim(
        [Outcome(first, OutcomeKind.COMPLETE, result={"ok": 1}, duration=0.25),
         Outcome(replace(second, token="stale"), OutcomeKind.COMPLETE)], Q, "w", 2)
    assert results == [True, False]
    assert [j.id for j in claimed] == [jobs[2].id, jobs[3].id]  # FIFO after the first two
    assert all(j.status is Status.RUNNING and j.started_at == clock() and j.attempts == 1 for j in claimed)
    done = await store.get(first.id)
    assert done.status is Status.COMPLETED and done.result == {"ok": 1}
    assert (await store.get(second.id)).status is Status.RUNNING  # the stale token changed nothing
    # nothing to settle, nothing left beyond one job; n = 0 only settles
    results, claimed = await store.settle_and_claim([], Q, "w", 10)
    assert results == [] and [j.id for j in claimed] == [jobs[4].id]
    results, claimed = await store.settle_and_claim([Outcome(claimed[0], OutcomeKind.RELEASE)], Q, "w", 0)
    assert results == [True] and claimed == []
    assert (await store.get(jobs[4].id)).status is Status.PENDING


async def test_settle_and_claim_with_outcomes_of_other_queues(store: Store, job: JobFactory) -> None:
    a = await store.enqueue(job("t", queue="a"))
    b = await store.enqueue(job("t", queue="b"))
    (held,) = await store.claim("a", "w", 1)
    results, claimed = await store.settle_and_claim([Outcome(held, OutcomeKind.COMPLETE, result=1)],
                                                    "b", "w", 5)
    assert results == [True] and [j.id for j in claimed] == [b.id]
    assert (await store.get(a.id)).status is Status.COMPLETED


async def test_claimed_state_keeps_odd_worker_ids_exact(store: Store, job: JobFactory) -> None:
    """A worker id with quotes, backslashes and non-ASCII survives the claim record (Redis writes
    a fresh job's running state without cjson)."""
    odd = 'host "a"\\b/é\t:1'
    queued = await store.enqueue(job("t", {"i": 1}))
    _, (claimed,) = await store.settle_and_claim([], Q, odd, 1)
    stored = await store.get(queued.id)
    assert claimed.worker_id == stored.worker_id == odd
    assert stored.token == claimed.token and stored.lease_until == claimed.lease_until
    assert await store.complete(claimed, result="r") is True
    assert (await store.get(queued.id)).worker_id == odd


async def test_completing_through_settle_and_claim_records_every_field(store: Store, job: JobFactory,
                                                                       clock: ManualClock) -> None:
    """The same finished record whichever way a completion is settled (Redis writes the common
    case, a fresh job completed by the worker that claimed it, without cjson)."""
    odd = 'w "1"/é'
    result = {"text": 'quote " slash / back \\ é \u2028', "n": [1, 2.5, None]}
    a, b = await store.enqueue_many([job("t", {"i": 1}), job("t", {"i": 2})])
    started = clock()
    (ca, cb) = await store.claim(Q, odd, 2)
    clock.advance(2)
    assert await store.complete(ca, result=result, duration=2.0) is True
    outcome = Outcome(cb, OutcomeKind.COMPLETE, result=result, duration=2.0)
    settled, _ = await store.settle_and_claim([outcome], Q, odd, 1)
    assert settled == [True]
    plain, fast = await store.get(a.id), await store.get(b.id)
    for done, claimed in ((plain, ca), (fast, cb)):
        assert done.status is Status.COMPLETED and done.result == result
        assert done.attempts == 1 and done.worker_id == odd and done.token is None
        assert done.started_at == started and done.finished_at == clock() and done.lease_until is None
        assert done.args == claimed.args and done.created_at == claimed.created_at
    # a stale token is refused on that path too
    assert (await store.settle_and_claim([Outcome(cb, OutcomeKind.COMPLETE)], Q, odd, 1))[0] == [False]


async def test_reaped_job_keeps_its_place_ahead_of_later_jobs(store: Store, job: JobFactory,
                                                              clock: ManualClock) -> None:
    first = await store.enqueue(job())
    (claimed,) = await store.claim(Q, "w", 1)
    later = await store.enqueue_many([job(), job(), job(priority="high")])
    clock.advance(31)
    assert (await store.reap_expired(Q)).requeued == (first.id,)
    order = [j.id for j in await store.claim(Q, "w2", 10)]
    assert order == [later[2].id, first.id, later[0].id, later[1].id]
    assert claimed.token not in {None, ""}


async def test_jobs_due_at_the_same_instant_run_in_enqueue_order(store: Store, job: JobFactory,
                                                                 clock: ManualClock) -> None:
    run_at = clock() + 10
    jobs = [job("t", {"i": i}, run_at=run_at) for i in range(20)]
    for j in jobs:
        await store.enqueue(j)
    clock.advance(10)
    assert [j.id for j in await store.claim(Q, "w", 20)] == [j.id for j in jobs]


async def test_enqueue_uses_the_store_clock_and_is_idempotent_by_id(store: Store, job: JobFactory,
                                                                    clock: ManualClock) -> None:
    stale = job("t", {"v": 1}, run_at=clock() + 50)
    clock.advance(100)  # built by a producer whose clock ran behind: run_at has passed here
    assert stale.status is Status.SCHEDULED
    stored = await store.enqueue(stale)
    assert stored.status is Status.PENDING
    again = await store.enqueue(replace(stale, args={"v": 2}))  # a client retrying its enqueue
    assert again.id == stale.id and again.args == {"v": 1}
    assert [j.id for j in await store.claim(Q, "w", 10)] == [stale.id]
    assert (await store.stats()).queues[Q].enqueued == 1


async def test_empty_calls_are_harmless(store: Store) -> None:
    assert await store.reap_expired("nothing-here") == ReapReport()
    assert await store.extend_leases(Q, {}) == LeaseReport()
    assert await store.promote_due("nothing-here") == 0
    assert await store.next_due_at("nothing-here") is None
    assert await store.enqueue_many([]) == []
    assert await store.dead("nothing-here") == []
    assert await store.replay_dead("nothing-here") == 0


async def test_time_boundaries_are_exact(make_store: StoreFactory, job: JobFactory,
                                         clock: ManualClock) -> None:
    store = await make_store(lease=30.0, worker_ttl=60.0)
    due = await store.enqueue(job(delay=10))
    clock.advance(10)  # run_at == now: due
    (claimed,) = await store.claim(Q, "w", 1)
    assert claimed.id == due.id
    clock.advance(30)  # lease_until == now: not expired yet, expired just after
    assert (await store.reap_expired(Q)).requeued == ()
    clock.advance(0.001)
    assert (await store.reap_expired(Q)).requeued == (due.id,)
    assert await store.claim_occurrence("k", 5) is True
    clock.advance(5)  # expiry == now: free again
    assert await store.claim_occurrence("k", 5) is True


async def test_enqueue_sync_stores_like_enqueue_from_any_thread(store: Store, job: JobFactory) -> None:
    import asyncio

    first = job("t", {"i": 1})
    stored = await asyncio.to_thread(store.enqueue_sync, first)
    assert stored.id == first.id and stored.status is Status.PENDING
    assert (await asyncio.to_thread(store.enqueue_sync, first)).id == first.id  # idempotent by id
    held = store.enqueue_sync(job("t", {"i": 2}, unique_key="once"))
    assert store.enqueue_sync(job("t", {"i": 3}, unique_key="once")).id == held.id
    later = store.enqueue_sync(job("t", {"i": 4}, priority="high"))
    assert [j.id for j in await store.claim(Q, "w", 10)] == [later.id, first.id, held.id]
