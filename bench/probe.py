"""Worker-side probes: what a benchmark job records in Redis (first start, last done, latency, starts).

Handlers of every library call these instead of doing real work, so that every library pays the
same tiny bookkeeping cost. Counting happens in-process (one Redis write at the first and at the
last job), except for libraries that fork a process per job (rq), which count in Redis.
"""

from __future__ import annotations

import os
import threading
import time

import redis

T0 = "bench:t0"  # wall time when the first measured job started
T1 = "bench:t1"  # wall time when the target-th job finished
COUNT = "bench:count"  # shared counter (forking workers)
LATENCY = "bench:latency"  # list of enqueue-to-start latencies in seconds
READY = "bench:ready"  # set by the warm-up job of the latency scenario
STARTS = "bench:starts"  # list of start times of the long job (crash recovery)

class _State:
    lock = threading.Lock()
    count = 0
    client: redis.Redis | None = None


def client() -> redis.Redis:
    if _State.client is None:
        _State.client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
    return _State.client


def _target() -> int:
    return int(os.environ.get("BENCH_TARGET", "0"))


def started() -> None:
    """Call at the start of a counted job (records the first start time once)."""
    if _State.count == 0:
        client().set(T0, repr(time.time()), nx=True)


def done() -> None:
    """Call at the end of a counted job; the target-th call records the finish time."""
    with _State.lock:
        _State.count += 1
        n = _State.count
    if n == _target():
        client().set(T1, repr(time.time()))


def done_shared() -> None:
    """``started`` + ``done`` for workers that fork per job: the count lives in Redis."""
    r = client()
    r.set(T0, repr(time.time()), nx=True)
    if r.incr(COUNT) == _target():
        r.set(T1, repr(time.time()))


def latency(enqueued_at: float) -> None:
    """Record the enqueue-to-start latency; a negative ``enqueued_at`` marks the warm-up job."""
    now = time.time()
    if enqueued_at < 0:
        client().set(READY, "1")
        return
    client().rpush(LATENCY, repr(now - enqueued_at))


def long_started() -> None:
    """Record that the long job (crash recovery scenario) started."""
    client().rpush(STARTS, repr(time.time()))


LONG_SECONDS = 3600.0
SLEEP_SECONDS = 0.01
