"""Contract-suite fixtures: every test here runs once per Store (memory and redis), same clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from swell.clock import ManualClock
from swell.job import Job, new_job
from swell.settings import Settings
from swell.store.base import Store

from .contract_support import STORE_KINDS, JobFactory, StoreFactory, build_store


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def prefix(request: pytest.FixtureRequest, store_kind: str) -> str:
    """A unique key prefix for redis (cleaned up by ``key_prefix``); memory needs no server."""
    if store_kind == "redis":
        return str(request.getfixturevalue("key_prefix"))
    return "swell-memory"


@pytest.fixture
async def make_store(request: pytest.FixtureRequest, store_kind: str, prefix: str,
                     clock: ManualClock) -> AsyncIterator[StoreFactory]:
    """``await make_store(**settings_overrides)``: a store on the shared clock, closed afterwards.

    Stores made by one test share the key prefix, so two of them see the same Redis data
    (like two worker processes); memory stores made twice do not share data.
    """
    made: list[Store] = []

    async def make(**overrides: Any) -> Store:
        settings = replace(Settings(key_prefix=prefix), **overrides)
        store = await build_store(store_kind, settings, clock, request)
        made.append(store)
        return store

    yield make
    for store in made:
        await store.close()


@pytest.fixture
async def store(make_store: StoreFactory) -> Store:
    return await make_store()


@pytest.fixture
def job(clock: ManualClock) -> JobFactory:
    """``job(type="t", args=None, **new_job_options)`` built at the clock's current time."""

    def make(type: str = "t", args: Any = None, **options: Any) -> Job:
        return new_job(type, args, now=clock(), **options)

    return make
