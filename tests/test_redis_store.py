"""RedisStore specifics the contract suite cannot see: outages, credentials, TLS, corrupt records,
hash tags, retention bounds, script cache loss and round trips."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
import redis.asyncio
from redis.crc import key_slot

from redis_support import RedisServer, free_port
from swell.clock import ManualClock
from swell.errors import JobNotFound, StoreAuthError, StoreTLSError, StoreUnavailable
from swell.job import Job, JobError, Priority, Status, new_job
from swell.retry import RetryPolicy
from swell.settings import Settings
from swell.stats import WorkerInfo
from swell.store import direct
from swell.store import record as record_module
from swell.store import redis as redis_module
from swell.store.base import JobFilter, Outcome, OutcomeKind
from swell.store.keys import QueueKeys
from swell.store.record import CORRUPT_TYPE, decode_record, encode_record
from swell.store.redis import RedisStore

BOOM = JobError("ValueError", "boom")


class CountingConnection(redis.asyncio.Connection):
    """A real connection that counts the writes it makes: one per round trip."""

    sends = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.sends += 1
        await super().send_packed_command(command, check_health)


@pytest.fixture
async def store(redis_url: str, key_prefix: str, clock: ManualClock) -> AsyncIterator[RedisStore]:
    s = RedisStore.from_url(redis_url, settings=Settings(key_prefix=key_prefix), clock=clock)
    yield s
    await s.close()


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def mk(clock: ManualClock, type: str = "t", args: Any = None, **options: Any) -> Job:
    return new_job(type, args, now=clock(), **options)


# -- outages and credentials -----------------------------------------------------------------
async def test_outage_at_enqueue_is_clear_writes_nothing_and_recovers(
        redis_server: RedisServer, clock: ManualClock) -> None:
    url = f"redis://:hunter2-not-used@127.0.0.1:{redis_server.port}/0"
    store = RedisStore.from_url(url.replace(":hunter2-not-used@", ""), clock=clock)
    try:
        await store.enqueue(mk(clock, "before"))
        redis_server.stop()
        with pytest.raises(StoreUnavailable) as caught:
            await store.enqueue(mk(clock, "during"))
        message = str(caught.value)
        assert message.startswith(f"cannot reach Redis at 127.0.0.1:{redis_server.port}: ")
        assert "refused" in message.lower() and "\n" not in message
        assert not isinstance(caught.value, StoreAuthError | StoreTLSError)
        for call in (store.claim("default", "w", 5), store.stats(), store.ping(), store.queues(),
                     store.enqueue_many([mk(clock, "x", queue="other")])):
            with pytest.raises(StoreUnavailable):
                await call
        with pytest.raises(StoreUnavailable, match=f"cannot reach Redis at 127.0.0.1:{redis_server.port}: "):
            store.enqueue_sync(mk(clock, "during, sync"))
        redis_server.start()  # a fresh, empty server on the same port: no script cache either
        job = await store.enqueue(mk(clock, "after"))
        synced = store.enqueue_sync(mk(clock, "after, sync"))  # reconnects, reloads the script
        claimed = await store.claim("default", "w", 10)
        assert [j.id for j in claimed] == [job.id, synced.id]  # nothing of "during" was written
        assert await store.complete(claimed[0]) is True
        assert (await store.stats()).queues["default"].enqueued == 2
        assert await store.queues() == ["default"]  # the registry came back with the first enqueue
    finally:
        await store.close()

    # The password never shows in an error message.
    redis_server.stop()
    secret = RedisStore.from_url(url, clock=clock)
    try:
        with pytest.raises(StoreUnavailable) as caught:
            await secret.enqueue(mk(clock))
        assert "hunter2" not in str(caught.value)
    finally:
        await secret.close()


@pytest.fixture
def password_server() -> Iterator[RedisServer]:
    server = RedisServer(password="s3cret-pw")
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


async def test_auth_password_acl_user_and_refusals(password_server: RedisServer, clock: ManualClock) -> None:
    port = password_server.port
    admin = redis.Redis(port=port, password="s3cret-pw")
    admin.acl_setuser("worker", enabled=True, passwords=["+worker-pw"], keys=["swell:*"],
                      channels=["*"], commands=["+@all"])
    admin.acl_setuser("reader", enabled=True, passwords=["+reader-pw"], keys=["swell:*"],
                      commands=["+@read", "+ping"])
    admin.close()

    async def roundtrip(store: RedisStore) -> None:
        try:
            job = await store.enqueue(mk(clock))
            (claimed,) = await store.claim("default", "w", 1)
            assert claimed.id == job.id and await store.complete(claimed)
        finally:
            await store.close()

    await roundtrip(RedisStore.from_url(password_server.url, clock=clock))  # password in the URL
    await roundtrip(RedisStore.from_url(f"redis://127.0.0.1:{port}/0", password="s3cret-pw", clock=clock))
    await roundtrip(RedisStore.from_url(f"redis://worker:worker-pw@127.0.0.1:{port}/0", clock=clock))

    refusals = {
        "wrong password": RedisStore.from_url(f"redis://:wrong-pw@127.0.0.1:{port}/0", clock=clock),
        "no password": RedisStore.from_url(f"redis://127.0.0.1:{port}/0", clock=clock),
        "unknown user": RedisStore.from_url(f"redis://ghost:wrong-pw@127.0.0.1:{port}/0", clock=clock),
        "no permission": RedisStore.from_url(f"redis://reader:reader-pw@127.0.0.1:{port}/0", clock=clock),
    }
    for what, store in refusals.items():
        try:
            with pytest.raises(StoreAuthError) as caught:
                await store.enqueue(mk(clock))
            message = str(caught.value)
            assert f"Redis at 127.0.0.1:{port} refused the credentials" in message, what
            assert "wrong-pw" not in message and "reader-pw" not in message
        finally:
            await store.close()

    password_server.stop()  # unreachable is not an auth failure
    store = RedisStore.from_url(password_server.url, clock=clock)
    try:
        with pytest.raises(StoreUnavailable) as unreachable:
            await store.ping()
        assert not isinstance(unreachable.value, StoreAuthError)
    finally:
        await store.close()


# -- TLS ------------------------------------------------------------------------------------
@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, int, Path]]:
    """A redis-server with a TLS port and a plain port, and the CA that signed its certificate."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    tls_port, plain_port = free_port(), free_port()
    exe = shutil.which("redis-server")
    assert exe is not None
    proc = subprocess.Popen([exe, "--port", str(plain_port), "--tls-port", str(tls_port),
                             "--bind", "127.0.0.1", "--tls-cert-file", str(cert), "--tls-key-file", str(key),
                             "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=plain_port, socket_timeout=0.5).ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    pytest.skip(f"this redis-server has no TLS support: {out[-300:]}")
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        yield tls_port, plain_port, cert
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_tls_works_and_mismatches_are_named(tls_server: tuple[int, int, Path],
                                                  clock: ManualClock) -> None:
    tls_port, plain_port, ca = tls_server
    store = RedisStore.from_url(f"rediss://127.0.0.1:{tls_port}/0", ssl_ca_certs=str(ca), clock=clock)
    try:
        job = await store.enqueue(mk(clock))
        assert [j.id for j in await store.claim("default", "w", 1)] == [job.id]
    finally:
        await store.close()

    untrusted = RedisStore.from_url(f"rediss://127.0.0.1:{tls_port}/0", clock=clock)  # CA not given
    tls_to_plain = RedisStore.from_url(f"rediss://127.0.0.1:{plain_port}/0", ssl_ca_certs=str(ca),
                                       socket_connect_timeout=1.0, clock=clock)
    for store in (untrusted, tls_to_plain):
        try:
            with pytest.raises(StoreTLSError, match=r"^TLS with Redis at 127\.0\.0\.1:\d+ failed"):
                await store.ping()
        finally:
            await store.close()

    plain_to_tls = RedisStore.from_url(f"redis://127.0.0.1:{tls_port}/0", socket_timeout=2.0, clock=clock)
    try:
        with pytest.raises(StoreUnavailable, match="rediss://"):
            await plain_to_tls.ping()
    finally:
        await plain_to_tls.close()


# -- corrupt records -------------------------------------------------------------------------
async def test_corrupt_records_are_dead_lettered_and_claiming_goes_on(
        store: RedisStore, raw: redis.Redis, key_prefix: str, clock: ManualClock) -> None:
    keys = QueueKeys.of(key_prefix, "default")
    jobs = await store.enqueue_many([mk(clock, "t", {"i": i}) for i in range(4)])
    later = await store.enqueue(mk(clock, "t", {"i": 9}, delay=5))
    # Fresh jobs' records live in small "fresh" hashes, the others in the :j hash.
    assert raw.hget(keys.fresh(jobs[1].id), jobs[1].id) and raw.hget(keys.jobs, later.id)
    raw.hset(keys.fresh(jobs[1].id), jobs[1].id, b"\xff\xfegarbage, not a job")  # Lua cannot read it
    raw.hset(keys.fresh(jobs[2].id), jobs[2].id, b'\n1700000000.0\nt\n{"i": oops')  # Python cannot
    raw.hset(keys.jobs, later.id, b"[1, 2, 3]")

    claimed = await store.claim("default", "w", 10)
    assert [j.id for j in claimed] == [jobs[0].id, jobs[3].id]
    clock.advance(6)
    assert await store.claim("default", "w", 10) == []  # the delayed one was corrupt too

    for j in (jobs[1], jobs[2]):  # the evidence moved to where dead records live
        assert raw.hget(keys.fresh(j.id), j.id) is None and raw.hget(keys.jobs, j.id) is not None
    dead = {j.id: j for j in await store.dead("default")}
    assert set(dead) == {jobs[1].id, jobs[2].id, later.id}
    for job_id, job in dead.items():
        assert job.type == CORRUPT_TYPE and job.status is Status.FAILED
        assert job.dead_reason is not None and job.dead_reason.startswith("corrupt: ")
        assert job == await store.get(job_id)
    assert dead[jobs[1].id].args["raw"].endswith("garbage, not a job")
    assert "not valid" in (dead[jobs[2].id].dead_reason or "")
    stats = (await store.stats()).queues["default"]
    assert stats.dead == 3 and stats.failed == 3 and stats.running == 2 and stats.pending_total == 0
    found = await store.find(JobFilter(status=Status.FAILED))
    assert {j.id for j in found} == set(dead)
    assert await store.replay_dead("default") == 0  # corrupt records stay dead, as evidence
    assert await store.purge("default", statuses=(Status.FAILED,)) == 3
    assert await store.dead() == []


# -- layout ----------------------------------------------------------------------------------
async def test_every_queue_key_carries_its_hash_tag(store: RedisStore, raw: redis.Redis, key_prefix: str,
                                                    clock: ManualClock) -> None:
    for queue in ("alpha", "beta.2"):
        jobs = await store.enqueue_many([
            mk(clock, "t", queue=queue, tenant="acme", unique_key=f"u-{queue}"),
            mk(clock, "t", queue=queue, delay=30), mk(clock, "t", queue=queue), mk(clock, "t", queue=queue),
        ])
        a, b = await store.claim(queue, "w", 2)
        await store.settle([Outcome(a, OutcomeKind.COMPLETE, result=1, duration=0.1),
                            Outcome(b, OutcomeKind.RETRY, error=BOOM, delay=1)])
        (c,) = await store.claim(queue, "w", 1)
        await store.cancel(c.id)
        await store.extend_leases(queue, {c.id: c.token or ""})
        clock.advance(31)
        await store.reap_expired(queue)
        await store.cancel(jobs[1].id)
        (d,) = await store.claim(queue, "w", 1)
        await store.fail(d, BOOM)
    await store.register_worker(WorkerInfo(id="w", host="h", pid=1, queues=("alpha",), concurrency=1))
    await store.claim_occurrence("cron:x:1", 60)
    await store.stats()

    found = [k.decode() for k in raw.scan_iter(match=f"{key_prefix}:*", count=1000)]
    global_keys = {f"{key_prefix}:queues", f"{key_prefix}:workers", f"{key_prefix}:o:cron:x:1"}
    assert global_keys <= set(found)
    per_queue = [k for k in found if k not in global_keys]
    assert per_queue
    for queue in ("alpha", "beta.2"):
        mine = [k for k in per_queue if k.startswith(f"{key_prefix}:{{{queue}}}:")]
        assert {key_slot(k.encode()) for k in mine} == {key_slot(queue.encode())}
        k = QueueKeys.of(key_prefix, queue)
        assert {k.jobs, k.completed, k.cancelled, k.dead, k.stats, k.throughput} <= set(mine)
    assert all(k.startswith((f"{key_prefix}:{{alpha}}:", f"{key_prefix}:{{beta.2}}:")) for k in per_queue)

    with pytest.raises(ValueError, match="braces"):
        RedisStore.from_url("redis://127.0.0.1:1/0", settings=Settings(key_prefix="bad{prefix}"))
    with pytest.raises(ValueError, match="decode_responses=False"):
        RedisStore.from_url("redis://127.0.0.1:1/0", decode_responses=True)


# -- retention bounds memory -------------------------------------------------------------------
async def test_memory_stays_bounded_under_a_steady_stream(redis_url: str, raw: redis.Redis, key_prefix: str,
                                                          clock: ManualClock) -> None:
    store = RedisStore.from_url(redis_url, clock=clock,
                                settings=Settings(key_prefix=key_prefix, completed_max=1000, dead_max=200))

    def usage() -> int:
        return sum(raw.memory_usage(k, samples=0) or 0 for k in raw.scan_iter(match=f"{key_prefix}:*"))

    sizes = []
    try:
        for rnd in range(60):  # 30,000 jobs, 1 in 50 dead-lettered
            await store.enqueue_many([mk(clock, "noop", {"n": rnd * 500 + i}) for i in range(500)])
            claimed = await store.claim("default", "w", 500)
            assert len(claimed) == 500
            outcomes = [Outcome(j, OutcomeKind.FAIL if j.args["n"] % 50 == 0 else OutcomeKind.COMPLETE,
                                error=BOOM, result={"ok": True}, duration=0.001) for j in claimed]
            assert all(await store.settle(outcomes))
            clock.advance(1)
            if rnd in (9, 59):
                sizes.append(usage())
    finally:
        await store.close()
    keys = QueueKeys.of(key_prefix, "default")
    assert raw.zcard(keys.completed) == 1000 and raw.zcard(keys.dead) == 200
    assert raw.hlen(keys.jobs) == 1200
    assert sizes[1] < sizes[0] * 1.2  # 5,000 jobs in or 30,000: the same footprint


# -- enqueue batches ---------------------------------------------------------------------------
async def test_a_mixed_batch_keeps_ids_places_and_counters(store: RedisStore, raw: redis.Redis,
                                                           key_prefix: str, clock: ManualClock) -> None:
    """One call mixing plain, delayed, tenant, unique-key, long (stored in :j) and repeated jobs:
    every job that already exists comes back in its place, the rest are stored in order."""
    waiting = await store.enqueue(mk(clock, "t", {"w": 1}))
    long = mk(clock, "t", {"pad": "x" * 200})
    plain = [mk(clock, "t", {"i": i}) for i in range(3)]
    batch = [plain[0], waiting, long, mk(clock, "t", tenant="acme"), mk(clock, "t", delay=5),
             mk(clock, "t", unique_key="u"), mk(clock, "t", unique_key="u"), long, plain[1],
             replace(plain[0], args={"i": 99}), plain[2], mk(clock, "t", priority="high")]
    out = await store.enqueue_many(batch)
    assert [j.id for j in out] == [j.id for j in batch[:6]] + [batch[5].id] + [j.id for j in batch[7:]]
    assert out[1].args == {"w": 1} and out[9].args == {"i": 0}
    assert out[4].status is Status.SCHEDULED
    stats = (await store.stats()).queues["default"]
    assert stats.enqueued == 1 + 8  # waiting, then 9 new less the repeats of long/plain[0]/"u"
    assert stats.pending["normal"] == 7 and stats.pending["high"] == 1 and stats.scheduled == 1
    keys = QueueKeys.of(key_prefix, "default")
    assert int(raw.hget(keys.stats, "seq") or 0) == 9
    assert int(raw.hget(keys.stats, "tp:acme") or 0) == 1
    claimed = await store.claim("default", "w", 20)
    assert [j.id for j in claimed] == [batch[11].id, waiting.id, plain[0].id, long.id, batch[3].id,
                                       batch[5].id, plain[1].id, plain[2].id]


async def test_single_enqueues_survive_flush_cancel_concurrency_and_restart(
        redis_server: RedisServer, clock: ManualClock) -> None:
    """Single enqueues run on a connection the store keeps: a script flush, a call cancelled
    mid-flight, concurrent calls and a Redis restart must all leave it right."""
    store = RedisStore.from_url(f"redis://127.0.0.1:{redis_server.port}/0", clock=clock)
    raw_client = redis.Redis(port=redis_server.port)
    try:
        first = await store.enqueue(mk(clock, "t", {"i": 0}))  # registers the queue (pipeline)
        second = await store.enqueue(mk(clock, "t", {"i": 1}))  # on the kept connection
        raw_client.script_flush()
        third = await store.enqueue(mk(clock, "t", {"i": 2}))
        assert (await store.enqueue(replace(second, args={"i": 9}))).args == {"i": 1}
        for _ in range(20):  # cancel calls at every point of their flight
            task = asyncio.ensure_future(store.enqueue(mk(clock, "t", {"i": -1})))
            await asyncio.sleep(0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        jobs = [mk(clock, "t", {"i": i}) for i in range(3, 40)]
        out = await asyncio.gather(*(store.enqueue(j) for j in jobs + jobs[:5]))
        assert [j.id for j in out] == [j.id for j in jobs + jobs[:5]]
        assert [j.args for j in out[-5:]] == [j.args for j in jobs[:5]]
        redis_server.stop()
        redis_server.start()
        after = await store.enqueue(mk(clock, "t", {"i": 40}))  # a fresh server: reconnect, reload
        assert [j.id for j in await store.claim("default", "w", 100)] == [after.id]
        raw_client.flushall()
        await store.enqueue(first)
        await store.enqueue(third)
        assert [j.id for j in await store.claim("default", "w", 100)] == [first.id, third.id]
    finally:
        raw_client.close()
        await store.close()


def test_hot_path_packs_its_command_as_redis_py_does() -> None:
    conn = redis.asyncio.Connection()
    args = [b"2" * 3, b"", "id-\u00e9", "x" * 7000, b"\n1.5\nt\n{}", 7, 2.5, b"r" * 7000]
    packed = direct.pack(["EVALSHA", "0" * 40, 1, "p:{q}:", *args])
    assert packed == b"".join(conn.pack_command("EVALSHA", "0" * 40, 1, "p:{q}:", *args))
    head = direct.pack_head(["EVALSHA", "0" * 40, 1, "p:{q}:"])
    assert direct.pack(args, head, 4) == packed


def _reference_record(job: Job) -> bytes:
    """The record as the first encoder wrote it (through Job.to_dict()): the format reference."""
    d = job.to_dict()
    extra = {k: d[k] for k in ("max_retries", "retry_policy", "timeout", "metadata") if k in d}
    state: dict[str, Any] = {}
    if job.status is not Status.PENDING:
        state["st"] = record_module.STATUS_CODE[job.status]
    for key, name in record_module._STATE_FIELDS:
        value = getattr(job, name)
        if key == "p":
            if value is not Priority.NORMAL:
                state["p"] = int(value)
        elif value is not None and value != 0:
            state[key] = record_module.fmt_time(value) if key in record_module._TIME_KEYS else value
    if job.result is not None:
        state["r"] = orjson.dumps(job.result).decode()
    if job.error is not None:
        state["e"] = orjson.dumps(job.error.to_dict()).decode()
    if job.cancel_requested:
        state["cr"] = True
    parts = [orjson.dumps(state) if state else b"", record_module.fmt_time(job.created_at).encode(),
             record_module._encode_type(job.type), b"" if job.args == {} else orjson.dumps(job.args)]
    if extra:
        parts.append(orjson.dumps(extra))
    return b"\n".join(parts)


def test_records_keep_their_format() -> None:
    """encode_record (with its shortcut for new jobs) writes exactly the reference format."""
    now = 1_700_000_000.123456
    jobs = [new_job("t", None, now=now), new_job("t", 1.5, now=now),
            new_job("t\nx", {"a": [1, 2]}, now=now, priority="low", tenant="acme", unique_key="k",
                    delay=30, max_retries=0, timeout=2, metadata={"m": 1},
                    retry_policy=RetryPolicy(initial=2.0)),
            new_job("t", [], now=now, run_at=now - 5, tenant="")]
    for job in jobs:
        for j in (job, replace(job, status=Status.SCHEDULED, run_at=now + 1),
                  replace(job, status=Status.RUNNING, attempts=1, token="tk", worker_id="w",
                          lease_until=now + 30, started_at=now),
                  replace(job, status=Status.FAILED, attempts=2, result={"r": 1}, error=BOOM,
                          finished_at=now, redeliveries=1, dead_reason="boom", cancel_requested=True)):
            assert encode_record(j) == _reference_record(j)
            assert decode_record(j.id, j.queue, encode_record(j)) == j


# -- script cache and round trips --------------------------------------------------------------
async def test_scripts_survive_script_flush(store: RedisStore, raw: redis.Redis, clock: ManualClock) -> None:
    await store.enqueue(mk(clock))
    raw.script_flush()
    jobs = await store.enqueue_many([mk(clock, queue="q1"), mk(clock, queue="q2")])  # pipelined path
    raw.script_flush()
    (a,) = await store.claim("q1", "w", 5)
    (b,) = await store.claim("q2", "w", 5)
    raw.script_flush()
    assert await store.settle([Outcome(a, OutcomeKind.COMPLETE), Outcome(b, OutcomeKind.COMPLETE)]) == [
        True, True]
    raw.script_flush()
    stats = await store.stats()  # read through a pipeline of one script per queue
    assert stats.queues["q1"].completed == stats.queues["q2"].completed == 1
    assert {j.id for j in jobs} == {a.id, b.id}


async def test_batches_and_stats_are_one_round_trip_each(redis_url: str, key_prefix: str,
                                                         clock: ManualClock) -> None:
    store = RedisStore.from_url(redis_url, settings=Settings(key_prefix=key_prefix), clock=clock,
                                connection_class=CountingConnection)
    try:
        # Connect and load the scripts first (the cache may be empty): that is not what we count.
        await store.enqueue(mk(clock, queue="a"))
        await store.settle([Outcome(j, OutcomeKind.COMPLETE) for j in await store.claim("a", "w", 1)])
        await store.stats()

        async def trips(coro: Any) -> int:
            before = CountingConnection.sends
            await coro
            return CountingConnection.sends - before

        queues = ["a", "b", "c"]
        assert await trips(store.enqueue_many([mk(clock, queue=q) for q in queues for _ in range(50)])) == 1
        assert await trips(store.enqueue_many([mk(clock, queue=q) for q in queues for _ in range(50)])) == 1
        claimed: list[Job] = []
        for q in queues:
            before = CountingConnection.sends
            claimed += await store.claim(q, "w", 100)
            assert CountingConnection.sends - before == 1
        assert len(claimed) == 300
        assert await trips(store.settle([Outcome(j, OutcomeKind.COMPLETE) for j in claimed])) == 1

        # Big batches go as several script calls (none blocks Redis for long), still one trip.
        assert await trips(store.enqueue_many([mk(clock, queue="big") for _ in range(2500)])) == 1
        big = await store.claim("big", "w", 2500)
        assert len(big) == 2500
        before = CountingConnection.sends
        assert all(await store.settle([Outcome(j, OutcomeKind.COMPLETE) for j in big]))
        assert CountingConnection.sends - before == 1
        await store.register_worker(WorkerInfo(id="w1", host="h", pid=1, queues=tuple(queues), concurrency=4))
        assert await trips(store.stats()) == 1
        stats = await store.stats()
        assert [stats.queues[q].completed for q in queues] == [101, 100, 100]
        assert stats.queues["big"].completed == 2500
        assert [w.id for w in stats.workers] == ["w1"]
    finally:
        await store.close()

    # A second process sees queues it never enqueued to: one more trip the first time only.
    other = RedisStore.from_url(redis_url, settings=Settings(key_prefix=key_prefix), clock=clock,
                                connection_class=CountingConnection)
    try:
        await other.ping()
        before = CountingConnection.sends
        assert set((await other.stats()).queues) == {"a", "b", "c", "big"}
        assert CountingConnection.sends - before == 2
        before = CountingConnection.sends
        await other.stats()
        assert CountingConnection.sends - before == 1
    finally:
        await other.close()


# -- the reaper lock -----------------------------------------------------------------------------
async def test_one_sweeper_at_a_time(store: RedisStore, raw: redis.Redis, key_prefix: str,
                                     clock: ManualClock) -> None:
    keys = QueueKeys.of(key_prefix, "default")
    jobs = await store.enqueue_many([mk(clock) for _ in range(3)])
    await store.claim("default", "w", 3)
    clock.advance(31)
    raw.set(keys.reap_lock, b"another-sweeper", px=60_000)  # someone else is sweeping
    report = await store.reap_expired("default")
    assert report.skipped and report.requeued == () and report.dead == ()
    assert raw.zcard(keys.running) == 3
    raw.delete(keys.reap_lock)  # it finished (or its lock expired)
    report = await store.reap_expired("default")
    assert not report.skipped and sorted(report.requeued) == sorted(j.id for j in jobs)
    assert raw.exists(keys.reap_lock) == 0  # a finished sweep lets the next one run at once
    assert not (await store.reap_expired("default")).skipped



async def test_a_sweep_round_over_many_queues_reads_the_heartbeats_once(
        store: RedisStore, raw: redis.Redis, clock: ManualClock) -> None:
    def hgetall_calls() -> int:
        return int(raw.info("commandstats").get("cmdstat_hgetall", {}).get("calls", 0))

    await store.register_worker(WorkerInfo(id="w1", host="h", pid=1, queues=("a",), concurrency=1))
    before = hgetall_calls()
    for queue in ("a", "b", "c"):  # what a worker's heartbeat does: one sweep per queue
        assert not (await store.reap_expired(queue)).skipped
    assert hgetall_calls() - before == 1
    clock.advance(1)  # the next round reads them afresh
    await store.reap_expired("a")
    assert hgetall_calls() - before == 2

# -- Redis Cluster rules -------------------------------------------------------------------------
@pytest.fixture
def cluster_node(tmp_path: Path) -> Iterator[int]:
    """A one-node Redis Cluster owning every slot: it enforces that no script crosses slots."""
    port = free_port()
    exe = shutil.which("redis-server")
    assert exe is not None
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                             "--cluster-port", str(free_port()),  # not port+10000: may pass 65535
                             "--cluster-config-file", str(tmp_path / "nodes.conf"), "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = redis.Redis(port=port, socket_timeout=5)
        deadline = time.monotonic() + 30  # generous: the machine may be busy
        while True:
            try:
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
                break
            except redis.ConnectionError:
                assert proc.poll() is None, "redis-server --cluster-enabled exited"
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        while client.cluster("info")["cluster_state"] != "ok":  # type: ignore[index]
            assert time.monotonic() < deadline, "the one-node cluster never became ok"
            time.sleep(0.05)
        client.close()
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_no_script_crosses_a_cluster_slot(cluster_node: int, clock: ManualClock,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # Scripts without a "#!lua" line may cross slots on one node (Redis keeps that for old
    # scripts); with it the node refuses. The store sends none (Redis 6 would not parse it).
    source = redis_module.script_source
    monkeypatch.setattr(redis_module, "script_source", lambda name: "#!lua\n" + source(name))
    node = redis.Redis(port=cluster_node)
    with pytest.raises(redis.ResponseError, match="same slot"):  # the node does check
        node.eval("#!lua\nredis.call('SET', KEYS[1], 1) return redis.call('GET', 'elsewhere')", 1, "{a}x")
    node.close()
    settings = Settings(key_prefix="swell", completed_max=2, dead_max=1)
    store = RedisStore.from_url(f"redis://127.0.0.1:{cluster_node}/0", settings=settings, clock=clock)
    try:
        for queue in ("a", "b"):
            jobs = await store.enqueue_many([mk(clock, "t", {"i": i}, queue=queue, tenant="acme",
                                                unique_key=f"u{i}") for i in range(4)]
                                            + [mk(clock, "t", queue=queue, delay=5)])
            claimed = await store.claim(queue, "w", 3)
            await store.extend_leases(queue, {j.id: j.token or "" for j in claimed})
            await store.settle([Outcome(claimed[0], OutcomeKind.COMPLETE, result=1, duration=0.1),
                                Outcome(claimed[1], OutcomeKind.RETRY, error=BOOM, delay=1),
                                Outcome(claimed[2], OutcomeKind.FAIL, error=BOOM)])
            await store.cancel(jobs[3].id)
            clock.advance(6)
            await store.promote_due(queue)
            (again,) = await store.claim(queue, "w", 1)
            await store.cancel(again.id)
            clock.advance(31)
            await store.reap_expired(queue)
            await store.replay(claimed[2].id)
            await store.replay_dead(queue)
            _, held = await store.settle_and_claim([], queue, "w", 2)
            await store.settle_and_claim([Outcome(j, OutcomeKind.COMPLETE) for j in held], queue, "w", 1)
            await store.find(JobFilter(queue=queue))
            await store.purge(queue, statuses=(Status.COMPLETED, Status.FAILED, Status.CANCELLED))
        stats = await store.stats()
        assert set(stats.queues) == {"a", "b"} and stats.queues["a"].enqueued == 5
        await store.claim_occurrence("cron:x:1", 60)
        await store.register_worker(WorkerInfo(id="w", host="h", pid=1, queues=("a",), concurrency=1))
        assert [w.id for w in await store.workers()] == ["w"]
    finally:
        await store.close()


# -- connection error wording ----------------------------------------------------------------
async def test_refused_connection_message_is_exact_and_hides_the_password(clock: ManualClock) -> None:
    port = free_port()  # nothing listens there
    for url in (f"redis://127.0.0.1:{port}/0", f"redis://:hunter2-secret@127.0.0.1:{port}/0"):
        store = RedisStore.from_url(url, clock=clock)
        try:
            for call in (store.ping(), store.claim("default", "w", 1), store.enqueue(mk(clock)),
                         store.stats(), store.reap_expired("default")):
                with pytest.raises(StoreUnavailable) as caught:
                    await call
                assert str(caught.value) == f"cannot reach Redis at 127.0.0.1:{port}: Connection refused"
        finally:
            await store.close()


def test_refused_wording_without_an_errno_keeps_the_whole_host(clock: ManualClock) -> None:
    """redis-py's text "Error <cause> connecting to <host:port>. <detail>." when no OSError with an
    errno is chained: the reason never eats into the host."""
    store = RedisStore.from_url("redis://:pw@127.0.0.1:1/0", clock=clock)
    texts = {
        "Error 111 connecting to 127.0.0.1:1. Connect call failed ('127.0.0.1', 1).":
            "Connection refused",
        "Error Multiple exceptions: [Errno 111] Connect call failed ('127.0.0.1', 1) "
        "connecting to 127.0.0.1:1.": "Connection refused",
        "Error 113 connecting to 127.0.0.1:1. No route to host.": "No route to host",
        "Error connecting to 127.0.0.1:1.": "ConnectionError",
    }
    for text, reason in texts.items():
        error = store._translate(redis.exceptions.ConnectionError(text))
        assert str(error) == f"cannot reach Redis at 127.0.0.1:1: {reason}", text
    assert store.clock is clock


async def test_store_clock_is_public(redis_url: str, clock: ManualClock) -> None:
    from swell.store.memory import MemoryStore

    store = RedisStore.from_url(redis_url, clock=clock)
    try:
        assert store.clock is clock and MemoryStore(clock=clock).clock is clock
    finally:
        await store.close()



async def test_hot_path_call_to_a_silent_server_times_out() -> None:
    """settle_and_claim runs on the store's own connections (swell.store.direct): a server that
    accepts but never answers (a hung Redis, a black-holed proxy) still ends in StoreUnavailable
    within the socket timeout, and a restarted store works again."""
    import asyncio

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 16)
        await asyncio.sleep(30)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    store = RedisStore.from_url(f"redis://127.0.0.1:{port}/0", socket_timeout=0.5)
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match=r"cannot reach Redis at 127\.0\.0\.1"):
            await store.settle_and_claim([], "q", "w", 5)
        assert time.monotonic() - started < 3.0
    finally:
        server.close()
        await store.close()


async def test_hot_path_reconnects_after_redis_drops_its_connections(redis_url: str, key_prefix: str) -> None:
    """An idle hot-path connection closed by Redis (CLIENT KILL, a proxy's idle timeout) is
    replaced on the next call, without an error."""
    store = RedisStore.from_url(redis_url, settings=Settings(key_prefix=key_prefix))
    admin = redis.Redis.from_url(redis_url)
    try:
        job = await store.enqueue(new_job("t", {"i": 1}, now=time.time()))
        _, claimed = await store.settle_and_claim([], "default", "w", 1)
        assert [j.id for j in claimed] == [job.id]
        admin.client_kill_filter(_type="normal", skipme=True)
        results, more = await store.settle_and_claim([Outcome(claimed[0], OutcomeKind.COMPLETE)],
                                                     "default", "w", 1)
        assert results == [True] and more == []
        assert (await store.get(job.id)).status is Status.COMPLETED
    finally:
        admin.close()
        await store.close()


async def test_retention_by_count_trims_in_steps_of_one_percent(
        redis_url: str, key_prefix: str, raw: redis.Redis, clock: ManualClock) -> None:
    """A cap of 1,000 completed jobs: kept up to 1,010, then back to exactly 1,000, oldest out."""
    settings = Settings(key_prefix=key_prefix, completed_max=1000)
    store = RedisStore.from_url(redis_url, settings=settings, clock=clock)

    async def complete(n: int) -> list[Job]:
        jobs = await store.enqueue_many([new_job("t", {"i": i}, now=clock()) for i in range(n)])
        claimed = await store.claim("default", "w", n)
        assert await store.settle([Outcome(j, OutcomeKind.COMPLETE) for j in claimed]) == [True] * n
        return jobs

    try:
        kept = QueueKeys.of(key_prefix, "default").completed
        first = await complete(1010)
        assert raw.zcard(kept) == 1010
        await complete(1)
        assert raw.zcard(kept) == 1000
        with pytest.raises(JobNotFound):
            await store.get(first[10].id)  # the 11 oldest went, with their records
        assert (await store.get(first[11].id)).status is Status.COMPLETED
    finally:
        await store.close()
