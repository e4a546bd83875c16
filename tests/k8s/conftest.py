"""Fixtures for the operator tests: kmock cluster with the JobQueue CRD, the real operator, Redis."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import kopf
import kubernetes.config.kube_config
import pytest
from kopf.testing import KopfRunner

from redis_support import free_port
from swell.settings import Settings
from swell.store.redis import RedisStore

from .emulator import RealisticEmulator, add_builtin_resources, load_crd, register_crd, write_kubeconfig

JQ = "swell.dev/v1alpha1/jobqueues"
DEPLOY = "apps/v1/deployments"
PODS = "v1/pods"
JQ_URL = "/apis/swell.dev/v1alpha1/namespaces/default/jobqueues"


@pytest.fixture
def kmock_options(kmock_options: dict[str, Any]) -> dict[str, Any]:
    return {**kmock_options, "cls": RealisticEmulator}


@pytest.fixture
def cluster(kmock: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """kmock with our CRD (schema + CEL validated on create), kopf's backbone, a kubeconfig."""
    register_crd(kmock, load_crd())
    add_builtin_resources(kmock)
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", str(kmock.url))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    # kubernetes.config caches $KUBECONFIG at import time; both kopf and the operator use it.
    monkeypatch.setattr(kubernetes.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return types.SimpleNamespace(kmock=kmock, kubeconfig=kubeconfig)


OperatorFactory = Callable[[], Awaitable[KopfRunner]]


@pytest.fixture
async def operator(cluster: types.SimpleNamespace) -> AsyncIterator[types.SimpleNamespace]:
    """The real operator (`kopf run -m swell_operator.handlers`); start() / stop() to restart it."""
    runners: list[KopfRunner] = []
    liveness = f"http://127.0.0.1:{free_port()}/healthz"

    async def start() -> KopfRunner:
        settings = kopf.OperatorSettings()
        # kmock 0.8 cannot list /api/v1/namespaces: trust the namespace given.
        settings.scanning.disabled = True
        runner = KopfRunner(["run", "--standalone", "--namespace=default", "--verbose",
                             f"--liveness={liveness}", "-m", "swell_operator.handlers"],
                            settings=settings, timeout=30)
        # Enter/exit in a thread: kmock is served from this loop, which must keep running.
        await asyncio.to_thread(runner.__enter__)
        runners.append(runner)
        return runner

    async def stop() -> None:
        runner = runners[-1]
        await asyncio.to_thread(runner.__exit__, None, None, None)
        assert runner.exit_code == 0, runner.output[-3000:]

    ns = types.SimpleNamespace(start=start, stop=stop, runners=runners, liveness=liveness)
    await start()
    try:
        yield ns
    finally:
        live = [r for r in runners if r._thread.is_alive()]
        for r in live:
            await asyncio.to_thread(r.__exit__, None, None, None)


@pytest.fixture
async def store(redis_url: str, key_prefix: str) -> AsyncIterator[RedisStore]:
    s = RedisStore.from_url(redis_url, settings=Settings(key_prefix=key_prefix))
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[types.SimpleNamespace]:
    """A private redis-server speaking only TLS (self-signed certificate made with openssl)."""
    if not shutil.which("openssl") or not shutil.which("redis-server"):
        pytest.skip("needs openssl and redis-server")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(d / "cert.pem"), "--tls-key-file", str(d / "key.pem"),
         "--tls-ca-cert-file", str(d / "cert.pem"), "--tls-auth-clients", "no",
         "--save", "", "--appendonly", "no", "--dir", str(d)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("TLS redis-server did not start")
                time.sleep(0.05)
        yield types.SimpleNamespace(port=port, ca=(d / "cert.pem").read_text())
    finally:
        proc.terminate()
        proc.wait(timeout=10)
