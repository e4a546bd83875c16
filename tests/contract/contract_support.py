"""Shared helpers of the contract suite: type aliases and how each Store under test is built."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from swell.clock import ManualClock
from swell.job import Job
from swell.settings import Settings
from swell.store.base import Store
from swell.store.memory import MemoryStore

STORE_KINDS = ("memory", "redis")

StoreFactory = Callable[..., Awaitable[Store]]
JobFactory = Callable[..., Job]


async def build_store(kind: str, settings: Settings, clock: ManualClock,
                      request: pytest.FixtureRequest | None = None, redis_url: str | None = None) -> Store:
    """A fresh store of ``kind``; skips the redis param only while swell.store.redis is missing."""
    if kind == "memory":
        return MemoryStore(settings, clock)
    try:
        from swell.store.redis import RedisStore
    except ImportError as exc:
        if exc.name == "swell.store.redis":
            pytest.skip("RedisStore not written yet")
        raise
    if redis_url is None:
        assert request is not None
        redis_url = request.getfixturevalue("redis_url")
    store: Any = RedisStore.from_url(redis_url, settings=settings, clock=clock)
    if inspect.isawaitable(store):
        store = await store
    return store  # type: ignore[no-any-return]
