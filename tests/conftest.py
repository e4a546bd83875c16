"""Shared fixtures: a private redis-server per test session, isolated key prefixes, clocks."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

from redis_support import RedisServer, free_port
from swell.clock import ManualClock

__all__ = ["RedisServer", "free_port"]


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a Redis for tests: $SWELL_TEST_REDIS_URL, or a private server for this session.

    Tests share it but never touch data they did not create: every store gets its own prefix
    (see ``key_prefix``)."""
    url = os.environ.get("SWELL_TEST_REDIS_URL")
    if url:
        yield url
        return
    server = RedisServer()
    server.start()
    try:
        yield server.url
    finally:
        server.cleanup()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A private redis-server for this test alone (for outage tests: stop() and start() it)."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def key_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix unique to this test; its keys are deleted afterwards."""
    prefix = f"swelltest-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
