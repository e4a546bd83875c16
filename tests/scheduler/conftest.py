"""Scheduler fixtures: stores of each kind on a shared clock, several of them sharing one dataset."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from swell.clock import ManualClock
from swell.settings import Settings
from swell.store.base import Store
from swell.store.memory import MemoryStore

SharedStores = Callable[[int], Awaitable[list[Store]]]


@pytest.fixture(params=["memory", "redis"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def shared_stores(request: pytest.FixtureRequest, store_kind: str,
                        clock: ManualClock) -> AsyncIterator[SharedStores]:
    """``await shared_stores(n)``: n Store objects over the SAME data (like n worker processes).

    Memory: one MemoryStore shared n times. Redis: n RedisStores on one unique key prefix."""
    made: list[Store] = []

    async def make(n: int) -> list[Store]:
        if store_kind == "memory":
            store: Store = MemoryStore(Settings(), clock)
            made.append(store)
            return [store] * n
        try:
            from swell.store.redis import RedisStore
        except ImportError as exc:
            if exc.name != "swell.store.redis":
                raise
            pytest.skip("RedisStore not written yet")

        url = request.getfixturevalue("redis_url")
        settings = Settings(key_prefix=request.getfixturevalue("key_prefix"))
        stores: list[Store] = [RedisStore.from_url(url, settings=settings, clock=clock) for _ in range(n)]
        made.extend(stores)
        return stores

    yield make
    for store in made:
        await store.close()
