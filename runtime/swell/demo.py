"""`swell demo`: a few hundred jobs through in-process workers, with a progress bar and final stats.

What it shows: every priority, two queues, delayed jobs, a flaky job that succeeds on its retry,
and a poison job that ends in the dead-letter queue. It runs on the in-memory store, or on Redis
with ``--redis-url``. On Redis it uses its own key prefix (``swell-demo-<random>`` unless
``--key-prefix`` is given) so it never mixes with real data, and deletes its jobs at the end
unless ``--keep`` is given (then inspect them with ``swell stats --key-prefix <prefix>``).
Retry delays are short (50-200 ms) so the whole demo takes a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import IO, Any

from swell.app import App
from swell.cli import dead_error, print_stats, seconds
from swell.context import JobContext
from swell.job import Job, Status
from swell.retry import RetryPolicy
from swell.settings import Settings
from swell.stats import Stats
from swell.store.base import Store

QUEUES = ["emails", "default"]
SHORT_RETRIES = RetryPolicy(initial=0.05, cap=0.2)
DEADLINE = 120.0  # seconds; the demo normally needs a few


class UpstreamTimeout(Exception):
    """What the flaky demo job raises on its first attempt."""


class CorruptInvoice(Exception):
    """What the poison demo job raises on every attempt."""


def register_handlers(app: App) -> None:
    """The demo's job types; each sleeps a few milliseconds as if it did I/O."""

    async def work(low: float = 0.002, high: float = 0.02) -> None:
        await asyncio.sleep(random.uniform(low, high))

    @app.job(queue="default", priority="critical")
    async def charge_card(args: dict[str, Any]) -> dict[str, Any]:
        await work()
        return {"charged": args.get("amount", 0)}

    @app.job(queue="emails", priority="high")
    async def send_email(args: dict[str, Any]) -> dict[str, Any]:
        await work()
        return {"sent_to": args.get("to")}

    @app.job(queue="default")
    async def resize_image(args: dict[str, Any]) -> dict[str, Any]:
        await work(0.005, 0.03)
        return {"thumbnail": f"{args.get('image', 'img')}-small"}

    @app.job(queue="default", priority="low")
    def rebuild_index(args: dict[str, Any]) -> int:
        # A sync handler: runs in a worker thread.
        time.sleep(random.uniform(0.002, 0.01))
        return int(args.get("shard", 0))

    @app.job(queue="emails", retry_policy=SHORT_RETRIES)
    async def send_reminder(args: dict[str, Any]) -> str:
        await work()
        return "reminded"

    @app.job(queue="default", priority="high", max_retries=3, retry_policy=SHORT_RETRIES)
    async def flaky_upload(args: dict[str, Any], ctx: JobContext) -> str:
        await work()
        if ctx.attempt < 2:
            raise UpstreamTimeout("storage service timed out (first attempt always does)")
        return "uploaded on attempt 2"

    @app.job(queue="default", max_retries=2, retry_policy=SHORT_RETRIES)
    async def import_invoice(args: dict[str, Any]) -> None:
        await work()
        raise CorruptInvoice(f"cannot parse invoice {args.get('invoice')}: unexpected end of file")


