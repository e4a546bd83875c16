"""Scheduler: promotion of due jobs, cron exactly-once across schedulers, missed ticks, time zones."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from swell.app import App
from swell.clock import ManualClock
from swell.job import Job, Status
from swell.schedule import make_trigger, occurrences_between
from swell.scheduler import Scheduler, occurrence_key
from swell.settings import Settings
from swell.store.base import JobFilter, Schedule, Store
from swell.store.memory import MemoryStore
from swell.worker import Worker

SharedStores = Callable[[int], Awaitable[list[Store]]]
T0 = datetime(2025, 1, 6, 9, 0, 0, tzinfo=ZoneInfo("UTC")).timestamp()  # a Monday, on the hour


async def jobs_of(store: Store, type: str) -> list[Job]:
    return await store.find(JobFilter(type=type, limit=10_000))


def occurrences(store_jobs: list[Job]) -> list[float]:
    return sorted(float(j.metadata["occurrence"]) for j in store_jobs)


# -- promotion --------------------------------------------------------------------------------------

async def test_tick_promotes_due_delayed_jobs_with_an_injected_clock(clock: ManualClock) -> None:
    store = MemoryStore(clock=clock)
    app = App(store)
    scheduler = Scheduler(app, ["default"])
    job = await app.enqueue("t", delay=10)
    assert await scheduler.tick() <= 0.05  # idle: look again soon
    assert (await store.get(job.id)).status is Status.SCHEDULED
    clock.advance(10)
    await scheduler.tick()
    assert (await store.get(job.id)).status is Status.PENDING


async def test_run_promotes_a_delayed_job_soon_after_its_run_at(store_kind: str,
                                                                request: pytest.FixtureRequest) -> None:
    store = await wall_clock_store(store_kind, request)
    app = App(store)
    stop = asyncio.Event()
    runner = asyncio.create_task(Scheduler(app, ["default"]).run(stop))
    try:
        job = await app.enqueue("t", delay=0.3)
        assert job.run_at is not None
        deadline = time.monotonic() + 10
        while (await store.get(job.id)).status is not Status.PENDING:
            assert time.monotonic() < deadline, "delayed job never promoted"
            await asyncio.sleep(0.01)
        # Loose bound for a loaded machine; the scheduler polls every 50 ms when idle.
        assert time.time() - job.run_at < 0.5
    finally:
        stop.set()
        await asyncio.wait_for(runner, 5)
        await store.close()


async def wall_clock_store(kind: str, request: pytest.FixtureRequest) -> Store:
    if kind == "memory":
        return MemoryStore()
    from swell.store.redis import RedisStore

    settings = Settings(key_prefix=request.getfixturevalue("key_prefix"))
    return RedisStore.from_url(request.getfixturevalue("redis_url"), settings=settings)


async def test_worker_runs_cron_jobs_through_its_scheduler(store_kind: str,
                                                          request: pytest.FixtureRequest) -> None:
    store = await wall_clock_store(store_kind, request)
    app = App(store)
    seen: list[float] = []

    @app.job()
    def heartbeat(args: dict[str, object]) -> None:
        seen.append(time.time())

    app.schedule("beat", "heartbeat", interval=0.2)
    worker = Worker(app, handle_signals=False)
    task = asyncio.create_task(worker.run())
    try:
        deadline = time.monotonic() + 15
        while len(seen) < 3:
            assert time.monotonic() < deadline, "cron jobs did not run"
            await asyncio.sleep(0.02)
        jobs = await jobs_of(store, "heartbeat")
        assert len(jobs) >= 3 and len({j.unique_key for j in jobs}) == len(jobs)
        assert all(str(j.unique_key).startswith("cron:beat:") for j in jobs)
    finally:
        worker.stop()
        await asyncio.wait_for(task, 10)
        await store.close()


async def test_run_survives_a_store_outage(redis_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    from swell.store.redis import RedisStore

    store = RedisStore.from_url(redis_server.url, settings=Settings(key_prefix="outage"))
    app = App(store)
    stop = asyncio.Event()
    runner = asyncio.create_task(Scheduler(app, ["default"], max_backoff=0.2).run(stop))
    try:
        await asyncio.sleep(0.1)
        redis_server.stop()
        deadline = time.monotonic() + 10
        while "store unavailable" not in caplog.text:
            assert time.monotonic() < deadline and not runner.done()
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # several failed ticks: still one line
        assert caplog.text.count("store unavailable") == 1
        redis_server.start()
        job = await app.enqueue("t", delay=0.1)
        while (await store.get(job.id)).status is not Status.PENDING:
            assert time.monotonic() < deadline + 10, "not promoted after the outage"
            await asyncio.sleep(0.05)
        assert "store reachable again" in caplog.text
    finally:
        stop.set()
        await asyncio.wait_for(runner, 5)
        await store.close()


# -- exactly once -------------------------------------------------------------------------------------

async def test_three_schedulers_enqueue_each_tick_exactly_once(shared_stores: SharedStores,
                                                              clock: ManualClock) -> None:
    clock.set(T0)
    stores = await shared_stores(3)
    apps = [App(store) for store in stores]
    for app in apps:  # every worker process declares the same schedules in code
        app.schedule("every-minute", "minutely", cron="* * * * *")
        app.schedule("every-20s", "often", interval=20)
        app.schedule("every-5-min", "rarely", cron="*/5 * * * *", missed="run_once")
    schedulers = [Scheduler(app, ["default"]) for app in apps]
    rng = random.Random(7)
    end = T0 + 12 * 60
    last_tick = clock()
    while clock() < end:
        rng.shuffle(schedulers)
        await asyncio.gather(*(s.tick() for s in schedulers))
        last_tick = clock()
        clock.advance(rng.choice([0.5, 3, 7, 13]))
    store = stores[0]
    window = (T0 - 0.001, last_tick)
    for type, trigger in [("minutely", make_trigger("* * * * *")), ("often", make_trigger(interval=20)),
                          ("rarely", make_trigger("*/5 * * * *"))]:
        jobs = await jobs_of(store, type)
        expected = list(occurrences_between(trigger, *window))
        assert occurrences(jobs) == expected, type
        assert len({j.unique_key for j in jobs}) == len(jobs)
    minutely = await jobs_of(store, "minutely")
    assert {j.unique_key for j in minutely} == {occurrence_key("every-minute", t)
                                                for t in occurrences(minutely)}


async def test_schedulers_restarting_do_not_enqueue_a_tick_twice(shared_stores: SharedStores,
                                                                 clock: ManualClock) -> None:
    clock.set(T0 + 1)
    stores = await shared_stores(2)
    for store in stores:
        await store.save_schedule(Schedule(name="nightly", type="report", cron="0 9 * * *",
                                           missed="run_once"))
    await Scheduler(App(stores[0]), ["default"]).tick()
    clock.advance(30)
    await Scheduler(App(stores[1]), ["default"]).tick()  # a restarted scheduler: no memory
    assert occurrences(await jobs_of(stores[0], "report")) == [T0]


# -- missed ticks -------------------------------------------------------------------------------------

async def test_missed_skip_drops_ticks_missed_beyond_the_grace(shared_stores: SharedStores,
                                                              clock: ManualClock) -> None:
    clock.set(T0 + 2)
    (store,) = await shared_stores(1)
    app = App(store)
    app.schedule("hourly", "h", cron="0 * * * *", missed="skip")
    scheduler = Scheduler(app, ["default"], grace=60)
    await scheduler.tick()
    assert occurrences(await jobs_of(store, "h")) == [T0]
    clock.set(T0 + 3 * 3600 + 20 * 60)  # down for three hours
    await scheduler.tick()
    await Scheduler(app, ["default"], grace=60).tick()  # a freshly started one agrees
    assert occurrences(await jobs_of(store, "h")) == [T0]
    clock.set(T0 + 4 * 3600 + 1)  # continues from now
    await scheduler.tick()
    assert occurrences(await jobs_of(store, "h")) == [T0, T0 + 4 * 3600]


async def test_missed_skip_still_runs_a_tick_that_is_late_within_the_grace(
        shared_stores: SharedStores, clock: ManualClock) -> None:
    clock.set(T0 - 1)
    (store,) = await shared_stores(1)
    app = App(store)
    app.schedule("hourly", "h", cron="0 * * * *", missed="skip")
    scheduler = Scheduler(app, ["default"], grace=60)
    await scheduler.tick()
    clock.set(T0 + 45)
    await scheduler.tick()
    assert occurrences(await jobs_of(store, "h")) == [T0]


async def test_missed_run_once_runs_one_catch_up(shared_stores: SharedStores, clock: ManualClock) -> None:
    clock.set(T0 + 2)
    (store,) = await shared_stores(1)
    app = App(store)
    app.schedule("hourly", "h", cron="0 * * * *", missed="run_once")
    scheduler = Scheduler(app, ["default"])
    await scheduler.tick()
    clock.set(T0 + 3 * 3600 + 20 * 60)  # 10:00, 11:00 and 12:00 were missed
    await scheduler.tick()
    await scheduler.tick()
    await Scheduler(app, ["default"]).tick()  # another scheduler does not catch up again
    assert occurrences(await jobs_of(store, "h")) == [T0, T0 + 3 * 3600]
    clock.set(T0 + 4 * 3600)
    await scheduler.tick()
    assert occurrences(await jobs_of(store, "h")) == [T0, T0 + 3 * 3600, T0 + 4 * 3600]


async def test_run_once_catches_up_after_all_schedulers_were_down(shared_stores: SharedStores,
                                                                 clock: ManualClock) -> None:
    clock.set(T0 + 2)
    (store,) = await shared_stores(1)
    app = App(store)
    app.schedule("daily", "d", cron="0 9 * * *", missed="run_once")
    await Scheduler(app, ["default"]).tick()
    clock.set(T0 + 2 * 86400 + 5 * 3600)  # two days later, a new process starts
    await Scheduler(app, ["default"]).tick()
    assert occurrences(await jobs_of(store, "d")) == [T0, T0 + 2 * 86400]


# -- kinds of schedules --------------------------------------------------------------------------------

async def test_interval_schedule_and_job_fields(shared_stores: SharedStores, clock: ManualClock) -> None:
    clock.set(T0 + 1)
    (store,) = await shared_stores(1)
    app = App(store)
    app.schedule("poll", "poll_feed", interval=90, args={"feed": "news"}, queue="feeds",
                 priority="high")
    scheduler = Scheduler(app, ["feeds"])
    for _ in range(10):
        clock.advance(30)
        await scheduler.tick()
    jobs = await jobs_of(store, "poll_feed")
    trigger = make_trigger(interval=90)
    # T0 is a multiple of 90 s: the first tick (31 s late, within the grace) runs it.
    assert occurrences(jobs) == list(occurrences_between(trigger, T0 - 1, clock()))
    job = jobs[0]
    assert (job.queue, job.priority.name, job.args) == ("feeds", "HIGH", {"feed": "news"})
    assert job.metadata["schedule"] == "poll"


async def test_cron_in_a_time_zone(shared_stores: SharedStores, clock: ManualClock) -> None:
    paris = ZoneInfo("Europe/Paris")
    nine_winter = datetime(2025, 1, 6, 9, 0, tzinfo=paris).timestamp()  # 08:00 UTC
    clock.set(nine_winter - 30)
    (store,) = await shared_stores(1)
    app = App(store)
    app.schedule("morning", "m", cron="0 9 * * MON-FRI", timezone="Europe/Paris")
    scheduler = Scheduler(app, ["default"])
    await scheduler.tick()
    assert await jobs_of(store, "m") == []
    clock.set(nine_winter)
    assert 0 <= await scheduler.tick() <= 0.05
    clock.advance(0.5)
    await scheduler.tick()
    assert occurrences(await jobs_of(store, "m")) == [nine_winter]
    assert datetime.fromtimestamp(nine_winter, ZoneInfo("UTC")).hour == 8


async def test_disabled_schedules_do_not_fire(shared_stores: SharedStores, clock: ManualClock) -> None:
    clock.set(T0)
    (store,) = await shared_stores(1)
    app = App(store)
    app.schedule("off", "never", cron="* * * * *", enabled=False)
    await store.save_schedule(Schedule(name="from-cli", type="cli", cron="* * * * *"))
    scheduler = Scheduler(app, ["default"])
    for _ in range(5):
        await scheduler.tick()
        clock.advance(30)
    assert await jobs_of(store, "never") == []
    assert len(await jobs_of(store, "cli")) == 3  # schedules saved in the store run too
    # Disable the stored one (what `swell cron disable` does): it stops at the next refresh.
    (stored,) = [s for s in await store.schedules() if s.name == "from-cli"]
    await store.save_schedule(replace(stored, enabled=False))
    for _ in range(6):
        await scheduler.tick()
        clock.advance(30)
    assert len(await jobs_of(store, "cli")) == 3


async def test_declared_schedules_are_published_and_keep_the_stored_enabled_flag(
        shared_stores: SharedStores, clock: ManualClock) -> None:
    clock.set(T0 + 1)
    (store,) = await shared_stores(1)
    app = App(store)
    app.schedule("cleanup", "clean", cron="30 * * * *")
    scheduler = Scheduler(app, ["default"])
    await scheduler.tick()
    (published,) = await store.schedules()
    assert (published.name, published.cron, published.enabled) == ("cleanup", "30 * * * *", True)
    await store.save_schedule(replace(published, enabled=False))  # an operator disables it
    clock.advance(5)
    await Scheduler(app, ["default"]).tick()  # a restarted worker re-declares it in code
    (after,) = await store.schedules()
    assert after.enabled is False
    clock.set(T0 + 1800)
    await scheduler.tick()
    assert await jobs_of(store, "clean") == []


async def test_an_invalid_stored_schedule_is_logged_and_skipped(clock: ManualClock,
                                                                caplog: object) -> None:
    store = MemoryStore(clock=clock)
    await store.save_schedule(Schedule(name="bad", type="t", cron="61 * * * *"))
    await store.save_schedule(Schedule(name="good", type="g", interval=1))
    scheduler = Scheduler(App(store), ["default"])
    await scheduler.tick()
    clock.advance(2)
    await scheduler.tick()
    assert len(await jobs_of(store, "g")) == 2
    assert "minute 61 out of range 0-59" in caplog.text  # type: ignore[attr-defined]
