"""Worker-suite fixtures: an App on each Store (memory and redis), closed after the test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from worker_support import AppFactory

from swell.app import App
from swell.clock import Clock, wall_clock
from swell.settings import Settings
from swell.store.base import Store
from swell.store.memory import MemoryStore


def redis_store_class() -> Any:
    try:
        from swell.store.redis import RedisStore
    except ImportError as exc:
        if exc.name == "swell.store.redis":
            pytest.skip("RedisStore not written yet")
        raise
    return RedisStore


async def build_store(kind: str, settings: Settings, clock: Clock, redis_url: str | None) -> Store:
    if kind == "memory":
        return MemoryStore(settings, clock)
    store: Any = redis_store_class().from_url(redis_url, settings=settings, clock=clock)
    if asyncio.iscoroutine(store):
        store = await store
    return store  # type: ignore[no-any-return]


@pytest.fixture(params=["memory", "redis"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def prefix(request: pytest.FixtureRequest, store_kind: str) -> str:
    if store_kind == "redis":
        return str(request.getfixturevalue("key_prefix"))
    return "swell-memory"


@pytest.fixture
async def make_app(request: pytest.FixtureRequest, store_kind: str, prefix: str
                   ) -> AsyncIterator[AppFactory]:
    """``await make_app(clock=None, redis_url=None, **settings_overrides)``.

    Apps made by one test on redis share the key prefix (like two processes); memory apps made
    twice share nothing unless ``store=`` is passed.
    """
    made: list[Store] = []

    async def make(clock: Clock | None = None, redis_url: str | None = None, store: Store | None = None,
                   **overrides: Any) -> App:
        if store is None:
            settings = replace(Settings(key_prefix=prefix), **overrides)
            url = redis_url
            if store_kind == "redis" and url is None:
                url = str(request.getfixturevalue("redis_url"))
            store = await build_store(store_kind, settings, clock or wall_clock, url)
            made.append(store)
        return App(store)

    yield make
    for store in made:
        await store.close()


@pytest.fixture
async def app(make_app: AppFactory) -> App:
    return await make_app()

