"""The `swell-operator` command: its kopf command line, and the real process against kmock."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import types
from pathlib import Path

import httpx
import pytest

from redis_support import free_port
from swell_operator.main import kopf_args

from .conftest import DEPLOY, JQ_URL
from .emulator import eventually
from .test_operator import jobqueue


def test_defaults_serve_the_operator_namespace_standalone_with_liveness() -> None:
    args = kopf_args([], env={"SWELL_OPERATOR_NAMESPACE": "swell-system"})
    assert args == ["run", "--standalone", "--liveness=http://0.0.0.0:8080/healthz",
                    "--namespace=swell-system", "-m", "swell_operator.handlers"]


def test_flags_and_env() -> None:
    args = kopf_args(["-n", "a", "--namespace", "b", "--priority=5"],
                     env={"SWELL_HEALTH_PORT": "9000", "SWELL_LOG_LEVEL": "debug"})
    assert "--liveness=http://0.0.0.0:9000/healthz" in args
    assert args.count("--namespace=a") == 1 and "--namespace=b" in args and "--debug" in args
    assert "--priority=5" in args  # unknown flags go to kopf
    assert "--all-namespaces" in kopf_args(["-A"], env={})
    assert "--namespace=x" in kopf_args([], env={"SWELL_WATCH_NAMESPACES": "x"})
    assert "--quiet" in kopf_args([], env={"SWELL_LOG_LEVEL": "WARNING"})


@pytest.mark.slow
async def test_the_installed_command_runs_against_kmock(cluster: types.SimpleNamespace, tmp_path: Path,
                                                        redis_url: str, key_prefix: str) -> None:
    k = cluster.kmock
    exe = Path(sys.executable).with_name("swell-operator")
    if not exe.exists():
        pytest.skip("swell-operator is not installed in this environment")
    port = free_port()
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "SWELL_HEALTH_PORT": str(port)}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    # -A: kmock 0.8 cannot list namespaces, which the namespaced mode does first.
    log = tmp_path / "operator.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(str(exe), "-A", env=env, stdout=out, stderr=out)
    try:
        async with httpx.AsyncClient() as http:
            async def alive() -> bool:
                try:
                    return (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
                except httpx.HTTPError:
                    return False
            deadline = asyncio.get_running_loop().time() + 30
            while not await alive():
                assert proc.returncode is None, log.read_text()[-3000:]
                assert asyncio.get_running_loop().time() < deadline, "no liveness endpoint"
                await asyncio.sleep(0.1)
        resp = await k.post(JQ_URL, json=jobqueue("cli", {"url": redis_url, "keyPrefix": key_prefix}))
        assert resp.status == 200
        await eventually(lambda: k.objects[DEPLOY, "default", "cli"], timeout=30, what="Deployment created")
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == 0, log.read_text()[-3000:]
