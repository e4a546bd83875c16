"""The quick-start Redis container's start-up script, run for real against the local redis-server:
the password from the Secret (even one with quotes) is required, the append-only file is written,
and the readiness probe's `redis-cli ping` with REDISCLI_AUTH answers PONG."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .render import one, render_chart

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None or shutil.which("redis-cli") is None,
                                reason="redis-server and redis-cli are needed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_container() -> dict[str, object]:
    dep = one(render_chart({"redis": {"enabled": True}}), "Deployment", "swell-redis")
    container: dict[str, object] = dep["spec"]["template"]["spec"]["containers"][0]
    return container


@pytest.fixture
def started(tmp_path: Path) -> Iterator[tuple[int, str, Path]]:
    """The container's command with /tmp and /data moved under tmp_path, on a free loopback port."""
    container = redis_container()
    command, args = container["command"], container["args"]
    assert command == ["sh", "-c"] and isinstance(args, list)
    script = str(args[0])
    data = tmp_path / "data"
    data.mkdir()
    script = script.replace("/tmp/redis.conf", str(tmp_path / "redis.conf"))
    script = script.replace("--dir /data", f"--dir {data}")
    port = free_port()
    script += f" --port {port} --bind 127.0.0.1"
    password = 'quick"start\\pass word'
    proc = subprocess.Popen(["sh", "-c", script], env={**os.environ, "REDIS_PASSWORD": password},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield port, password, data
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_quick_start_redis_requires_the_secret_password(started: tuple[int, str, Path]) -> None:
    port, password, data = started
    deadline = time.monotonic() + 30
    while True:  # a bare connect: redis-py would back off and retry on its own
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    client = redis.Redis(port=port, password=password, socket_timeout=5)
    assert client.ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port, password="wrong", socket_timeout=5, retry=Retry(NoBackoff(), 0)).ping()
    client.set("k", "v")
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert any(data.rglob("*.aof")), "no append-only file under --dir"
    # The readiness probe: redis-cli reads the password from REDISCLI_AUTH.
    probe = subprocess.run(["redis-cli", "-p", str(port), "ping"], check=True, capture_output=True, text=True,
                           env={**os.environ, "REDISCLI_AUTH": password}, timeout=30)
    assert probe.stdout.strip() == "PONG"
    client.close()
