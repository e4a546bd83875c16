"""Reading the stats port, and telling auth failure, TLS mismatch and unreachable apart (real Redis)."""

from __future__ import annotations

import types
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis

from redis_support import RedisServer, free_port
from swell.job import new_job
from swell.settings import Settings
from swell.store.redis import RedisStore
from swell_operator.jobqueue import SecretKeyRef, parse_spec
from swell_operator.stats_source import FailureKind, MetricsError, StatsSource

PASSWORD = "s3cret-pw"


def conn(**redis_spec: Any) -> Any:
    return parse_spec({"queues": ["q"], "redis": redis_spec, "deploymentRef": {"name": "w"}}).redis


def secrets(values: dict[str, str]) -> Any:
    async def read(ref: SecretKeyRef) -> str:
        if (ref.name, ref.key) not in values:
            raise LookupError(f"secret {ref.name} has no key {ref.key}")
        return values[ref.name, ref.key]
    return read


@pytest.fixture(scope="module")
def password_redis() -> Iterator[RedisServer]:
    server = RedisServer(password=PASSWORD)
    server.start()
    client = redis.Redis(port=server.port, password=PASSWORD)
    client.acl_setuser("app", enabled=True, passwords=["+app-pw"], keys=["*"], commands=["+@all"])
    client.close()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
async def source() -> AsyncIterator[StatsSource]:
    s = StatsSource(secrets({("pw", "password"): PASSWORD, ("bad", "password"): "nope",
                             ("app", "password"): "app-pw"}), timeout=3)
    yield s
    await s.close()


async def read_error(source: StatsSource, c: Any) -> MetricsError:
    with pytest.raises(MetricsError) as info:
        await source.read(c)
    return info.value


async def test_reads_the_stats_of_the_prefix(redis_url: str, key_prefix: str) -> None:
    store = RedisStore.from_url(redis_url, settings=Settings(key_prefix=key_prefix))
    await store.enqueue(new_job("t", now=0.0, queue="q"))
    await store.close()
    source = StatsSource(secrets({}))
    stats = await source.read(conn(url=redis_url, keyPrefix=key_prefix))
    assert stats.queues["q"].pending_total == 1
    other = await source.read(conn(url=redis_url, keyPrefix=key_prefix + "-other"))
    assert "q" not in other.queues
    await source.close()


async def test_unreachable(source: StatsSource) -> None:
    e = await read_error(source, conn(host="127.0.0.1", port=free_port()))
    assert e.kind is FailureKind.UNREACHABLE and "127.0.0.1" in e.message


async def test_auth_failures_and_success(source: StatsSource, password_redis: RedisServer) -> None:
    host = {"host": "127.0.0.1", "port": password_redis.port}
    e = await read_error(source, conn(**host, passwordSecretRef={"name": "bad"}))
    assert e.kind is FailureKind.AUTH and "nope" not in e.message  # never leak the password
    e = await read_error(source, conn(**host))
    assert e.kind is FailureKind.AUTH
    assert (await source.read(conn(**host, passwordSecretRef={"name": "pw"}))).queues == {}
    # An ACL user with its own password.
    assert (await source.read(conn(**host, username="app", passwordSecretRef={"name": "app"}))) is not None
    e = await read_error(source, conn(**host, username="app", passwordSecretRef={"name": "pw"}))
    assert e.kind is FailureKind.AUTH


async def test_missing_secret(source: StatsSource, redis_url: str) -> None:
    e = await read_error(source, conn(url=redis_url, passwordSecretRef={"name": "absent"}))
    assert e.kind is FailureKind.SECRET and "absent" in e.message


async def test_tls_mismatches_are_told_apart(tls_redis: types.SimpleNamespace, redis_url: str) -> None:
    source = StatsSource(secrets({("ca", "ca.crt"): tls_redis.ca}), timeout=1)
    try:
        tls_host = {"host": "127.0.0.1", "port": tls_redis.port}
        # Plain client, TLS server: connects, then the server drops it.
        e = await read_error(source, conn(**tls_host))
        assert e.kind is FailureKind.TLS and ("tls.enabled" in e.message or "rediss://" in e.message)
        # TLS without the CA: verification fails.
        e = await read_error(source, conn(**tls_host, tls={"enabled": True}))
        assert e.kind is FailureKind.TLS and "caSecretRef" in e.message
        # TLS with the CA from the Secret: works.
        ok = await source.read(conn(**tls_host, tls={"enabled": True, "caSecretRef": {"name": "ca"}}))
        assert ok.queues == {}
        # insecureSkipVerify also works (and is the user's explicit choice).
        ok = await source.read(conn(**tls_host, tls={"enabled": True, "insecureSkipVerify": True}))
        assert ok.queues == {}
        # TLS client, plain server.
        e = await read_error(source, conn(url=redis_url.replace("redis://", "rediss://")))
        assert e.kind is FailureKind.TLS
        assert "does not speak TLS" in e.message or "plain port" in e.message, e.message
    finally:
        await source.close()
