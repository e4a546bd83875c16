"""Contract: MemoryStore and RedisStore, fed the same random operations, end in the same state."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import asdict, replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swell.clock import ManualClock
from swell.errors import SwellError
from swell.job import Job, JobError, Status, new_job
from swell.settings import Settings
from swell.store.base import JobFilter, Outcome, OutcomeKind, Store

from .contract_support import build_store

QUEUES = ("default", "other")
ERROR = JobError("Boom", "random failure")

ENQUEUE = st.tuples(st.just("enqueue"), st.integers(0, 3), st.sampled_from([0, 0, 5, 40]),
                    st.sampled_from([None, "acme", "beta"]), st.sampled_from([None, None, "u1", "u2"]),
                    st.sampled_from(QUEUES))
CLAIM = st.tuples(st.just("claim"), st.integers(1, 4), st.sampled_from(QUEUES))
SETTLE = st.tuples(st.sampled_from(["complete", "complete", "retry", "fail", "release"]), st.integers(0, 20))
OP = st.one_of(
    ENQUEUE, ENQUEUE, ENQUEUE, CLAIM, CLAIM, SETTLE, SETTLE,
    st.tuples(st.just("cancel"), st.integers(0, 40)),
    st.tuples(st.just("replay"), st.integers(0, 40)),
    st.tuples(st.just("advance"), st.sampled_from([1, 10, 31])),
    st.tuples(st.sampled_from(["reap", "promote", "replay_dead"]), st.sampled_from(QUEUES)),
    st.tuples(st.just("purge"), st.sampled_from([Status.COMPLETED, Status.FAILED, Status.CANCELLED])),
    st.tuples(st.just("extend"), st.sampled_from(QUEUES)),
    st.tuples(st.just("settle"), st.lists(st.sampled_from(list(OutcomeKind)), min_size=1, max_size=4)),
)


def normal(job: Job) -> dict[str, Any]:
    """A job's record without its random lease token (only whether it has one)."""
    d = asdict(job)
    d["token"] = job.token is not None
    return d


@pytest.fixture
def redis_prefix(request: pytest.FixtureRequest) -> tuple[str, str]:
    try:
        import swell.store.redis  # noqa: F401
    except ImportError as exc:
        if exc.name == "swell.store.redis":
            pytest.skip("RedisStore not written yet")
        raise
    return str(request.getfixturevalue("redis_url")), str(request.getfixturevalue("key_prefix"))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(OP, min_size=10, max_size=40))
def test_memory_and_redis_stores_agree(ops: list[tuple[Any, ...]], redis_prefix: tuple[str, str]) -> None:
    url, prefix = redis_prefix
    asyncio.run(_compare(ops, url, f"{prefix}-{uuid.uuid4().hex[:6]}"))


