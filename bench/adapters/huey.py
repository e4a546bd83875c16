"""huey adapter: sync, RedisHuey (BRPOP, no ack), pickle, thread workers."""

from __future__ import annotations

import os
import sys
import time

from huey import RedisHuey

from bench import probe

SETTINGS = ("huey defaults: RedisHuey (blocking BRPOP, results stored), huey_consumer with the "
            "default 1 thread worker (I/O scenario: -w 100 -k thread)")
VENV = None
IO_CONCURRENCY = True
NOTES = {
    "recovery": "BRPOP without acknowledgement: a killed worker's job is lost",
    "enqueue_batch": "no bulk enqueue API (task.map() enqueues one by one)",
}

huey = RedisHuey("bench", url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))


@huey.task(name="noop")
def task_noop(x: float) -> None:
    probe.started()
    probe.done()


@huey.task(name="lat")
def task_lat(t: float) -> None:
    probe.latency(t)


@huey.task(name="long")
def task_long(x: float) -> None:
    probe.long_started()
    time.sleep(probe.LONG_SECONDS)


@huey.task(name="sleep")
def task_sleep(x: float) -> None:
    probe.started()
    time.sleep(probe.SLEEP_SECONDS)
    probe.done()


TASKS = {"noop": task_noop, "lat": task_lat, "long": task_long, "sleep": task_sleep}


async def connect(url: str) -> RedisHuey:
    return huey


async def enqueue(handle: RedisHuey, task: str, arg: float) -> None:
    TASKS[task](arg)


enqueue_batch = None


async def close(handle: RedisHuey) -> None:
    handle.storage.conn.close()


def worker_argv(url: str, concurrency: int | None) -> list[str]:
    exe = os.path.join(os.path.dirname(sys.executable), "huey_consumer")
    argv = [sys.executable, exe, "bench.adapters.huey.huey", "--logfile", os.devnull, "--quiet"]
    if concurrency:
        argv += ["--workers", str(concurrency), "--worker-type", "thread"]
    return argv
