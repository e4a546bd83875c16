"""swell adapter: asyncio Worker on RedisStore (Lua transitions, leases, batched settle), JSON."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from bench import probe
from swell.app import App
from swell.worker import Worker

SETTINGS = ("swell defaults: App(redis_url=...), Worker(concurrency=10), lease 30 s, reap every 5 s, "
            "completed jobs kept (24 h / 10,000 per queue); I/O scenario: concurrency=100")
VENV = None
IO_CONCURRENCY = True
NOTES = {
    "enqueue_batch": "App.enqueue_many (one round trip per batch)",
}


def make_app(url: str) -> App:
    app = App(redis_url=url)

    @app.job("noop")
    async def task_noop(x: Any) -> None:
        probe.started()
        probe.done()

    @app.job("lat")
    async def task_lat(t: Any) -> None:
        probe.latency(t)

    @app.job("long")
    async def task_long(x: Any) -> None:
        probe.long_started()
        await asyncio.sleep(probe.LONG_SECONDS)

    @app.job("sleep")
    async def task_sleep(x: Any) -> None:
        probe.started()
        await asyncio.sleep(probe.SLEEP_SECONDS)
        probe.done()

    return app


async def connect(url: str) -> App:
    return make_app(url)


async def enqueue(app: App, task: str, arg: float) -> None:
    await app.enqueue(task, arg)


async def enqueue_batch(app: App, task: str, args: list[float]) -> None:
    await app.enqueue_many([(task, a) for a in args])


async def close(app: App) -> None:
    await app.close()


def worker_argv(url: str, concurrency: int | None) -> list[str]:
    return [sys.executable, "-m", "bench.workerproc", "swell", url, str(concurrency or 0)]


def run_worker(url: str, concurrency: int | None) -> None:
    async def main() -> None:
        app = make_app(url)
        worker = Worker(app, concurrency=concurrency) if concurrency else Worker(app)
        try:
            await worker.run()
        finally:
            await app.close()

    asyncio.run(main())
