"""taskiq adapter: asyncio, taskiq-redis RedisStreamBroker (consumer group + XACK), JSON."""

from __future__ import annotations

import asyncio
import os
import sys

from taskiq_redis import RedisStreamBroker

from bench import probe

SETTINGS = ("taskiq + taskiq-redis RedisStreamBroker (the broker the taskiq-redis README uses; "
            "acknowledges after the result is saved), no result backend (taskiq's default), "
            "`taskiq worker --workers 1` (default 2), default max_async_tasks=100")
VENV = None
IO_CONCURRENCY = True
NOTES = {
    "recovery": "unacked stream entries idle for idle_timeout = 10 min are reclaimed by XAUTOCLAIM, "
                "which runs only after a read returned new messages: on an idle queue, never (not "
                "within 700 s in a one-off run)",
    "enqueue_batch": "no bulk enqueue API",
}

broker = RedisStreamBroker(url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))


@broker.task(task_name="noop")
async def task_noop(x: float) -> None:
    probe.started()
    probe.done()


@broker.task(task_name="lat")
async def task_lat(t: float) -> None:
    probe.latency(t)


@broker.task(task_name="long")
async def task_long(x: float) -> None:
    probe.long_started()
    await asyncio.sleep(probe.LONG_SECONDS)


@broker.task(task_name="sleep")
async def task_sleep(x: float) -> None:
    probe.started()
    await asyncio.sleep(probe.SLEEP_SECONDS)
    probe.done()


TASKS = {"noop": task_noop, "lat": task_lat, "long": task_long, "sleep": task_sleep}


async def connect(url: str) -> RedisStreamBroker:
    await broker.startup()
    return broker


async def enqueue(handle: RedisStreamBroker, task: str, arg: float) -> None:
    await TASKS[task].kiq(arg)


enqueue_batch = None


async def close(handle: RedisStreamBroker) -> None:
    await handle.shutdown()


def worker_argv(url: str, concurrency: int | None) -> list[str]:
    argv = [sys.executable, "-m", "taskiq", "worker", "bench.adapters.taskiq:broker", "--workers", "1",
            "--log-level", "WARNING"]
    if concurrency:
        argv += ["--max-async-tasks", str(concurrency)]
    return argv