async def _compare(ops: list[tuple[Any, ...]], redis_url: str, prefix: str) -> None:
    clock = ManualClock()
    cfg = Settings(key_prefix=prefix, max_redeliveries=1, completed_max=6, dead_max=4)
    memory = await build_store("memory", cfg, clock)
    redis = await build_store("redis", cfg, clock, redis_url=redis_url)
    ids: list[str] = []
    held: list[tuple[Job, Job]] = []  # (memory's claim, redis's claim) of one job
    try:
        for step, op in enumerate(ops):
            kind = op[0]
            if kind == "enqueue":
                _, prio, delay, tenant, unique, queue = op
                j = new_job("t", {"step": step}, now=clock(), priority=prio, delay=delay or None,
                            tenant=tenant, unique_key=unique, queue=queue)
                a, b = await memory.enqueue(j), await redis.enqueue(j)
                assert normal(a) == normal(b), op
                ids.append(j.id)
            elif kind == "claim":
                a_jobs, b_jobs = await memory.claim(op[2], "w", op[1]), await redis.claim(op[2], "w", op[1])
                assert [normal(j) for j in a_jobs] == [normal(j) for j in b_jobs], op
                held.extend(zip(a_jobs, b_jobs, strict=True))
            elif kind in ("complete", "retry", "fail", "release") and held:
                a_job, b_job = held.pop(op[1] % len(held))
                results = []
                for store, j in ((memory, a_job), (redis, b_job)):
                    if kind == "complete":
                        results.append(await store.complete(j, {"n": step}, duration=0.5))
                    elif kind == "retry":
                        results.append(await store.retry(j, ERROR, delay=5))
                    elif kind == "fail":
                        results.append(await store.fail(j, ERROR, reason="random"))
                    else:
                        results.append(await store.release(j))
                assert results[0] == results[1], op
            elif kind in ("cancel", "replay") and ids:
                job_id = ids[op[1] % len(ids)]
                outcomes = []
                for store in (memory, redis):
                    try:
                        call = store.cancel if kind == "cancel" else store.replay
                        outcomes.append(normal(await call(job_id)))
                    except SwellError as exc:
                        outcomes.append(type(exc).__name__)  # type: ignore[arg-type]
                assert outcomes[0] == outcomes[1], op
            elif kind == "extend":
                reports = [await store.extend_leases(op[1], {j.id: j.token or "" for j in mine})
                           for store, mine in ((memory, [h[0] for h in held if h[0].queue == op[1]]),
                                               (redis, [h[1] for h in held if h[1].queue == op[1]]))]
                assert reports[0] == reports[1], op
            elif kind == "settle" and held:
                batch, held = held[:len(op[1])], held[len(op[1]):]
                outs = []
                for store, side in ((memory, 0), (redis, 1)):
                    outs.append(await store.settle([
                        Outcome(pair[side], k, result={"s": step}, error=ERROR, delay=3.0,
                                reason="random", duration=0.25)
                        for pair, k in zip(batch, op[1], strict=False)]))
                assert outs[0] == outs[1], op
            elif kind == "advance":
                clock.advance(op[1])
            elif kind == "reap":
                a_rep, b_rep = await memory.reap_expired(op[1]), await redis.reap_expired(op[1])
                assert (sorted(a_rep.requeued), sorted(a_rep.dead)) == (
                    sorted(b_rep.requeued), sorted(b_rep.dead)), op
                lost = set(a_rep.requeued) | set(a_rep.dead)
                held = [h for h in held if h[0].id not in lost]
                held = [h for h in held if (await memory.get(h[0].id)).status is Status.RUNNING]
            elif kind == "promote":
                assert await memory.promote_due(op[1]) == await redis.promote_due(op[1]), op
            elif kind == "replay_dead":
                assert await memory.replay_dead(op[1]) == await redis.replay_dead(op[1]), op
            elif kind == "purge":
                assert await memory.purge(None, (op[1],)) == await redis.purge(None, (op[1],)), op
        await _same_state(memory, redis, ids)
    finally:
        await memory.close()
        await redis.close()


async def _same_state(memory: Store, redis: Store, ids: list[str]) -> None:
    for job_id in ids:
        found = []
        for store in (memory, redis):
            try:
                found.append(normal(await store.get(job_id)))
            except SwellError as exc:
                found.append({"error": type(exc).__name__})
        assert found[0] == found[1], job_id
    a_stats, b_stats = await memory.stats(), await redis.stats()
    assert a_stats.tenants == b_stats.tenants
    assert set(a_stats.queues) == set(b_stats.queues)
    for name, q in a_stats.queues.items():
        assert replace(q, oldest_pending_age=0.0) == replace(b_stats.queues[name], oldest_pending_age=0.0)
        assert q.oldest_pending_age == pytest.approx(b_stats.queues[name].oldest_pending_age, abs=0.01)
        for status in Status:
            where = JobFilter(queue=name, status=status, limit=1000)
            assert [j.id for j in await memory.find(where)] == [j.id for j in await redis.find(where)]
        assert [j.id for j in await memory.dead(name)] == [j.id for j in await redis.dead(name)]
