"""dramatiq adapter: sync actors on threads, Redis broker with per-worker ack sets, JSON."""

from __future__ import annotations

import os
import sys
import time

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from bench import probe

SETTINGS = ("dramatiq defaults: RedisBroker, CLI with --processes 1 and the default 8 threads "
            "(I/O scenario: --threads 100); default middleware (retries, time limit 10 min)")
VENV = None
IO_CONCURRENCY = True
NOTES = {
    "recovery": "unacked messages of a dead worker are requeued by broker maintenance, run on "
                "~0.1% of fetches once the worker heartbeat (60 s) is stale (not within 700 s in "
                "a one-off run)",
    "enqueue_batch": "no bulk enqueue API (group() sends one message per actor call)",
}

broker = RedisBroker(url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
dramatiq.set_broker(broker)


@dramatiq.actor(actor_name="noop")
def task_noop(x: float) -> None:
    probe.started()
    probe.done()


@dramatiq.actor(actor_name="lat")
def task_lat(t: float) -> None:
    probe.latency(t)


@dramatiq.actor(actor_name="long", time_limit=int(probe.LONG_SECONDS * 1000))
def task_long(x: float) -> None:
    probe.long_started()
    time.sleep(probe.LONG_SECONDS)


@dramatiq.actor(actor_name="sleep")
def task_sleep(x: float) -> None:
    probe.started()
    time.sleep(probe.SLEEP_SECONDS)
    probe.done()


TASKS = {"noop": task_noop, "lat": task_lat, "long": task_long, "sleep": task_sleep}


async def connect(url: str) -> RedisBroker:
    return broker


async def enqueue(handle: RedisBroker, task: str, arg: float) -> None:
    TASKS[task].send(arg)


enqueue_batch = None


async def close(handle: RedisBroker) -> None:
    handle.close()


def worker_argv(url: str, concurrency: int | None) -> list[str]:
    return [sys.executable, "-m", "dramatiq", "bench.adapters.dramatiq", "--processes", "1",
            "--threads", str(concurrency or 8)]
