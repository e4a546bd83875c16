"""rq adapter: sync, the default Worker forks a work horse per job, pickle."""

from __future__ import annotations

import sys
import time
from typing import Any

from redis import Redis
from rq import Queue, Worker

from bench import probe

SETTINGS = ("rq defaults: rq.Worker (forks one work horse per job, which dominates its throughput), "
            "job timeout 180 s, result_ttl 500 s")
VENV = None
IO_CONCURRENCY = False
NOTES = {
    "recovery": "the dead worker's job goes to the FailedJobRegistry (maintenance every 10 min); "
                "it is not run again unless it raised Retry",
    "io_bound": "one rq worker runs one job at a time (concurrency 100 needs 100 processes: "
                "rq worker-pool), so there is no concurrency-100 figure for one process",
    "enqueue_batch": "Queue.enqueue_many (one pipeline per batch)",
}


def task_noop(x: float) -> None:
    probe.done_shared()  # the work horse is a fresh fork: count in Redis


def task_lat(t: float) -> None:
    probe.latency(t)


def task_long(x: float) -> None:
    probe.long_started()
    time.sleep(probe.LONG_SECONDS)


def task_sleep(x: float) -> None:
    time.sleep(probe.SLEEP_SECONDS)
    probe.done_shared()


TASKS = {"noop": task_noop, "lat": task_lat, "long": task_long, "sleep": task_sleep}


async def connect(url: str) -> Queue:
    return Queue("default", connection=Redis.from_url(url))


async def enqueue(queue: Queue, task: str, arg: float) -> None:
    queue.enqueue(TASKS[task], arg)


async def enqueue_batch(queue: Queue, task: str, args: list[float]) -> None:
    fn = TASKS[task]
    queue.enqueue_many([Queue.prepare_data(fn, (a,)) for a in args])


async def close(queue: Queue) -> None:
    queue.connection.close()


def worker_argv(url: str, concurrency: int | None) -> list[str]:
    return [sys.executable, "-m", "bench.workerproc", "rq", url, "0"]


def run_worker(url: str, concurrency: int | None) -> None:
    connection: Any = Redis.from_url(url)
    Worker([Queue("default", connection=connection)], connection=connection).work(logging_level="WARNING")
