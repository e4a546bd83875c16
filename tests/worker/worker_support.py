"""Helpers of the worker suite: polling with a deadline and a worker running in the background."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from swell.app import App
from swell.job import Job, Status
from swell.worker import Worker

AppFactory = Callable[..., Awaitable[App]]


async def wait_for(predicate: Callable[[], Awaitable[bool]], timeout: float = 15.0,
                   interval: float = 0.02) -> None:
    """Poll ``predicate`` until true; fail after ``timeout`` s (generous: the CI box is loaded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        if loop.time() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


async def wait_status(app: App, job_id: str, *statuses: Status, timeout: float = 15.0) -> Job:
    async def reached() -> bool:
        return (await app.get(job_id)).status in statuses

    await wait_for(reached, timeout)
    return await app.get(job_id)


@contextlib.asynccontextmanager
async def running_worker(app: App, **options: Any) -> AsyncIterator[Worker]:
    """A worker running in a background task; stopped (and awaited) on exit."""
    options.setdefault("handle_signals", False)
    worker = Worker(app, **options)
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)
