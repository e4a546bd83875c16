"""saq adapter: asyncio, BLMOVE queued -> active list, JSON."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from saq import Queue, Worker

from bench import probe

SETTINGS = ("saq defaults: Worker(concurrency=10), job timeout 10 s, retries 1, sweep every 60 s, "
            "results kept 600 s")
VENV = None
IO_CONCURRENCY = True
NOTES = {
    "recovery": "the sweep (every 60 s) aborts a job whose worker is gone; with the default "
                "retries=1 it is not run again (not within 700 s in a one-off run)",
    "enqueue_batch": "no bulk enqueue API (Queue.map enqueues one by one and waits for results)",
}


async def task_noop(ctx: dict[str, Any], *, x: float) -> None:
    probe.started()
    probe.done()


async def task_lat(ctx: dict[str, Any], *, x: float) -> None:
    probe.latency(x)


async def task_long(ctx: dict[str, Any], *, x: float) -> None:
    probe.long_started()
    await asyncio.sleep(probe.LONG_SECONDS)


async def task_sleep(ctx: dict[str, Any], *, x: float) -> None:
    probe.started()
    await asyncio.sleep(probe.SLEEP_SECONDS)
    probe.done()


FUNCTIONS: list[Any] = [("noop", task_noop), ("lat", task_lat), ("long", task_long), ("sleep", task_sleep)]


async def connect(url: str) -> Queue:
    queue = Queue.from_url(url)
    await queue.connect()
    return queue


async def enqueue(queue: Queue, task: str, arg: float) -> None:
    await queue.enqueue(task, x=arg)


enqueue_batch = None


async def close(queue: Queue) -> None:
    await queue.disconnect()


def worker_argv(url: str, concurrency: int | None) -> list[str]:
    return [sys.executable, "-m", "bench.workerproc", "saq", url, str(concurrency or 0)]


def run_worker(url: str, concurrency: int | None) -> None:
    async def main() -> None:
        queue = await connect(url)
        kwargs: dict[str, Any] = {}
        if concurrency:
            kwargs["concurrency"] = concurrency
        await Worker(queue, FUNCTIONS, **kwargs).start()

    asyncio.run(main())
