"""Helpers of the monitoring tests: a seeded store and how each Store under test is built."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from swell.clock import ManualClock
from swell.job import Job, JobError, Status, new_job
from swell.settings import Settings
from swell.stats import WorkerInfo
from swell.store.base import JobFilter, Schedule, Store
from swell.store.memory import MemoryStore

TOKEN = "s3cret-token"
TRACEBACK = 'Traceback (most recent call last):\n  File "reports.py", line 3\nValueError: boom <b>'


@dataclass
class Seeded:
    """What ``seed`` put in the store, by role."""

    mail: list[str] = field(default_factory=list)  # pending email.send jobs (tenants acme/globex)
    reports: list[str] = field(default_factory=list)  # pending report.build jobs (high priority)
    dead: str = ""
    completed: str = ""
    running: str = ""
    scheduled: str = ""


async def make_store(kind: str, clock: ManualClock, request: pytest.FixtureRequest) -> Store:
    if kind == "memory":
        return MemoryStore(Settings(), clock)
    try:
        from swell.store.redis import RedisStore
    except ImportError as exc:
        if exc.name == "swell.store.redis":
            pytest.skip("RedisStore not written yet")
        raise
    settings = Settings(key_prefix=request.getfixturevalue("key_prefix"))
    store: Any = RedisStore.from_url(request.getfixturevalue("redis_url"), settings=settings, clock=clock)
    if inspect.isawaitable(store):
        store = await store
    return store  # type: ignore[no-any-return]


async def seed(store: Store, clock: ManualClock) -> Seeded:
    """5 mail jobs (1 completed, 4 pending), 3 report jobs (1 dead, 1 running, 1 pending),
    1 scheduled cleanup job, a live worker and a schedule."""
    s = Seeded()
    for i in range(5):
        job = await store.enqueue(new_job("email.send", {"to": f"user{i}@example.com"}, now=clock(),
                                          queue="mail", tenant="acme" if i % 2 else "globex"))
        s.mail.append(job.id)
        clock.advance(1)
    for i in range(3):
        job = await store.enqueue(new_job("report.build", {"n": i, "html": "<script>x</script>"},
                                          now=clock(), queue="reports", priority="high"))
        s.reports.append(job.id)
        clock.advance(1)
    [dead] = await store.claim("reports", "worker-1", 1)
    assert await store.fail(dead, JobError("ValueError", "boom <b>", TRACEBACK), reason="permanent error",
                            duration=0.5)
    s.dead = dead.id
    s.reports.remove(dead.id)
    [running] = await store.claim("reports", "worker-1", 1)
    s.running = running.id
    s.reports.remove(running.id)
    [done] = await store.claim("mail", "worker-1", 1)
    assert await store.complete(done, {"sent": True}, duration=0.25)
    s.completed = done.id
    s.mail.remove(done.id)
    later = await store.enqueue(new_job("cleanup", {}, now=clock(), queue="maintenance", delay=3600))
    s.scheduled = later.id
    await store.register_worker(WorkerInfo(
        id="worker-1", host="node-a", pid=4242, queues=("mail", "reports"), concurrency=4,
        running=(running.id,), processed=2, failed=1, started_at=clock() - 60, last_heartbeat=clock()))
    await store.save_schedule(Schedule(name="nightly-report", type="report.build", cron="0 3 * * *",
                                       queue="reports", args={"n": 99}))
    return s


ClientFactory = Callable[..., httpx.AsyncClient]


async def all_jobs(store: Store) -> dict[str, Job]:
    """Every job the store holds, found status by status."""
    found: dict[str, Job] = {}
    for status in Status:
        for job in await store.find(JobFilter(status=status, limit=10_000)):
            found[job.id] = job
    return found
