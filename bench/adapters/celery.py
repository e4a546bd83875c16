"""celery adapter: sync, kombu Redis transport, prefork pool, JSON."""

from __future__ import annotations

import os
import sys
import time

from celery import Celery

from bench import probe

SETTINGS = ("celery defaults (prefork pool, early ack, prefetch multiplier 4, no result backend) with "
            "--concurrency 1 so one process runs the jobs; I/O scenario: --pool threads "
            "--concurrency 100 (the documented choice for I/O-bound work in one process)")
VENV = None
IO_CONCURRENCY = True
NOTES = {
    "recovery": "default early ack: a killed worker's job is lost; with acks_late it would come "
                "back after visibility_timeout = 1 h",
    "enqueue_batch": "no bulk publish API (group() sends one message per task)",
}

app = Celery("bench", broker=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
app.conf.worker_hijack_root_logger = False


@app.task(name="noop")
def task_noop(x: float) -> None:
    probe.started()
    probe.done()


@app.task(name="lat")
def task_lat(t: float) -> None:
    probe.latency(t)


@app.task(name="long")
def task_long(x: float) -> None:
    probe.long_started()
    time.sleep(probe.LONG_SECONDS)


@app.task(name="sleep")
def task_sleep(x: float) -> None:
    probe.started()
    time.sleep(probe.SLEEP_SECONDS)
    probe.done()


TASKS = {"noop": task_noop, "lat": task_lat, "long": task_long, "sleep": task_sleep}


async def connect(url: str) -> Celery:
    return app


async def enqueue(handle: Celery, task: str, arg: float) -> None:
    TASKS[task].delay(arg)


enqueue_batch = None


async def close(handle: Celery) -> None:
    handle.close()


def worker_argv(url: str, concurrency: int | None) -> list[str]:
    argv = [sys.executable, "-m", "celery", "-A", "bench.adapters.celery", "worker", "--loglevel", "WARNING"]
    if concurrency:
        return [*argv, "--pool", "threads", "--concurrency", str(concurrency)]
    return [*argv, "--concurrency", "1"]
