"""Monitoring fixtures: a seeded store (memory and redis), and an httpx client on the admin app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from monitor_support import ClientFactory, Seeded, make_store, seed

from swell.clock import ManualClock
from swell.monitor.api import create_app
from swell.settings import Settings
from swell.store.base import Store
from swell.store.memory import MemoryStore


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, clock: ManualClock) -> AsyncIterator[Store]:
    made = await make_store(str(request.param), clock, request)
    yield made
    await made.close()


@pytest.fixture
async def memory_store(clock: ManualClock) -> AsyncIterator[Store]:
    made = MemoryStore(Settings(), clock)
    yield made
    await made.close()


@pytest.fixture
async def seeded(store: Store, clock: ManualClock) -> Seeded:
    return await seed(store, clock)


@pytest.fixture
async def make_client(store: Store) -> AsyncIterator[ClientFactory]:
    """``make_client(token=None, read_only=False, headers=None)``: an httpx client on create_app."""
    clients: list[httpx.AsyncClient] = []

    def make(token: str | None = None, read_only: bool = False,
             headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        app = create_app(store, token=token, read_only=read_only)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://admin.test",
                                   headers=headers)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def client(make_client: ClientFactory) -> httpx.AsyncClient:
    return make_client()
