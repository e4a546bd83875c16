"""arq adapter: asyncio, one ZSET per queue, pickle, polling every 0.5 s."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker, func

from bench import probe

SETTINGS = ("arq defaults: Worker(max_jobs=10, poll_delay=0.5 s, job_timeout=300 s, keep_result=3600 s); "
            "own venv (arq pins redis-py < 6)")
VENV = "arq-env"
IO_CONCURRENCY = True
NOTES = {
    "recovery": "in-progress key TTL = job_timeout + 10 s = 310 s by default, so a killed job "
                "is re-run after ~310 s (> cap; 310 s measured in a one-off run with a 700 s cap)",
    "enqueue_batch": "no bulk enqueue API",
}


async def task_noop(ctx: dict[str, Any], x: float) -> None:
    probe.started()
    probe.done()


async def task_lat(ctx: dict[str, Any], t: float) -> None:
    probe.latency(t)


async def task_long(ctx: dict[str, Any], x: float) -> None:
    probe.long_started()
    await asyncio.sleep(probe.LONG_SECONDS)


async def task_sleep(ctx: dict[str, Any], x: float) -> None:
    probe.started()
    await asyncio.sleep(probe.SLEEP_SECONDS)
    probe.done()


FUNCTIONS = [func(task_noop, name="noop"), func(task_lat, name="lat"), func(task_long, name="long"),
             func(task_sleep, name="sleep")]


async def connect(url: str) -> ArqRedis:
    return await create_pool(RedisSettings.from_dsn(url))


async def enqueue(pool: ArqRedis, task: str, arg: float) -> None:
    await pool.enqueue_job(task, arg)


enqueue_batch = None


async def close(pool: ArqRedis) -> None:
    await pool.aclose()


def worker_argv(url: str, concurrency: int | None) -> list[str]:
    return [sys.executable, "-m", "bench.workerproc", "arq", url, str(concurrency or 0)]


def run_worker(url: str, concurrency: int | None) -> None:
    kwargs: dict[str, Any] = {}
    if concurrency:
        kwargs["max_jobs"] = concurrency
    Worker(functions=FUNCTIONS, redis_settings=RedisSettings.from_dsn(url), **kwargs).run()
