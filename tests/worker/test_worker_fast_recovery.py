"""Crash recovery with DEFAULT settings: a SIGKILLed worker's job starts again within seconds,
long before its 30 s lease could expire (dead-worker detection), while a live worker running a
job longer than ``worker_dead_after`` keeps it (Redis only)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_worker_process import start_worker
from worker_app import build_app, runs, slow
from worker_support import running_worker, wait_for, wait_status

from swell.app import App
from swell.job import Status
from swell.settings import Settings
from swell.stats import WorkerInfo

pytestmark = pytest.mark.slow


async def _true(value: bool) -> bool:
    return value


async def test_sigkill_with_default_settings_restarts_the_job_long_before_the_lease(
        redis_url: str, key_prefix: str, tmp_path: Path) -> None:
    pytest.importorskip("swell.store.redis")
    app = build_app(redis_url, key_prefix, lease=0)
    try:
        assert app.settings == Settings(key_prefix=key_prefix) and app.settings.lease == 30.0
        marker = str(tmp_path / "marker")
        job = await app.enqueue("slow", {"marker": marker, "first": 120, "then": 0})
        proc = start_worker(redis_url, key_prefix, tmp_path / "worker.log", lease=0)
        try:
            await wait_status(app, job.id, Status.RUNNING, timeout=30)
            await wait_for(lambda: _true(runs(marker) == 1), timeout=30)
        finally:
            proc.kill()
            proc.wait()
        killed_at = app.clock()
        held = await app.get(job.id)
        assert held.status is Status.RUNNING and held.lease_until is not None
        async with running_worker(app):  # a second worker, default options
            done = await wait_status(app, job.id, Status.COMPLETED, timeout=40)
        assert done.result == "run 2" and done.redeliveries == 1 and runs(marker) == 2
        assert done.started_at is not None
        # Restarted while the dead worker's lease was still valid, and within ~10 s (15 s of slack).
        assert done.started_at < held.lease_until
        assert done.started_at - killed_at < 15.0, done.started_at - killed_at
    finally:
        await app.close()


async def test_a_live_worker_keeps_a_job_longer_than_dead_after(redis_url: str, key_prefix: str,
                                                                tmp_path: Path) -> None:
    """Two workers with default settings sweep each other: the long job of the live one is
    never taken away."""
    pytest.importorskip("swell.store.redis")
    from swell.store.redis import RedisStore

    apps = [App(RedisStore.from_url(redis_url, settings=Settings(key_prefix=key_prefix)))
            for _ in range(2)]
    for app in apps:
        app.register("slow", slow)
    try:
        assert apps[0].settings.worker_dead_after == 5.0
        marker = str(tmp_path / "marker")
        async with running_worker(apps[0]), running_worker(apps[1]):
            job = await apps[0].enqueue("slow", {"marker": marker, "first": 7.0})
            done = await wait_status(apps[0], job.id, Status.COMPLETED, timeout=40)
        assert done.redeliveries == 0 and done.attempts == 1 and runs(marker) == 1
    finally:
        for app in apps:
            await app.close()


async def test_waiting_for_the_lease_when_dead_worker_detection_is_off(
        redis_url: str, key_prefix: str, tmp_path: Path) -> None:
    """worker_dead_after=0: a crashed worker's job waits for the lease (short here)."""
    pytest.importorskip("swell.store.redis")
    from swell.store.redis import RedisStore

    settings = Settings(key_prefix=key_prefix, lease=3.0, reap_interval=0.5, worker_dead_after=0.0)
    app = App(RedisStore.from_url(redis_url, settings=settings))
    app.register("slow", slow)
    try:
        job = await app.enqueue("slow", {"marker": str(tmp_path / "m"), "first": 0})
        await app.store.register_worker(WorkerInfo(id="crashed", host="h", pid=1, queues=("default",),
                                                   concurrency=1))  # and never beats again
        (claimed,) = await app.store.claim("default", "crashed", 1)
        async with running_worker(app, heartbeat_interval=0.2):
            done = await wait_status(app, job.id, Status.COMPLETED, timeout=30)
        assert claimed.lease_until is not None and done.started_at is not None
        assert done.started_at >= claimed.lease_until and done.redeliveries == 1
    finally:
        await app.close()
