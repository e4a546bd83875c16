"""Scheduler: promotes due delayed jobs and retries, and enqueues cron/interval ticks exactly once.

Every worker runs one (``Scheduler(app, queues).run(stop)``); no leader election is needed:

* Promotion (``Store.promote_due``) is atomic and safe to run from every process.
* Each cron tick has a deterministic occurrence id ``cron:<name>:<epoch>``. A scheduler claims it
  with ``Store.claim_occurrence`` (SET NX with a TTL of two periods, never deleted on completion,
  the fix for arq #196) before it enqueues, and uses it as the job's ``unique_key``. So however
  many schedulers run, one of them enqueues each tick.

Where "last run" lives: in those occurrence claims. A claim marks its occurrence as handled for two
periods, long enough to cover the time it stays the latest occurrence. Each scheduler also keeps
the latest occurrence it has handled in memory, so it asks the store once per occurrence, not once
per tick. On (re)start a scheduler looks only at the latest occurrence (``swell.schedule.
due_occurrences``): with ``missed="skip"`` it runs it if it is at most ``grace`` seconds late, with
``missed="run_once"`` it runs it however late, unless some scheduler already did. ``run_once`` is
therefore anacron-like: a new schedule fires once on its first tick for its latest occurrence.

Schedules come from code (``app.schedule(...)``) and from the store (``swell cron add``). Declared
schedules are published to the store when missing or changed, keeping the stored ``enabled`` flag,
so ``swell cron list/disable`` work on them too; the stored version is what runs. Removing a
schedule from the code does not delete it from the store: use ``swell cron remove``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from swell.clock import Clock
from swell.errors import StoreError, StoreUnavailable, SwellError
from swell.schedule import (
    DEFAULT_GRACE,
    InvalidSchedule,
    Trigger,
    due_occurrences,
    next_fire,
    period_at,
    prev_fire,
    validate_schedule,
)
from swell.store.base import Schedule, Store

log = logging.getLogger(__name__)

DEFAULT_POLL = 0.05  # idle wake-up: delayed jobs start within ~2 polls of their run_at


def occurrence_key(name: str, occurrence: float) -> str:
    """The deterministic id of one tick of a schedule (also the job's unique_key)."""
    stamp = str(int(occurrence)) if float(occurrence).is_integer() else f"{occurrence:.6f}"
    return f"cron:{name}:{stamp}"


@dataclass(slots=True)
class _Entry:
    schedule: Schedule
    trigger: Trigger
    last: float | None = None  # latest occurrence handled (run or deliberately skipped)
    next_at: float | None = None  # when to look again


class Scheduler:
    """Promotion and cron for an App's store.

    queues:  queues whose due jobs to promote; None = every queue the store knows.
    poll:    longest sleep between ticks (also how late a delayed job may start, roughly).
    grace:   how late a ``missed="skip"`` tick may still run.
    refresh: seconds between reloads of the schedules from the store.
    """

    def __init__(
        self,
        app: Any,
        queues: Sequence[str] | None = None,
        *,
        clock: Clock | None = None,
        poll: float = DEFAULT_POLL,
        grace: float = DEFAULT_GRACE,
        refresh: float = 1.0,
        max_backoff: float = 5.0,
    ) -> None:
        self.app = app
        self.store: Store = app.store
        self.queues = list(queues) if queues is not None else None
        self.clock: Clock = clock or app.clock
        self.poll = poll
        self.grace = grace
        self.refresh_interval = refresh
        self.max_backoff = max_backoff
        self._entries: dict[str, _Entry] = {}
        self._invalid: dict[str, Schedule] = {}  # already logged, not retried until changed
        self._unsent: dict[str, tuple[Schedule, float]] = {}  # claimed ticks whose enqueue failed
        self._refresh_at = -math.inf
        self._known_queues: list[str] = []

    # -- one step ----------------------------------------------------------------------------------
    async def tick(self) -> float:
        """Promote due jobs, enqueue due ticks; return seconds until the next tick should run."""
        now = self.clock()
        if now >= self._refresh_at:
            await self.refresh()
            self._refresh_at = now + self.refresh_interval
        queues = self.queues if self.queues is not None else self._known_queues
        promoted = sum(await asyncio.gather(*(self.store.promote_due(q) for q in queues)))
        if promoted:
            self._notify()
        for key, (schedule, occurrence) in list(self._unsent.items()):
            await self._enqueue(schedule, occurrence, key)
        wait = self.poll
        for entry in self._entries.values():
            if entry.next_at is None or now >= entry.next_at:
                await self._evaluate(entry, now)
            assert entry.next_at is not None
            wait = min(wait, entry.next_at - now)
        return max(wait, 0.0)

    async def refresh(self) -> None:
        """Reload schedules (publishing the ones declared in code) and the list of queues."""
        stored = {s.name: s for s in await self.store.schedules()}
        for declared in _declared(self.app):
            current = stored.get(declared.name)
            wanted = declared if current is None else replace(declared, enabled=current.enabled)
            if current != wanted:
                await self.store.save_schedule(wanted)
                stored[declared.name] = wanted
        for name in set(self._entries) - set(stored):
            del self._entries[name]
        for name, schedule in stored.items():
            entry = self._entries.get(name)
            if entry is not None and entry.schedule == schedule:
                continue
            if not schedule.enabled:
                self._entries.pop(name, None)
                continue
            try:
                trigger = validate_schedule(schedule)
            except InvalidSchedule as exc:
                if self._invalid.get(name) != schedule:
                    log.error("schedule %s is invalid and will not run: %s", name, exc)
                    self._invalid[name] = schedule
                self._entries.pop(name, None)
                continue
            self._invalid.pop(name, None)
            # A changed definition keeps what was handled: occurrence ids still dedupe.
            self._entries[name] = _Entry(schedule, trigger, entry.last if entry else None)
        if self.queues is None:
            self._known_queues = await self.store.queues()

    async def _evaluate(self, entry: _Entry, now: float) -> None:
        schedule, trigger = entry.schedule, entry.trigger
        due = due_occurrences(trigger, entry.last, now, schedule.missed, self.grace)
        for occurrence in due:
            await self._fire(schedule, trigger, occurrence)
        latest = prev_fire(trigger, now)
        if latest is not None and (entry.last is None or latest > entry.last):
            if not due and entry.last is not None:
                log.warning("schedule %s: skipped tick %s, %.0f s late (missed=skip)", schedule.name,
                            occurrence_key(schedule.name, latest), now - latest)
            entry.last = latest
        entry.next_at = next_fire(trigger, now)

    async def _fire(self, schedule: Schedule, trigger: Trigger, occurrence: float) -> None:
        key = occurrence_key(schedule.name, occurrence)
        # Keep the claim while this is the latest occurrence (one period), with room to spare.
        ttl = max(2 * period_at(trigger, occurrence), 2 * self.grace, 60.0)
        if not await self.store.claim_occurrence(key, ttl):
            return  # another scheduler has it
        self._unsent[key] = (schedule, occurrence)
        await self._enqueue(schedule, occurrence, key)

    async def _enqueue(self, schedule: Schedule, occurrence: float, key: str) -> None:
        """Enqueue a claimed tick; kept for the next tick if the store is unreachable (the
        unique_key makes the retry harmless if the first attempt did land)."""
        try:
            job = await self.app.enqueue(
                schedule.type, schedule.args, queue=schedule.queue, priority=schedule.priority,
                unique_key=key, metadata={"schedule": schedule.name, "occurrence": occurrence},
            )
        except (StoreError, OSError):
            raise
        except SwellError as exc:
            log.error("schedule %s: could not enqueue %s: %s", schedule.name, key, exc)
        else:
            log.info("schedule %s: enqueued job %s (%s) for %s", schedule.name, job.id, schedule.type, key)
        self._unsent.pop(key, None)

    def _notify(self) -> None:
        notify = getattr(self.app, "notify", None)
        if callable(notify):
            notify()

    # -- loop --------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Tick until ``stop`` is set; ride out store outages with backoff (one log line each)."""
        backoff = 0.0
        while not stop.is_set():
            try:
                wait = await self.tick()
            except (StoreUnavailable, OSError) as exc:
                if not backoff:
                    log.warning("scheduler: store unavailable (%s); retrying with backoff up to %.0f s",
                                exc, self.max_backoff)
                backoff = min(max(backoff * 2, 0.1), self.max_backoff)
                wait = backoff
            except Exception:
                if not backoff:
                    log.exception("scheduler: tick failed; retrying with backoff")
                backoff = min(max(backoff * 2, 0.1), self.max_backoff)
                wait = backoff
            else:
                if backoff:
                    log.warning("scheduler: store reachable again; resuming")
                    backoff = 0.0
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await stop.wait()


def _declared(app: Any) -> list[Schedule]:
    schedules = getattr(app, "schedules", None)
    if schedules is None:
        return []
    found = schedules() if callable(schedules) else schedules
    if isinstance(found, dict):
        found = found.values()
    return list(found)
