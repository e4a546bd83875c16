"""Push wake-ups on Redis: an idle worker starts a job enqueued by another process at once,
not at its next poll (RedisStore.wait_for_work over pub/sub)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio
from worker_support import running_worker, wait_for, wait_status

from swell import worker as worker_module
from swell.app import App
from swell.job import Job, Status, new_job
from swell.settings import Settings
from swell.store.keys import wake_channel
from swell.store.redis import RedisStore


@pytest.fixture
async def stores(redis_url: str, key_prefix: str) -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    """Two stores on one Redis, like two processes."""
    made = [RedisStore.from_url(redis_url, settings=Settings(key_prefix=key_prefix)) for _ in range(2)]
    yield made[0], made[1]
    for store in made:
        await store.close()


def job(**options: Any) -> Job:
    return new_job("t", None, now=time.time(), **options)


async def subscribers(redis_url: str, channel: str) -> int:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        ((_, n),) = await client.pubsub_numsub(channel)
        return int(n)
    finally:
        await client.aclose()


async def test_wait_for_work_is_woken_by_another_stores_enqueue(
        stores: tuple[RedisStore, RedisStore], redis_url: str, key_prefix: str) -> None:
    waiting, other = stores
    assert await waiting.wait_for_work(["q"], 0.05) is False  # nothing happened: times out
    task = asyncio.create_task(waiting.wait_for_work(["q", "r"], 30.0))
    await wait_for(lambda: _true_after(subscribers(redis_url, wake_channel(key_prefix, "r")), 1))
    await other.enqueue(job(queue="r"))
    assert await asyncio.wait_for(task, 30) is True  # woken, not timed out
    # A delayed job is not ready: no wake-up; its promotion is one.
    task = asyncio.create_task(waiting.wait_for_work(["q"], 0.5))
    await other.enqueue(job(queue="q", delay=3600))
    assert await task is False
    # A queue that already holds ready jobs does not wake anyone per job (workers are not idle).
    await other.enqueue(job(queue="q"))  # empty -> one ready: wake (missed: kept)
    assert await waiting.wait_for_work(["q"], 5.0) is True
    task = asyncio.create_task(waiting.wait_for_work(["q"], 0.5))
    await other.enqueue(job(queue="q"))
    assert await task is False
    # A running job given back (release, reap) is ready again: wake-up.
    (claimed, *_) = await other.claim("q", "w", 10)
    task = asyncio.create_task(waiting.wait_for_work(["q"], 30.0))
    await other.release(claimed)
    assert await asyncio.wait_for(task, 30) is True


async def _true_after(count: Any, at_least: int) -> bool:
    return bool(await count >= at_least)


async def test_wait_for_work_times_out_quietly_when_redis_is_down(redis_server: Any) -> None:
    store = RedisStore.from_url(redis_server.url, settings=Settings(key_prefix="push-outage"))
    try:
        redis_server.stop()
        assert await store.wait_for_work(["q"], 0.2) is False  # no exception: the worker polls
        assert await store.wait_for_work(["q"], 0.2) is False
    finally:
        await store.close()


async def test_an_idle_worker_starts_a_job_from_another_process_without_polling(
        stores: tuple[RedisStore, RedisStore], redis_url: str, key_prefix: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Every idle wait lasts 5 s: a job started much sooner was pushed, not polled.
    monkeypatch.setattr(worker_module, "MIN_POLL", 5.0)
    worker_store, producer_store = stores
    app = App(worker_store)
    started = asyncio.Event()

    @app.job()
    async def hello(args: Any) -> str:
        started.set()
        return "hi"

    producer = App(producer_store)
    async with running_worker(app, poll_interval=5.0, scheduler=False):
        channel = wake_channel(key_prefix, "default")
        await wait_for(lambda: _true_after(subscribers(redis_url, channel), 1))
        loop = asyncio.get_running_loop()
        for _ in range(3):
            started.clear()
            t0 = loop.time()
            job = await producer.enqueue("hello")
            await asyncio.wait_for(started.wait(), 30)
            assert loop.time() - t0 < 2.0  # far below the 5 s poll: the push woke the worker
            await wait_status(producer, job.id, Status.COMPLETED)