def job_mix(n: int, rng: random.Random) -> list[dict[str, Any]]:
    """``n`` ordinary jobs over every priority, a few delayed ones, one flaky, one poison."""
    specs: list[dict[str, Any]] = []
    kinds = [("resize_image", 5), ("send_email", 3), ("charge_card", 1), ("rebuild_index", 1)]
    types = [t for t, weight in kinds for _ in range(weight)]
    for i in range(n):
        kind = rng.choice(types)
        args = {"resize_image": {"image": f"photo-{i}.jpg"}, "send_email": {"to": f"user{i}@example.com"},
                "charge_card": {"amount": rng.randint(1, 500)}, "rebuild_index": {"shard": i % 16}}[kind]
        specs.append({"type": kind, "args": args})
    for i in range(max(3, n // 30)):
        specs.append({"type": "send_reminder", "args": {"user": i}, "delay": rng.uniform(0.3, 1.5)})
    specs.append({"type": "flaky_upload", "args": {"file": "report.pdf"}})
    specs.append({"type": "import_invoice", "args": {"invoice": "INV-4242"}})
    rng.shuffle(specs)
    return specs


def _done(stats: Stats) -> int:
    return sum(q.completed + q.dead for q in stats.queues.values())


class Progress:
    """A one-line progress bar on a terminal; a few plain lines otherwise."""

    def __init__(self, total: int, err: IO[str]) -> None:
        self.total = max(total, 1)
        self.err = err
        self.tty = bool(getattr(err, "isatty", lambda: False)())
        self.reported = -1

    def update(self, done: int, stats: Stats) -> None:
        done = min(done, self.total)
        pending = sum(q.pending_total for q in stats.queues.values())
        running = sum(q.running for q in stats.queues.values())
        waiting = sum(q.scheduled + q.scheduled_due for q in stats.queues.values())
        dead = sum(q.dead for q in stats.queues.values())
        share = done / self.total
        if self.tty:
            bar = "#" * int(share * 30)
            line = (f"\r\x1b[2K[{bar:<30}] {share:4.0%} {done}/{self.total}  pending {pending}  "
                    f"running {running}  delayed/retrying {waiting}  dead {dead}")
            print(line, end="", file=self.err, flush=True)
        elif int(share * 4) > self.reported:  # 0%, 25%, 50%, 75%, 100%
            self.reported = int(share * 4)
            print(f"progress: {done}/{self.total} done ({share:.0%}), {pending} pending, {running} running, "
                  f"{waiting} delayed/retrying, {dead} dead", file=self.err, flush=True)

    def finish(self) -> None:
        if self.tty:
            print(file=self.err, flush=True)


async def run_demo(*, redis_url: str | None = None, key_prefix: str | None = None, jobs: int = 300,
                   workers: int = 2, concurrency: int = 20, keep: bool = False,
                   out: IO[str], err: IO[str], seed: int | None = None) -> int:
    """Run the demo; print progress on ``err`` and the final stats on ``out``. Returns an exit code."""
    prefix = key_prefix or (f"swell-demo-{uuid.uuid4().hex[:8]}" if redis_url else "swell")
    settings = Settings(key_prefix=prefix)
    store: Store
    if redis_url:
        from swell.store.redis import RedisStore

        store = RedisStore.from_url(redis_url, settings=settings)
        where = f"Redis (key prefix {prefix})"
    else:
        from swell.store.memory import MemoryStore

        store = MemoryStore(settings)
        where = "the in-memory store"
    try:
        await store.ping()
        return await _demo(store, settings=settings, where=where, n=jobs, workers=workers,
                           concurrency=concurrency, out=out, err=err, rng=random.Random(seed),
                           cleanup=bool(redis_url) and not keep)
    finally:
        with contextlib.suppress(Exception):
            await store.close()


async def _demo(store: Store, *, settings: Settings, where: str, n: int, workers: int, concurrency: int,
                out: IO[str], err: IO[str], rng: random.Random, cleanup: bool) -> int:
    from swell.worker import Worker

    app = App(store, settings=settings, name="swell-demo")
    register_handlers(app)
    before = _done(await store.stats())
    specs = job_mix(n, rng)
    started = time.monotonic()
    enqueued = await app.enqueue_many(specs)
    print(f"swell demo: {len(enqueued)} jobs on {where}, {workers} worker(s) x {concurrency} slots",
          file=err, flush=True)
    pool = [Worker(app, queues=QUEUES, concurrency=concurrency, handle_signals=False, shutdown_grace=5)
            for _ in range(workers)]
    tasks = [asyncio.create_task(w.run(), name=f"swell-demo-worker-{i}") for i, w in enumerate(pool)]
    progress = Progress(len(enqueued), err)
    finished = False
    try:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            stats = await store.stats()
            done = _done(stats) - before
            progress.update(done, stats)
            if done >= len(enqueued):
                finished = True
                break
            if any(t.done() for t in tasks):
                break  # a worker died: its exception is raised below
            await asyncio.sleep(0.1)
        final = await store.stats()
    finally:
        progress.finish()
        for w in pool:
            w.stop()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    elapsed = time.monotonic() - started
    # Worker heartbeats in the stats lag behind; the Worker objects know their exact counts.
    await _report(store, replace(final, workers=[]), enqueued, elapsed=elapsed, finished=finished, out=out)
    print("\nworkers: " + ", ".join(f"{w.id} ran {w.processed} ({w.failed} failed)" for w in pool),
          file=out)
    if cleanup:
        removed = await store.purge(None, statuses=(Status.COMPLETED, Status.FAILED, Status.CANCELLED))
        print(f"removed the demo's {removed} jobs from Redis (use --keep to inspect them with "
              f"`swell stats --key-prefix {settings.key_prefix}`)", file=err)
    return 0 if finished else 1


async def _report(store: Store, stats: Stats, enqueued: Sequence[Job], *, elapsed: float, finished: bool,
                  out: IO[str]) -> None:
    state = "done" if finished else f"NOT finished after {seconds(DEADLINE)}"
    print(f"\n{len(enqueued)} jobs {state} in {seconds(elapsed)}\n", file=out)
    print_stats(stats, out)
    dead = await store.dead(limit=10)
    if dead:
        print("\ndead-letter queue:", file=out)
        for job in dead:
            print(f"  {job.type} {job.id} after {job.attempts} attempts ({job.dead_reason or 'failed'}): "
                  f"{dead_error(job, 90)}", file=out)
        print("  replay with `swell dead replay ID` once the cause is fixed", file=out)
    flaky = [j for j in enqueued if j.type == "flaky_upload"]
    for job in flaky:
        final = await store.get(job.id)
        print(f"\nretried: {final.type} {final.id} {final.status.value} after {final.attempts} attempts",
              file=out)
