"""Worker processes under signals and crashes, and a worker riding out a Redis outage (Redis only)."""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis
from worker_app import build_app, runs
from worker_support import running_worker, wait_for, wait_status

from swell.app import App
from swell.job import Status

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent


@pytest.fixture
async def redis_app(redis_url: str, key_prefix: str) -> AsyncIterator[App]:
    pytest.importorskip("swell.store.redis")
    app = build_app(redis_url, key_prefix, lease=1.0)
    yield app
    await app.close()


def start_worker(redis_url: str, key_prefix: str, log: Path, *, lease: float = 1.0, grace: float = 10.0
                 ) -> subprocess.Popen[bytes]:
    """The worker of worker_app.py in a subprocess; its log goes to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, str(HERE / "worker_app.py"), redis_url, key_prefix, str(lease), str(grace)],
            stdout=subprocess.DEVNULL, stderr=out,
        )


async def wait_exit(proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> tuple[int, str]:
    code = await asyncio.to_thread(proc.wait, timeout)
    return code, await asyncio.to_thread(log.read_text, errors="replace")


async def test_sigterm_finishes_or_returns_running_jobs_and_exits_0(
        redis_app: App, redis_url: str, key_prefix: str, tmp_path: Path) -> None:
    quick = await redis_app.enqueue("slow", {"marker": str(tmp_path / "quick"), "first": 1.0})
    stuck = await redis_app.enqueue("slow_sync", {"marker": str(tmp_path / "stuck"), "first": 60})
    log = tmp_path / "worker.log"
    proc = start_worker(redis_url, key_prefix, log, grace=3.0)
    try:
        for job in (quick, stuck):
            await wait_status(redis_app, job.id, Status.RUNNING, timeout=30)
        proc.send_signal(signal.SIGTERM)
        code, err = await wait_exit(proc, log)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0, err
    assert "SIGTERM received" in err
    done = await redis_app.get(quick.id)
    assert done.status is Status.COMPLETED and done.result == "run 1"
    back = await redis_app.get(stuck.id)
    assert back.status is Status.PENDING and back.attempts == 0  # given back, attempt not counted
    assert await redis_app.store.workers() == []  # unregistered on exit


async def test_sigkill_mid_job_runs_it_again_once_after_the_lease(
        redis_app: App, redis_url: str, key_prefix: str, tmp_path: Path) -> None:
    marker = str(tmp_path / "marker")
    job = await redis_app.enqueue("slow", {"marker": marker, "first": 60, "then": 0})
    proc = start_worker(redis_url, key_prefix, tmp_path / "worker.log", lease=1.0)
    try:
        await wait_status(redis_app, job.id, Status.RUNNING, timeout=30)
        await wait_for(lambda: _true(runs(marker) == 1))
    finally:
        proc.kill()
        proc.wait()
    assert (await redis_app.get(job.id)).status is Status.RUNNING  # the crash left it claimed
    async with running_worker(redis_app, heartbeat_interval=0.2):
        done = await wait_status(redis_app, job.id, Status.COMPLETED, timeout=30)
    assert done.result == "run 2" and done.redeliveries == 1 and runs(marker) == 2


async def _true(value: bool) -> bool:
    return value


async def test_redis_outage_and_recovery(redis_server: Any, tmp_path: Path,
                                         caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("swell.store.redis")
    caplog.set_level(logging.INFO, logger="swell.worker")
    app = build_app(redis_server.url, "outage", lease=30.0)
    release = asyncio.Event()
    started = asyncio.Event()

    @app.job()
    async def gate(args: dict[str, Any]) -> str:
        started.set()
        await release.wait()
        return "through"

    try:
        held = await app.enqueue("gate")
        queued = [await app.enqueue("slow", {"marker": str(tmp_path / f"m{i}")}) for i in range(5)]
        async with running_worker(app, concurrency=1, max_backoff=0.5, heartbeat_interval=0.2) as worker:
            await asyncio.wait_for(started.wait(), 15)
            client = redis.Redis.from_url(redis_server.url)
            client.save()  # the restarted server reloads this snapshot (the fixture runs without AOF)
            client.close()
            redis_server.stop()
            release.set()  # the job finishes during the outage: its outcome must be kept
            await asyncio.sleep(1.5)  # let the outage last several backoff rounds
            assert worker._fetch_task is not None and not worker._fetch_task.done()
            await asyncio.to_thread(redis_server.start)
            done = await wait_status(app, held.id, Status.COMPLETED, timeout=30)
            for job in queued:
                await wait_status(app, job.id, Status.COMPLETED, timeout=30)
            later = await app.enqueue("slow", {"marker": str(tmp_path / "later")})
            await wait_status(app, later.id, Status.COMPLETED, timeout=30)
        assert done.result == "through"
        outage_lines = [r for r in caplog.records
                        if r.name == "swell.worker" and "store unavailable" in r.getMessage()]
        assert len(outage_lines) == 1, [r.getMessage() for r in outage_lines]
        assert any("reachable again" in r.getMessage() for r in caplog.records)
    finally:
        await app.close()


async def test_a_second_signal_exits_at_once(redis_app: App, redis_url: str, key_prefix: str,
                                             tmp_path: Path) -> None:
    job = await redis_app.enqueue("slow_sync", {"marker": str(tmp_path / "m"), "first": 60})
    log = tmp_path / "worker.log"
    proc = start_worker(redis_url, key_prefix, log, grace=60.0)
    try:
        await wait_status(redis_app, job.id, Status.RUNNING, timeout=30)
        proc.send_signal(signal.SIGTERM)
        await wait_for(lambda: _true("SIGTERM received" in log.read_text()), timeout=15)
        proc.send_signal(signal.SIGTERM)
        code, err = await wait_exit(proc, log, timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 1 and "exiting now" in err, err
    # Still claimed by the dead process: its lease (1 s here) brings it back via the reaper.
    assert (await redis_app.get(job.id)).status is Status.RUNNING


async def test_app_from_a_redis_url(redis_url: str, key_prefix: str) -> None:
    pytest.importorskip("swell.store.redis")
    from swell.settings import Settings
    from swell.worker import Worker

    app = App(redis_url=redis_url, settings=Settings(key_prefix=key_prefix))
    try:
        app.register("echo", lambda args: args)
        job = await app.enqueue("echo", {"hello": "redis"})
        await Worker(app, handle_signals=False).run(burst=True)
        assert (await app.get(job.id)).result == {"hello": "redis"}
    finally:
        await app.close()
