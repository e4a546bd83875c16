"""Serving rules: no bind beyond loopback without a token; the CLI wiring helpers parse and refuse."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from swell.monitor.server import (
    InsecureBind,
    LoopbackHostGuard,
    add_dashboard_command,
    add_worker_monitoring_options,
    build_server,
    check_bind,
    host_of,
    run_dashboard,
    start_worker_monitoring,
)
from swell.store.memory import MemoryStore


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.5"])
def test_loopback_needs_no_token(host: str) -> None:
    check_bind(host, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.7", "dashboard.example.com", ""])
def test_anything_else_needs_a_token(host: str) -> None:
    with pytest.raises(InsecureBind, match="without a token"):
        check_bind(host, None)
    check_bind(host, "t0ken")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="swell")
    add_dashboard_command(p.add_subparsers(dest="command"))
    return p


def test_dashboard_command_parses_its_options() -> None:
    args = parser().parse_args(["dashboard", "--port", "9000", "--host", "0.0.0.0", "--token", "t",
                                "--read-only", "--redis-url", "redis://127.0.0.1:1/0"])
    assert (args.port, args.host, args.token, args.read_only) == (9000, "0.0.0.0", "t", True)
    assert args.func is run_dashboard


def test_dashboard_refuses_a_public_bind_without_token(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("SWELL_DASHBOARD_TOKEN", raising=False)
    args = parser().parse_args(["dashboard", "--host", "0.0.0.0", "--redis-url", "redis://127.0.0.1:1/0"])
    assert run_dashboard(args) == 2
    assert "refusing to serve the admin API on '0.0.0.0' without a token" in capsys.readouterr().err


def test_dashboard_needs_a_redis_url(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("SWELL_REDIS_URL", raising=False)
    assert run_dashboard(parser().parse_args(["dashboard"])) == 2
    assert "--redis-url" in capsys.readouterr().err


async def test_worker_options_start_metrics_only_when_asked() -> None:
    p = argparse.ArgumentParser()
    add_worker_monitoring_options(p)
    assert await start_worker_monitoring(p.parse_args([]), MemoryStore()) == (None, None)
    args = p.parse_args(["--metrics-port", "0", "--metrics-host", "127.0.0.1", "--log-json"])
    assert args.log_json is True
    metrics, server = await start_worker_monitoring(args, MemoryStore())
    assert metrics is not None and server is not None
    try:
        assert server.port > 0
    finally:
        await server.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_dashboard_process_serves_redis_and_stops_on_sigterm(redis_url: str, key_prefix: str,
                                                             tmp_path: Path) -> None:
    """``swell dashboard`` in its own process, against Redis, token from the environment."""
    port = free_port()
    script = "import sys; from swell.cli import main; sys.exit(main())"  # `swell dashboard ...`
    env = {**os.environ, "SWELL_DASHBOARD_TOKEN": "tok"}
    log_path = tmp_path / "dashboard.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-c", script, "dashboard", "--port", str(port), "--host", "0.0.0.0",
             "--redis-url", redis_url, "--key-prefix", key_prefix, "--read-only", "--log-json"],
            env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    response = httpx.get(f"http://127.0.0.1:{port}/api/health",
                                         headers={"Authorization": "Bearer tok"}, timeout=5)
                    break
                except httpx.TransportError:
                    assert proc.poll() is None, log_path.read_text()
                    assert time.monotonic() < deadline, "dashboard did not start within 60 s"
                    time.sleep(0.05)
            assert response.status_code == 200 and response.json() == {"ok": True}
            assert httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).status_code == 401
            refused = httpx.post(f"http://127.0.0.1:{port}/api/purge", timeout=5,
                                 headers={"Authorization": "Bearer tok"})
            assert refused.status_code == 403
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
    assert code == 0, log_path.read_text()
    first = log_path.read_text().splitlines()[0]
    assert json.loads(first)["message"].startswith("swell dashboard on http://0.0.0.0:")


@pytest.mark.parametrize(("header", "host"), [
    ("127.0.0.1:8080", "127.0.0.1"), ("[::1]:80", "::1"), ("localhost", "localhost"),
    ("evil.example:80", "evil.example"),
])
def test_host_of(header: str, host: str) -> None:
    assert host_of(header) == host


async def test_tokenless_server_answers_only_loopback_host_names() -> None:
    store = MemoryStore()
    server = build_server(store, "127.0.0.1", 0)
    app = server.config.app
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as http:
        assert (await http.get("http://127.0.0.1:8080/api/health")).status_code == 200
        assert (await http.get("http://localhost:8080/api/health")).status_code == 200
        rebound = await http.get("http://attacker.example:8080/api/health")
        assert rebound.status_code == 403 and "localhost" in rebound.json()["message"]
    guarded = build_server(store, "0.0.0.0", 0, token="t").config.app
    assert not isinstance(guarded, LoopbackHostGuard)


def test_package_exports_load_lazily() -> None:
    from swell import monitor
    from swell.monitor.api import create_app

    assert monitor.create_app is create_app
    assert set(monitor.__all__) >= {"create_app", "serve", "WorkerMetrics", "JobObserver"}
    with pytest.raises(AttributeError):
        _ = monitor.nothing_here
