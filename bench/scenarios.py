"""One measurement of one scenario for one library, run in its own process (and environment).

Usage: python -m bench.scenarios LIB SCENARIO --url URL [--n N] [--cap S] [--log FILE]
Prints one JSON line: {"value": float | null, "extra": {...}, "note": str | null}.

Redis must be empty (the orchestrator runs FLUSHDB before each call). Workers are started as
process groups and killed with SIGKILL when the measurement is over.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import redis

from bench import probe

BATCH = 1000  # jobs per bulk-enqueue call
LATENCY_JOBS = 200
LATENCY_GAP = 0.005
IO_JOBS = 2000
IO_CONCURRENCY = 100
REPO = Path(__file__).resolve().parent.parent

Result = dict[str, Any]


def descendants(pid: int) -> list[int]:
    """Every process below pid (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and everything under it (from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in [pid, *descendants(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime, stime, and cutime, cstime: children already reaped (rq's work horses)
        total += sum(int(f) for f in fields[11:15]) / ticks
    return total


class Ctx:
    def __init__(self, lib: str, url: str, n: int, cap: float, log: str | None) -> None:
        self.lib, self.url, self.n, self.cap, self.log = lib, url, n, cap, log
        os.environ["BENCH_REDIS_URL"] = url  # adapters that build their client at import read it
        # "redis" is the raw redis-py ceiling: no adapter
        self.adapter: Any = None if lib == "redis" else importlib.import_module(f"bench.adapters.{lib}")
        self.r = redis.Redis.from_url(url)
        self.workers: list[subprocess.Popen[bytes]] = []

    # -- workers -----------------------------------------------------------------------------
    def start_worker(self, target: int = 0, concurrency: int | None = None) -> subprocess.Popen[bytes]:
        env = dict(os.environ, BENCH_REDIS_URL=self.url, BENCH_TARGET=str(target),
                   PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        proc = subprocess.Popen(self.adapter.worker_argv(self.url, concurrency), cwd=REPO, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.workers.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the worker and every process under it, as when a pod dies (rq's work horse,
        for one, runs in a session of its own, so killing the process group is not enough)."""
        for pid in [proc.pid, *descendants(proc.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def kill_all(self) -> None:
        for proc in self.workers:
            self.kill(proc)

    # -- helpers -----------------------------------------------------------------------------
    async def fill(self, handle: Any, task: str, n: int) -> None:
        """Enqueue n jobs as fast as the library allows (bulk API when there is one)."""
        if self.adapter.enqueue_batch is not None:
            for start in range(0, n, BATCH):
                args = [float(i) for i in range(start, min(n, start + BATCH))]
                await self.adapter.enqueue_batch(handle, task, args)
        else:  # concurrent calls help async clients; sync ones simply run one after the other
            for start in range(0, n, 100):
                await asyncio.gather(*(self.adapter.enqueue(handle, task, float(i))
                                       for i in range(start, min(n, start + 100))))

    def wait_key(self, key: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> bytes | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.r.get(key)
            if value is not None:
                return value
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"worker exited with {proc.returncode}")
            time.sleep(0.01)
        return None

    def wait_len(self, key: str, n: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.r.llen(key) >= n:
                return True
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"worker exited with {proc.returncode}")
            time.sleep(0.005)
        return False

    async def drain_rate(self, task: str, n: int, concurrency: int | None) -> Result:
        """Fill n jobs, start one worker, rate = n / (first start .. last done)."""
        handle = await self.adapter.connect(self.url)
        t_fill = time.perf_counter()
        await self.fill(handle, task, n)
        fill_s = time.perf_counter() - t_fill
        await self.adapter.close(handle)
        proc = self.start_worker(target=n, concurrency=concurrency)
        deadline = max(120.0, n / 50)
        if self.wait_key(probe.T0, timeout=deadline, proc=proc) is None:
            return {"value": None, "note": "no job started within the deadline"}
        cpu0, redis0 = cpu_seconds(proc.pid), self.redis_cpu()
        t1 = self.wait_key(probe.T1, timeout=deadline, proc=proc)
        if t1 is None:
            return {"value": None, "note": "not finished within the deadline"}
        # CPU per job (worker processes, redis-server) is far less sensitive than the rate to
        # other load on the machine; sampled when the first start / last end were seen (+10 ms).
        cpu1, redis1 = cpu_seconds(proc.pid), self.redis_cpu()
        t0 = float(self.r.get(probe.T0) or 0)
        elapsed = float(t1) - t0
        return {"value": n / elapsed, "extra": {
            "n": n, "elapsed_s": elapsed, "fill_s": fill_s,
            "worker_cpu_us_per_job": (cpu1 - cpu0) / n * 1e6,
            "redis_cpu_us_per_job": (redis1 - redis0) / n * 1e6}}

    def redis_cpu(self) -> float:
        info = self.r.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


# -- scenarios -------------------------------------------------------------------------------

async def enqueue_single(ctx: Ctx) -> Result:
    handle = await ctx.adapter.connect(ctx.url)
    for i in range(50):  # warm up connections and caches
        await ctx.adapter.enqueue(handle, "noop", float(i))
    t = time.perf_counter()
    for i in range(ctx.n):
        await ctx.adapter.enqueue(handle, "noop", float(i))
    elapsed = time.perf_counter() - t
    await ctx.adapter.close(handle)
    return {"value": ctx.n / elapsed, "extra": {"n": ctx.n, "elapsed_s": elapsed}}


async def enqueue_batch(ctx: Ctx) -> Result:
    if ctx.adapter.enqueue_batch is None:
        return {"value": None, "note": ctx.adapter.NOTES.get("enqueue_batch")}
    handle = await ctx.adapter.connect(ctx.url)
    await ctx.adapter.enqueue_batch(handle, "noop", [0.0] * 10)
    t = time.perf_counter()
    await ctx.fill(handle, "noop", ctx.n)
    elapsed = time.perf_counter() - t
    await ctx.adapter.close(handle)
    return {"value": ctx.n / elapsed, "extra": {"n": ctx.n, "batch": BATCH, "elapsed_s": elapsed}}


async def process(ctx: Ctx) -> Result:
    return await ctx.drain_rate("noop", ctx.n, None)


async def io_bound(ctx: Ctx) -> Result:
    if not ctx.adapter.IO_CONCURRENCY:
        return {"value": None, "note": ctx.adapter.NOTES.get("io_bound")}
    return await ctx.drain_rate("sleep", IO_JOBS, IO_CONCURRENCY)


async def latency(ctx: Ctx) -> Result:
    handle = await ctx.adapter.connect(ctx.url)
    proc = ctx.start_worker()
    await ctx.adapter.enqueue(handle, "lat", -1.0)  # warm-up job: the worker is up once it ran
    if ctx.wait_key(probe.READY, timeout=90, proc=proc) is None:
        return {"value": None, "note": "worker did not start"}
    await asyncio.sleep(1.0)  # let the worker go idle
    base = time.perf_counter()
    for k in range(LATENCY_JOBS):
        delay = base + k * LATENCY_GAP - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await ctx.adapter.enqueue(handle, "lat", time.time())
    if not ctx.wait_len(probe.LATENCY, LATENCY_JOBS, timeout=60, proc=proc):
        return {"value": None, "note": "not all latency jobs ran within 60 s"}
    await ctx.adapter.close(handle)
    samples = sorted(float(v) * 1000 for v in ctx.r.lrange(probe.LATENCY, 0, -1))
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return {"value": q[49], "extra": {"p50_ms": q[49], "p99_ms": q[98], "max_ms": samples[-1],
                                      "jobs": len(samples), "gap_ms": LATENCY_GAP * 1000}}


async def memory(ctx: Ctx) -> Result:
    n = ctx.n
    handle = await ctx.adapter.connect(ctx.url)
    before = int(ctx.r.info("memory")["used_memory"])
    keys_before = int(ctx.r.dbsize())
    t = time.perf_counter()
    await ctx.fill(handle, "noop", n)
    fill_s = time.perf_counter() - t
    await ctx.adapter.close(handle)
    await asyncio.sleep(0.2)
    after = int(ctx.r.info("memory")["used_memory"])
    return {"value": (after - before) / n,
            "extra": {"n": n, "keys_added": int(ctx.r.dbsize()) - keys_before, "fill_s": fill_s}}


async def recovery(ctx: Ctx) -> Result:
    handle = await ctx.adapter.connect(ctx.url)
    first = ctx.start_worker()
    await ctx.adapter.enqueue(handle, "long", 0.0)
    if not ctx.wait_len(probe.STARTS, 1, timeout=90, proc=first):
        return {"value": None, "note": "the long job never started"}
    await asyncio.sleep(0.5)  # let the library record whatever it records for a running job
    ctx.kill(first)
    killed_at = time.time()
    ctx.start_worker()  # the replacement (a restarted pod)
    if not ctx.wait_len(probe.STARTS, 2, timeout=ctx.cap):
        await ctx.adapter.close(handle)
        return {"value": None, "note": f"not run again within {ctx.cap:.0f} s",
                "extra": {"capped": True, "cap_s": ctx.cap}}
    again = float(ctx.r.lindex(probe.STARTS, 1) or 0)
    await ctx.adapter.close(handle)
    return {"value": again - killed_at, "extra": {"capped": False}}


async def ceiling_push(ctx: Ctx) -> Result:
    payload = b'{"id":"0123456789abcdef","type":"noop","args":{"x":0.0}}'
    pipe = ctx.r.pipeline(transaction=False)
    t = time.perf_counter()
    for start in range(0, ctx.n, BATCH):
        for _ in range(start, min(ctx.n, start + BATCH)):
            pipe.lpush("ceiling", payload)
        pipe.execute()
    elapsed = time.perf_counter() - t
    return {"value": ctx.n / elapsed, "extra": {"n": ctx.n, "pipeline": BATCH, "payload_bytes": len(payload)}}


async def ceiling_push_variadic(ctx: Ctx) -> Result:
    payload = b'{"id":"0123456789abcdef","type":"noop","args":{"x":0.0}}'
    t = time.perf_counter()
    for start in range(0, ctx.n, BATCH):
        ctx.r.lpush("ceiling", *([payload] * min(BATCH, ctx.n - start)))
    elapsed = time.perf_counter() - t
    return {"value": ctx.n / elapsed, "extra": {"n": ctx.n, "per_command": BATCH}}


async def ceiling_pop(ctx: Ctx) -> Result:
    payload = b'{"id":"0123456789abcdef","type":"noop","args":{"x":0.0}}'
    for start in range(0, ctx.n, BATCH):
        ctx.r.lpush("ceiling", *([payload] * min(BATCH, ctx.n - start)))
    got = 0
    t = time.perf_counter()
    while True:
        items = ctx.r.rpop("ceiling", 100)
        if not items:
            break
        got += len(items)
    elapsed = time.perf_counter() - t
    return {"value": got / elapsed, "extra": {"n": got, "pop_count": 100}}


async def info(ctx: Ctx) -> Result:
    """The adapter's settings and notes, read in the adapter's own environment."""
    return {"value": None, "extra": {"settings": ctx.adapter.SETTINGS, "notes": ctx.adapter.NOTES}}


SCENARIOS: dict[str, Callable[[Ctx], Awaitable[Result]]] = {
    "info": info,
    "enqueue_single": enqueue_single,
    "enqueue_batch": enqueue_batch,
    "process": process,
    "latency": latency,
    "memory": memory,
    "recovery": recovery,
    "io_bound": io_bound,
    "ceiling_push": ceiling_push,
    "ceiling_push_variadic": ceiling_push_variadic,
    "ceiling_pop": ceiling_pop,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("lib")
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--url", required=True)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--cap", type=float, default=120.0)
    parser.add_argument("--log")
    args = parser.parse_args()
    ctx = Ctx(args.lib, args.url, args.n, args.cap, args.log)
    try:
        result = asyncio.run(SCENARIOS[args.scenario](ctx))
    except Exception as exc:
        result = {"value": None, "note": f"error: {type(exc).__name__}: {exc}"}
    finally:
        ctx.kill_all()
    result.setdefault("extra", {})
    result.setdefault("note", None)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
