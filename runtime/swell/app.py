"""App: one store, the handler registry, the tenant resolver and the schedules declared in code.

Producers use an App to enqueue; workers (``swell.worker.Worker``) use the same App to find the
handler of each job they claim. A producer may enqueue a type it has no handler for (it need
not import the handlers); a worker that claims such a job dead-letters it with a clear error.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from swell.clock import Clock, wall_clock
from swell.errors import InvalidJob
from swell.job import DEFAULT_MAX_RETRIES, Job, Priority, new_job
from swell.registry import Handler, Registry
from swell.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from swell.settings import DEFAULT_SETTINGS, Settings
from swell.store.base import Schedule, Store
from swell.tenant import TenantResolver

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R", bound=TenantResolver)

_ENQUEUE_KEYS = frozenset({
    "type", "args", "queue", "priority", "delay", "run_at", "tenant", "unique_key", "max_retries",
    "retry_policy", "timeout", "metadata",
})


class App:
    """The entry point of a swell application.

    ``App()`` uses an in-memory store; ``App(redis_url=...)`` a RedisStore; ``App(store)`` any
    ``Store``. Settings default to the store's own when a store is given.
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        redis_url: str | None = None,
        settings: Settings | None = None,
        clock: Clock | None = None,
        name: str = "swell",
    ) -> None:
        if store is not None and redis_url is not None:
            raise ValueError("give either a store or a redis_url, not both")
        if store is None:
            settings = settings or DEFAULT_SETTINGS
            if redis_url is not None:
                from swell.store.redis import (  # type: ignore[import-not-found,unused-ignore]
                    RedisStore,
                )

                store = RedisStore.from_url(redis_url, settings=settings, clock=clock or wall_clock)
            else:
                from swell.store.memory import MemoryStore

                store = MemoryStore(settings, clock or wall_clock)
        self.store: Store = store
        self.settings: Settings = settings or getattr(store, "settings", None) or DEFAULT_SETTINGS
        # Delays become run_at on this clock, so it must be the store's (tests inject one).
        self.clock: Clock = clock or getattr(store, "clock", None) or getattr(store, "_clock", None) \
            or wall_clock
        self.name = name
        self.registry = Registry()
        self.resolver: TenantResolver | None = None
        self._schedules: dict[str, Schedule] = {}
        # Workers in this process wait on these to pick up new work without polling delay.
        self._listeners: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    # -- handlers --------------------------------------------------------------------------------
    def job(
        self,
        name: str | None = None,
        *,
        queue: str = "default",
        priority: Priority | str | int = "normal",
        max_retries: int = 3,
        retry_policy: RetryPolicy | None = None,
        timeout: float | None = None,
        model: type[BaseModel] | None = None,
    ) -> Callable[[F], F]:
        """Decorator registering a handler; the job type defaults to the function's name."""
        return self.registry.job(name, queue=queue, priority=priority, max_retries=max_retries,
                                 retry_policy=retry_policy, timeout=timeout, model=model)

    def register(
        self,
        name: str,
        fn: Callable[..., Any],
        *,
        queue: str = "default",
        priority: Priority | str | int = "normal",
        max_retries: int = 3,
        retry_policy: RetryPolicy | None = None,
        timeout: float | None = None,
        model: type[BaseModel] | None = None,
    ) -> Handler:
        return self.registry.register(name, fn, queue=queue, priority=priority,
                                      max_retries=max_retries, retry_policy=retry_policy,
                                      timeout=timeout, model=model)

    def unregister(self, name: str) -> None:
        self.registry.unregister(name)

    def handlers(self) -> dict[str, Handler]:
        return self.registry.handlers()

    # -- tenants ---------------------------------------------------------------------------------
    def tenant_resolver(self, fn: R) -> R:
        """Install ``fn(tenant_id) -> context`` (sync or async); usable as a decorator."""
        if not callable(fn):
            raise TypeError("the tenant resolver must be callable")
        self.resolver = fn
        return fn

    # -- schedules -------------------------------------------------------------------------------
    def schedule(
        self,
        name: str,
        type: str | None = None,
        *,
        cron: str | None = None,
        interval: float | None = None,
        args: Any = None,
        queue: str | None = None,
        priority: Priority | str | int | None = None,
        timezone: str = "UTC",
        missed: str = "skip",
        enabled: bool = True,
    ) -> Schedule:
        """Declare a cron (5 fields) or interval schedule; the scheduler enqueues its jobs.

        ``type`` defaults to ``name``. Queue and priority default to the handler's.
        """
        type = type or name
        if (cron is None) == (interval is None):
            raise InvalidJob(f"schedule {name!r}: give exactly one of cron or interval")
        if interval is not None and (not math.isfinite(interval) or interval <= 0):
            raise InvalidJob(f"schedule {name!r}: interval must be > 0 seconds, got {interval}")
        if missed not in ("skip", "run_once"):
            raise InvalidJob(f"schedule {name!r}: missed must be 'skip' or 'run_once', got {missed!r}")
        handler = self.registry.get(type)
        stored_args = handler.validate(args) if handler else ({} if args is None else args)
        prio = Priority.parse(priority) if priority is not None else (
            handler.priority if handler else Priority.NORMAL)
        schedule = Schedule(
            name=name, type=type, cron=cron, interval=interval, timezone=timezone,
            args=stored_args, queue=queue or (handler.queue if handler else "default"),
            priority=int(prio), enabled=enabled, missed=missed,
        )
        self._schedules[name] = schedule
        return schedule

    def schedules(self) -> list[Schedule]:
        """The schedules declared in code (the scheduler saves them to the store)."""
        return list(self._schedules.values())

    # -- enqueue ---------------------------------------------------------------------------------
    def build_job(
        self,
        type: str,
        args: Any = None,
        *,
        queue: str | None = None,
        priority: Priority | str | int | None = None,
        delay: float | None = None,
        run_at: float | None = None,
        tenant: str | None = None,
        unique_key: str | None = None,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
        timeout: float | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Job:
        """A validated new job with the handler's defaults (nothing is stored)."""
        handler = self.registry.get(type)
        if handler is not None:
            args = handler.validate(args)
            queue = queue or handler.queue
            priority = handler.priority if priority is None else priority
            max_retries = handler.max_retries if max_retries is None else max_retries
            retry_policy = retry_policy or handler.retry_policy
        elif isinstance(args, BaseModel):
            args = args.model_dump(mode="json")
        if tenant is not None and (not isinstance(tenant, str) or not tenant):
            raise InvalidJob(f"tenant must be a non-empty string, got {tenant!r}")
        return new_job(
            type, args, now=self.clock(), queue=queue or "default",
            priority=Priority.NORMAL if priority is None else priority, delay=delay, run_at=run_at,
            metadata=metadata, tenant=tenant, timeout=timeout, unique_key=unique_key,
            payload_limit=self.settings.payload_limit,
            max_retries=DEFAULT_MAX_RETRIES if max_retries is None else max_retries,
            retry_policy=DEFAULT_RETRY_POLICY if retry_policy is None else retry_policy,
        )

    async def enqueue(
        self,
        type: str,
        args: Any = None,
        *,
        queue: str | None = None,
        priority: Priority | str | int | None = None,
        delay: float | None = None,
        run_at: float | None = None,
        tenant: str | None = None,
        unique_key: str | None = None,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
        timeout: float | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Job:
        """Store a new job and return it (or the existing one for a duplicate unique_key).

        Raises InvalidJob (ArgsValidationError naming the field when the handler has a model).
        """
        job = self.build_job(type, args, queue=queue, priority=priority, delay=delay, run_at=run_at,
                             tenant=tenant, unique_key=unique_key, max_retries=max_retries,
                             retry_policy=retry_policy, timeout=timeout, metadata=metadata)
        stored = await self.store.enqueue(job)
        self.notify()
        return stored

    def enqueue_sync(
        self,
        type: str,
        args: Any = None,
        *,
        queue: str | None = None,
        priority: Priority | str | int | None = None,
        delay: float | None = None,
        run_at: float | None = None,
        tenant: str | None = None,
        unique_key: str | None = None,
        max_retries: int | None = None,
        retry_policy: RetryPolicy | None = None,
        timeout: float | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Job:
        """``enqueue`` for synchronous code (a Flask or Django view, a management command):
        blocks for one round trip, callable from any thread, no event loop needed."""
        job = self.build_job(type, args, queue=queue, priority=priority, delay=delay, run_at=run_at,
                             tenant=tenant, unique_key=unique_key, max_retries=max_retries,
                             retry_policy=retry_policy, timeout=timeout, metadata=metadata)
        stored = self.store.enqueue_sync(job)
        self.notify()
        return stored

    async def enqueue_many(self, specs: Iterable[Mapping[str, Any] | Sequence[Any]]) -> list[Job]:
        """Enqueue many jobs in one round trip; all are validated before anything is stored.

        Each spec is a mapping with ``enqueue``'s keyword names (``type`` required), or a
        ``(type, args)`` pair.
        """
        build = self.build_job
        # A (type, args) tuple, the usual spec, skips building a kwargs dict for each job.
        jobs = [build(spec[0], spec[1]) if spec.__class__ is tuple and len(spec) == 2
                else build(**_spec_kwargs(spec)) for spec in specs]
        if not jobs:
            return []
        stored = await self.store.enqueue_many(jobs)
        self.notify()
        return stored

    # -- pass-throughs used by scripts and tests -------------------------------------------------
    async def get(self, job_id: str) -> Job:
        return await self.store.get(job_id)

    async def cancel(self, job_id: str) -> Job:
        return await self.store.cancel(job_id)

    async def replay(self, job_id: str) -> Job:
        job = await self.store.replay(job_id)
        self.notify()
        return job

    async def close(self) -> None:
        await self.store.close()

    # -- in-process wake-ups ---------------------------------------------------------------------
    def listen(self, event: asyncio.Event) -> None:
        """Have ``notify`` set ``event`` (called by workers from their running event loop)."""
        self._listeners.append((asyncio.get_running_loop(), event))

    def unlisten(self, event: asyncio.Event) -> None:
        self._listeners = [(loop, e) for loop, e in self._listeners if e is not event]

    def notify(self) -> None:
        """Wake this process's workers so new jobs start without a poll delay (any thread)."""
        if not self._listeners:
            return
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for loop, event in self._listeners:
            if loop is current:
                event.set()
            else:
                with contextlib.suppress(RuntimeError):  # that loop is closed
                    loop.call_soon_threadsafe(event.set)


def _spec_kwargs(spec: Mapping[str, Any] | Sequence[Any]) -> dict[str, Any]:
    if isinstance(spec, Mapping):
        unknown = set(spec) - _ENQUEUE_KEYS
        if unknown:
            raise InvalidJob(f"unknown enqueue option(s): {', '.join(sorted(unknown))}")
        if "type" not in spec:
            raise InvalidJob("every job spec needs a 'type'")
        return dict(spec)
    if isinstance(spec, Sequence) and not isinstance(spec, str) and 1 <= len(spec) <= 2:
        return {"type": spec[0], "args": spec[1] if len(spec) == 2 else None}
    raise InvalidJob(f"a job spec is a mapping or a (type, args) pair, got {spec!r}")
