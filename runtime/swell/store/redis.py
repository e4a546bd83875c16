"""RedisStore: the production Store on Redis (with swell.store.direct, the only modules that
import redis).

Every multi-key transition is one Lua script (``swell/store/lua/<transition>.lua``) run with
EVALSHA on the keys of one queue (all hash-tagged ``{queue}``, see ``swell.store.keys``), so each
transition is atomic and Cluster-safe. Batches (``claim(n)``, ``settle``, ``enqueue_many``) cost one
round trip, sent as one pipeline when several queues are involved; a worker's settle-and-claim
and a single enqueue run on the store's own connections (``swell.store.direct``). Scripts are cached by SHA; a
NOSCRIPT reply (Redis restarted, SCRIPT FLUSH) reloads them and repeats only the calls that did
not run.

Connecting::

    RedisStore.from_url("redis://127.0.0.1:6379/0")
    RedisStore.from_url("redis://:password@host:6379/0")            # requirepass
    RedisStore.from_url("redis://user:password@host:6379/0")        # ACL user
    RedisStore.from_url("redis://host:6379/0", username="u", password="p")
    RedisStore.from_url("rediss://host:6380/0", ssl_ca_certs="/etc/ssl/redis-ca.pem")  # TLS
    RedisStore.from_url("rediss://host:6380/0", ssl_ca_certs=..., ssl_certfile=..., ssl_keyfile=...)

Keyword arguments go to redis-py (``ssl_cert_reqs``, ``socket_timeout``, ``retry``, ...). An ACL
user needs ``~<prefix>:*`` keys and the commands the scripts run (``+@all`` on those keys is the
simple grant; EVALSHA, SCRIPT LOAD and the hash, sorted-set and string commands at least), and
``&<prefix>:*`` with SUBSCRIBE/PUBLISH for push wake-ups (without it workers poll).

Push wake-ups: ``wait_for_work`` (used by ``swell.worker.Worker``) listens on one pub/sub
connection per store to ``<prefix>:{queue}:wake``, where the scripts publish once per call when
a job becomes ready (``swell.store.keys``). Dead workers: ``reap_expired`` also requeues the
jobs of registered workers whose heartbeat stopped (``swell.store.liveness``).

Errors: every redis-py connection or timeout error becomes ``StoreUnavailable`` ("cannot reach
Redis at host:port: Connection refused"), refused credentials ``StoreAuthError``, TLS failures
and TLS/plain mismatches ``StoreTLSError``; messages never carry the password. redis-py retries a
command once after a dropped connection: a script whose reply was lost may then run twice, which
the transitions tolerate (enqueue is idempotent by id, settle fenced by token, an extra claim is
redelivered after its lease).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import ssl
import threading
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import asdict, replace
from typing import Any, cast

import orjson
from redis import Redis as SyncRedis
from redis import connection as sync_connection
from redis import exceptions as rexc
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline, PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.commands.core import AsyncScript
from redis.connection import ConnectionPool as SyncConnectionPool
from redis.retry import Retry as SyncRetry

from swell.clock import Clock, wall_clock
from swell.errors import (
    CorruptJob,
    InvalidTransition,
    JobNotFound,
    PayloadTooLarge,
    StoreAuthError,
    StoreError,
    StoreTLSError,
    StoreUnavailable,
)
from swell.job import PRIORITY_BAND, TERMINAL, Job, JobError, Status, new_id
from swell.settings import DEFAULT_SETTINGS, Settings
from swell.stats import PRIORITY_NAMES, DurationStats, QueueStats, Stats, TenantStats, WorkerInfo
from swell.store.base import JobFilter, LeaseReport, Outcome, OutcomeKind, ReapReport, Schedule
from swell.store.direct import DirectCalls, pack, pack_head
from swell.store.keys import GlobalKeys, QueueKeys, check_prefix, wake_channel
from swell.store.liveness import HeartbeatWatch
from swell.store.lua_source import script_source
from swell.store.record import (
    CODE_STATUS,
    CORRUPT_TYPE,
    STATUS_CODE,
    corrupt_job,
    decode_claimed,
    decode_record,
    encode_record,
    enqueue_order,
    fmt_time,
)

log = logging.getLogger(__name__)

SCRIPT_NAMES = ("enqueue", "claim", "settle", "settle_claim", "extend", "reap", "cancel", "replay",
                "promote", "purge", "stats", "occurrence")
CLAIM_LIMIT = 1000  # jobs claimed per script call
BEATS_FRESH = 0.25  # seconds a heartbeat snapshot serves the sweeps of further queues
REGISTER_EVERY = 10.0  # seconds between re-sends of a queue's SADD to the queue registry
BATCH_LIMIT = 1000  # jobs enqueued or outcomes settled per script call (more go in the same pipeline)
PROMOTE_LIMIT = 1000  # due jobs promoted per claim call
PROMOTE_EVERY = 0.05  # seconds between the promotions settle_and_claim makes on its own
TRIM_LIMIT = 1000  # retention deletions per script call (keeps every call short)
REAP_LIMIT = 1000
CHUNK = 500  # ids fetched per round trip by the query methods
FIND_SCAN_LIMIT = 10_000  # find() reads at most this many jobs per queue and status (ops query)
_KIND_CODE = {OutcomeKind.COMPLETE: "c", OutcomeKind.RETRY: "y", OutcomeKind.FAIL: "f",
              OutcomeKind.RELEASE: "l"}
_ERRNO = re.compile(r"\[Errno (\d+)\]")
_Call = tuple[AsyncScript, QueueKeys, list[Any]]


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisStore:
    """The Store port on Redis (see ``swell.store.base.Store`` for the contract)."""

    def __init__(self, client: Redis, settings: Settings = DEFAULT_SETTINGS,
                 clock: Clock = wall_clock) -> None:
        if client.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("RedisStore needs a client with decode_responses=False (job records are bytes)")
        self._client = client
        self.settings = settings  # public, like clock: App and Worker take the store's settings
        self._settings = settings
        self.clock = clock  # public: App takes its clock from the store
        self._prefix = check_prefix(settings.key_prefix)
        self._global = GlobalKeys(self._prefix)
        self._scripts = {name: client.register_script(script_source(name)) for name in SCRIPT_NAMES}
        self._retention_ttls = self._ttls()
        self._direct = DirectCalls(client)  # the hot paths' own connections (swell.store.direct)
        self._sync: SyncRedis | None = None  # enqueue_sync's client, made on first use
        self._sync_lock = threading.Lock()
        self._heads: dict[tuple[str, str], bytes] = {}  # (script, key) -> packed "EVALSHA sha 1 key"
        self._keys: dict[str, QueueKeys] = {}
        self._registered: set[str] = set()  # queues known to be in P:queues (stats, find-by-id)
        self._registered_at: dict[str, float] = {}  # queue -> monotonic time of our last SADD
        self._promoted_at: dict[str, float] = {}  # queue -> monotonic time settle_and_claim promoted
        self._watch = HeartbeatWatch(settings.worker_dead_after)  # dead workers (reap_expired)
        # Push wake-ups (wait_for_work): one pub/sub connection shared by every waiter.
        self._pubsub: PubSub | None = None
        self._pubsub_reader: asyncio.Task[None] | None = None
        self._pubsub_lock = asyncio.Lock()
        self._pubsub_retry_at = 0.0  # monotonic: after a failure, no new connection before this
        self._subscribed: set[str] = set()
        self._waiters: dict[str, set[asyncio.Future[bool]]] = {}  # channel -> waiting calls
        self._missed: set[str] = set()  # channels woken while nobody waited on them
        self._swept: dict[tuple[str, str], bytes] = {}  # (queue, dead worker) -> record when swept
        # The heartbeats read by the last sweep (store-clock time, worker id -> record): a worker
        # sweeps its queues one after the other, and they all judge the same snapshot.
        self._beats: tuple[float, dict[str, bytes]] | None = None
        kw = client.connection_pool.connection_kwargs
        self._where = kw.get("path") or f"{kw.get('host', 'localhost')}:{kw.get('port', 6379)}"
        self._tls = "ssl" in str(client.connection_pool.connection_class).lower()

    @classmethod
    def from_url(cls, url: str, *, settings: Settings = DEFAULT_SETTINGS, clock: Clock = wall_clock,
                 **redis_kwargs: Any) -> RedisStore:
        """Connect lazily to ``url`` (redis://, rediss:// or unix://); kwargs go to redis-py."""
        kwargs: dict[str, Any] = {
            "socket_connect_timeout": 5.0,
            "socket_timeout": 30.0,
            "health_check_interval": 30,
            # One quick retry rides out a dropped idle connection; an outage is reported fast.
            "retry": Retry(ExponentialBackoff(cap=0.2, base=0.05), 1),
        }
        kwargs.update(redis_kwargs)
        return cls(Redis.from_url(url, **kwargs), settings=settings, clock=clock)

    # -- plumbing ----------------------------------------------------------------------------
    def _qkeys(self, queue: str) -> QueueKeys:
        keys = self._keys.get(queue)
        if keys is None:
            keys = self._keys[queue] = QueueKeys.of(self._prefix, queue)
        return keys

    @contextlib.asynccontextmanager
    async def _errors(self) -> AsyncIterator[None]:
        """Turn redis-py errors into swell's, without leaking credentials into messages."""
        try:
            yield
        except rexc.RedisError as exc:
            raise await self._translated(exc) from exc

    async def _translated(self, exc: rexc.RedisError) -> StoreError:
        error = self._translate(exc)
        if isinstance(error, StoreUnavailable):
            self._registered_at.clear()  # Redis may come back empty: re-register queues at once
        if self._tls and type(error) is StoreUnavailable and "Timeout connecting" in str(exc):
            error = await self._tls_silence(error)
        return error

    async def _tls_silence(self, error: StoreUnavailable) -> StoreError:
        """A plain port answers a TLS hello with silence: tell that apart from a dead host."""
        kw = self._client.connection_pool.connection_kwargs
        try:
            async with asyncio.timeout(1.0):
                _, writer = await asyncio.open_connection(kw.get("host", "localhost"), kw.get("port", 6379))
            writer.close()
        except (OSError, TimeoutError):
            return error  # the TCP connect itself fails: really unreachable
        return StoreTLSError(f"TLS with Redis at {self._where} failed: no TLS handshake within the connect "
                             "timeout (is it a plain port? then use redis://, not rediss://)")

    def _translate(self, exc: rexc.RedisError) -> StoreError:
        text = str(exc).strip()
        if isinstance(exc, rexc.AuthenticationError | rexc.NoPermissionError | rexc.AuthorizationError):
            return StoreAuthError(f"Redis at {self._where} refused the credentials: {text}")
        chain: BaseException | None = exc
        os_reason = None
        while chain is not None:
            if isinstance(chain, ssl.SSLError):
                return StoreTLSError(f"TLS with Redis at {self._where} failed: {chain}")
            if isinstance(chain, OSError) and chain.errno and os_reason is None:
                os_reason = os.strerror(chain.errno)  # "Connection refused", not asyncio's wording
            chain = chain.__cause__ or chain.__context__
        if isinstance(exc, rexc.ReadOnlyError | rexc.TryAgainError | rexc.ClusterDownError):
            # a failover in progress: transient, like an outage
            return StoreUnavailable(f"Redis at {self._where} cannot take writes now: {text}")
        if isinstance(exc, rexc.ConnectionError | rexc.TimeoutError):
            reason = os_reason or self._reason(text) or type(exc).__name__
            if "SSL" in reason or "TLS" in reason:
                return StoreTLSError(f"TLS with Redis at {self._where} failed: {reason}")
            if not self._tls and ("closed by server" in reason or "reset by peer" in reason):
                reason += " (is it a TLS port? then use rediss://)"
            return StoreUnavailable(f"cannot reach Redis at {self._where}: {reason}")
        return StoreError(f"Redis at {self._where} failed: {text}")

    def _reason(self, text: str) -> str:
        """The cause in a redis-py connection error without an errno in its chain:
        "Error <cause> connecting to <host:port>. [<detail>.]" -> the OS wording when an errno
        shows, else the detail (or the cause), never the host twice."""
        errno = _ERRNO.search(text)
        if errno:
            with contextlib.suppress(ValueError, OverflowError):
                return os.strerror(int(errno.group(1)))
        if "Connect call failed" in text:
            return "Connection refused"  # asyncio's wording of ECONNREFUSED
        head, marker, detail = text.partition(f" connecting to {self._where}.")
        if marker:
            return (detail.strip() or head.removeprefix("Error").strip()).rstrip(".")
        return text.rstrip(".")

    async def _call(self, name: str, keys: QueueKeys, args: Sequence[Any]) -> Any:
        return await self._evalsha(self._scripts[name], keys, args)

    async def _evalsha(self, script: AsyncScript, keys: QueueKeys, args: Sequence[Any]) -> Any:
        """One script call: EVALSHA, and on NOSCRIPT load the script and call again."""
        try:  # (not self._errors(): this is the hot path)
            try:
                return await self._client.evalsha(script.sha, 1, keys.base, *args)
            except rexc.NoScriptError:
                await self._client.script_load(script.script)
                return await self._client.evalsha(script.sha, 1, keys.base, *args)
        except rexc.RedisError as exc:
            raise await self._translated(exc) from exc

    async def _hot_call(self, name: str, keys: QueueKeys, args: Sequence[Any]) -> Any:
        """``_call`` on a connection of the hot path (see swell.store.direct); redis-py's pooled
        path when all of those are busy, or to load the script after NOSCRIPT."""
        script = self._scripts[name]
        packed = self._packed(name, keys, args)  # before taking a connection: nothing to give back
        conn = self._direct.acquire()
        if conn is None:
            return await self._evalsha(script, keys, args)
        try:
            return await self._direct.call(conn, packed)
        except rexc.NoScriptError:
            return await self._evalsha(script, keys, args)  # loads the script, then calls again
        except rexc.RedisError as exc:
            raise await self._translated(exc) from exc
        except TimeoutError as exc:
            raise await self._translated(rexc.TimeoutError("Timeout reading from socket")) from exc

    def _packed(self, name: str, keys: QueueKeys, args: Sequence[Any]) -> bytes:
        """``EVALSHA <sha of name> 1 <keys.base> *args`` in RESP; the head is packed once."""
        head = self._heads.get((name, keys.base))
        if head is None:
            script = self._scripts[name]
            head = self._heads[name, keys.base] = pack_head(["EVALSHA", script.sha, 1, keys.base])
        return pack(args, head, 4)

    async def _call_many(self, calls: Sequence[_Call], before: Sequence[Sequence[Any]] = ()) -> list[Any]:
        """Run many script calls (and plain commands ``before`` them) in one pipeline.

        A NOSCRIPT reply (Redis restarted or SCRIPT FLUSH) means that call did nothing: load the
        script and run just those calls again."""
        if len(calls) == 1 and not before:
            return [await self._evalsha(*calls[0])]
        results: list[Any] = [None] * len(calls)
        todo = list(range(len(calls)))
        async with self._errors():
            for attempt in range(3):
                head = before if attempt == 0 else ()
                replies = await self._pipelined(head, [calls[i] for i in todo])
                for reply in replies[:len(head)]:
                    if isinstance(reply, Exception):
                        raise reply
                replies = replies[len(head):]
                missing = []
                for i, reply in zip(todo, replies, strict=True):
                    if isinstance(reply, rexc.NoScriptError):
                        missing.append(i)
                    elif isinstance(reply, Exception):
                        raise reply
                    else:
                        results[i] = reply
                if not missing:
                    return results
                for script in {calls[i][0] for i in missing}:
                    await self._client.script_load(script.script)
                todo = missing
        raise StoreError(f"Redis at {self._where} keeps forgetting swell's scripts (NOSCRIPT)")

    async def _pipelined(self, commands: Sequence[Sequence[Any]],
                         scripts: Sequence[_Call] = ()) -> list[Any]:
        """Plain commands then script calls in one pipeline; errors come back as replies.

        Shielded from cancellation: redis-py hands a pipeline's connection back to the pool
        when cancelled between sending and reading, and the next command on that connection
        would read the stale replies (a worker cancels its heartbeat at every shutdown)."""
        async def run() -> list[Any]:
            pipe: Pipeline
            async with self._client.pipeline(transaction=False) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                for script, keys, args in scripts:
                    pipe.evalsha(script.sha, 1, keys.base, *args)
                return await pipe.execute(raise_on_error=False)  # type: ignore[no-any-return]

        task = asyncio.ensure_future(run())
        task.add_done_callback(_consume)
        return await asyncio.shield(task)

    def _register(self, queues: Sequence[str]) -> list[list[Any]]:
        """SADD of the queues, sent in the enqueue's pipeline every time (not only the first):
        the registry must come back after a Redis restart that lost it. The registry lives in
        another Cluster slot than the jobs, so it cannot be in the enqueue script; registering
        first is harmless if the script then fails."""
        return [["SADD", self._global.queues, *dict.fromkeys(queues)]]

    def _ttls(self) -> list[str]:
        """Retention as settle.lua takes it (the cutoffs are computed there)."""
        s = self._settings
        return [fmt_time(s.completed_ttl), str(s.completed_max), fmt_time(s.dead_ttl), str(s.dead_max)]

    # -- enqueue -----------------------------------------------------------------------------
    async def enqueue(self, job: Job) -> Job:
        """One job into a registered queue: enqueue_many's work without the batching (grouping
        by queue, chunks, pipeline, reply loop), which is half the Python time of a single call.
        A queue not registered within REGISTER_EVERY goes through enqueue_many (SADD + script)."""
        job = _fresh(job, self.clock())
        queue = job.queue
        if time.monotonic() - self._registered_at.get(queue, -REGISTER_EVERY) >= REGISTER_EVERY:
            return (await self.enqueue_many([job]))[0]
        args = self._enqueue_args([job])
        reply = await self._hot_call("enqueue", self._qkeys(queue), args)
        return self._decode(_s(reply[1]), queue, reply[2]) if reply else job

    def enqueue_sync(self, job: Job) -> Job:
        """``enqueue`` for synchronous code: one blocking round trip on a connection of a
        synchronous redis-py pool made with the same settings (created on first use; AUTH, TLS,
        unix sockets and SELECT as configured). Safe from any thread."""
        job = _fresh(job, self.clock())
        queue = job.queue
        args = self._enqueue_args([job])
        packed = self._packed("enqueue", self._qkeys(queue), args)
        client = self._sync_client()
        tick = time.monotonic()
        try:
            if tick - self._registered_at.get(queue, -REGISTER_EVERY) >= REGISTER_EVERY:
                client.sadd(self._global.queues, queue)
                self._registered.add(queue)
                self._registered_at[queue] = tick
            reply = self._sync_call(client, packed)
        except rexc.NoScriptError:
            client.script_load(self._scripts["enqueue"].script)
            reply = self._sync_call(client, packed)
        except rexc.RedisError as exc:
            raise self._translate(exc) from exc
        return self._decode(_s(reply[1]), queue, reply[2]) if reply else job

    def _sync_call(self, client: SyncRedis, packed: bytes) -> Any:
        """One packed command on a pooled synchronous connection; once more on a fresh
        connection when a pooled one turns out to be dead (as redis-py's own retry)."""
        pool = client.connection_pool
        try:
            conn = pool.get_connection()
        except TypeError:  # redis-py < 5.3 wants the command name
            conn = pool.get_connection("EVALSHA")
        try:
            try:
                conn.send_packed_command([packed])  # type: ignore[no-untyped-call]
                return conn.read_response()
            except (rexc.ConnectionError, rexc.TimeoutError):
                conn.disconnect()  # type: ignore[no-untyped-call]
                conn.send_packed_command([packed])  # type: ignore[no-untyped-call]
                return conn.read_response()
        except rexc.ResponseError:
            raise
        except BaseException:
            conn.disconnect()  # type: ignore[no-untyped-call]  # a reply may still be on its way
            raise
        finally:
            pool.release(conn)

    def _sync_client(self) -> SyncRedis:
        client = self._sync
        if client is None:
            with self._sync_lock:
                if self._sync is None:
                    pool = self._client.connection_pool
                    kwargs = dict(pool.connection_kwargs)
                    kwargs["retry"] = SyncRetry(ExponentialBackoff(cap=0.2, base=0.05), 1)
                    cls = getattr(sync_connection, pool.connection_class.__name__, sync_connection.Connection)
                    self._sync = SyncRedis(connection_pool=SyncConnectionPool(connection_class=cls, **kwargs))
                client = self._sync
        return client

    async def enqueue_many(self, jobs: Sequence[Job]) -> list[Job]:
        if not jobs:
            return []
        now = self.clock()
        jobs = [_fresh(job, now) for job in jobs]
        by_queue = _chunks_by_queue([job.queue for job in jobs])
        calls: list[_Call] = [
            (self._scripts["enqueue"], self._qkeys(queue), self._enqueue_args([jobs[i] for i in idxs]))
            for queue, idxs in by_queue]
        queues = [queue for queue, _ in by_queue]
        # Re-register a queue at most every REGISTER_EVERY seconds, so a single enqueue is one
        # EVALSHA (no pipeline) on the hot path, while a registry lost by a Redis restart comes
        # back within seconds of the next enqueue.
        tick = time.monotonic()
        stale = [q for q in queues if tick - self._registered_at.get(q, -REGISTER_EVERY) >= REGISTER_EVERY]
        if len(calls) == 1 and not stale:
            replies = [await self._hot_call("enqueue", calls[0][1], calls[0][2])]
        else:
            replies = await self._call_many(calls, self._register(stale) if stale else ())
        self._registered.update(queues)
        if stale:
            self._registered_at.update(dict.fromkeys(stale, tick))
        out: list[Job] = list(jobs)
        for (queue, idxs), reply in zip(by_queue, replies, strict=True):
            for k in range(0, len(reply), 3):  # only the jobs not stored: (place, id, record)
                out[idxs[int(reply[k]) - 1]] = self._decode(_s(reply[k + 1]), queue, reply[k + 2])
        return out

    def _enqueue_args(self, jobs: Sequence[Job]) -> list[Any]:
        """ARGV of enqueue.lua for jobs of one queue: their priority digits, the JSON of their
        [run_at, unique_key, tenant] only when one of them has any ('' otherwise, so the common
        batch carries no JSON for Lua to decode), then the ids and the records."""
        limit = self._settings.payload_limit
        records = [encode_record(job) for job in jobs]
        for job, record in zip(jobs, records, strict=True):
            if len(record) > limit:
                raise PayloadTooLarge(f"job {job.type!r} is {len(record)} bytes encoded, over the "
                                      f"{limit}-byte payload limit")
        opts = b""
        if any(job.run_at is not None or job.unique_key or job.tenant for job in jobs):
            opts = orjson.dumps([[fmt_time(job.run_at) if job.run_at is not None else "",
                                  job.unique_key or "", job.tenant or ""] for job in jobs])
        prios = bytes([48 + job.priority for job in jobs])  # "2" = normal: one digit per job
        return [prios, opts, *[job.id for job in jobs], *records]

    # -- delivery ----------------------------------------------------------------------------
    async def claim(self, queue: str, worker_id: str, n: int) -> list[Job]:
        if n <= 0:
            return []
        if n > CLAIM_LIMIT:  # keeps each script call short
            return [job for k in range(0, n, CLAIM_LIMIT)
                    for job in await self.claim(queue, worker_id, min(CLAIM_LIMIT, n - k))]
        now = self.clock()
        base = secrets.token_urlsafe(12) + "."
        reply = await self._call("claim", self._qkeys(queue), [
            fmt_time(now), n, fmt_time(now + self._settings.lease), worker_id, base, PROMOTE_LIMIT])
        return await self._claimed(queue, base, reply, worker_id, now)

    async def settle_and_claim(self, outcomes: Sequence[Outcome], queue: str, worker_id: str,
                               n: int) -> tuple[list[bool], list[Job]]:
        """One script call (settle_claim.lua) when every outcome is of ``queue``; else the two.

        Unlike ``claim``, it promotes due scheduled jobs at most every PROMOTE_EVERY seconds per
        queue: a worker streaming a backlog calls it hundreds of times a second, and its
        scheduler promotes on its own timer too."""
        if (n <= 0 or n > CLAIM_LIMIT or len(outcomes) > BATCH_LIMIT
                or any(o.job.queue != queue for o in outcomes)):
            return await self.settle(outcomes), await self.claim(queue, worker_id, n)
        now = self.clock()
        base = new_id() + "."  # unique per call (84 random bits): the tokens are base + k
        batch = orjson.dumps([_outcome_args(o, now, False) for o in outcomes])
        tick = time.monotonic()
        promote = tick - self._promoted_at.get(queue, -PROMOTE_EVERY) >= PROMOTE_EVERY
        if promote:
            self._promoted_at[queue] = tick
        settled, reply = await self._hot_call("settle_claim", self._qkeys(queue), [
            fmt_time(now), *self._retention_ttls, TRIM_LIMIT, batch,
            n, fmt_time(now + self._settings.lease), worker_id, base, PROMOTE_LIMIT if promote else 0])
        return [bool(ok) for ok in settled], await self._claimed(queue, base, reply, worker_id, now)

    async def _claimed(self, queue: str, base: str, reply: list[Any], worker_id: str, now: float
                       ) -> list[Job]:
        """The jobs of a claim reply; records Python cannot decode are dead-lettered."""
        jobs: list[Job] = []
        corrupt: list[Outcome] = []
        lease_until = now + self._settings.lease
        for k in range(0, len(reply), 2):
            job_id = reply[k].decode()
            token = f"{base}{k // 2 + 1}"  # what the claim gave the k-th job
            try:
                jobs.append(decode_claimed(job_id, queue, reply[k + 1], token=token, worker_id=worker_id,
                                           started_at=now, lease_until=lease_until))
            except CorruptJob as exc:
                # Lua could read the state but not the rest: dead-letter it and go on.
                log.warning("dead-lettering corrupt job %s in queue %s: %s", job_id, queue, exc)
                bad = corrupt_job(job_id, queue, reply[k + 1], f"corrupt: {exc}")
                corrupt.append(Outcome(job=_with_token(bad, token), kind=OutcomeKind.FAIL,
                                       reason=f"corrupt: {exc}"))
        if corrupt:
            await self._settle(corrupt, bury=True)
        return jobs

    async def complete(self, job: Job, result: Any = None, duration: float | None = None) -> bool:
        return (await self.settle([Outcome(job, OutcomeKind.COMPLETE, result=result, duration=duration)]))[0]

    async def retry(self, job: Job, error: JobError, delay: float, duration: float | None = None) -> bool:
        outcome = Outcome(job, OutcomeKind.RETRY, error=error, delay=delay, duration=duration)
        return (await self.settle([outcome]))[0]

    async def fail(self, job: Job, error: JobError, reason: str | None = None,
                   duration: float | None = None) -> bool:
        outcome = Outcome(job, OutcomeKind.FAIL, error=error, reason=reason, duration=duration)
        return (await self.settle([outcome]))[0]

    async def release(self, job: Job) -> bool:
        return (await self.settle([Outcome(job, OutcomeKind.RELEASE)]))[0]

    async def settle(self, outcomes: Sequence[Outcome]) -> list[bool]:
        return await self._settle(outcomes)

    async def _settle(self, outcomes: Sequence[Outcome], bury: bool = False) -> list[bool]:
        if not outcomes:
            return []
        now = self.clock()
        head = [fmt_time(now), *self._retention_ttls, TRIM_LIMIT]
        by_queue = _chunks_by_queue([o.job.queue for o in outcomes])
        calls: list[_Call] = []
        for queue, idxs in by_queue:
            batch = orjson.dumps([_outcome_args(outcomes[i], now, bury) for i in idxs])
            calls.append((self._scripts["settle"], self._qkeys(queue), [*head, batch]))
        replies = await self._call_many(calls)
        out = [False] * len(outcomes)
        for (_, idxs), reply in zip(by_queue, replies, strict=True):
            for i, ok in zip(idxs, reply, strict=True):
                out[i] = bool(ok)
        return out

    async def extend_leases(self, queue: str, tokens: Mapping[str, str]) -> LeaseReport:
        if not tokens:
            return LeaseReport()
        now = self.clock()
        args: list[Any] = [fmt_time(now), fmt_time(now + self._settings.lease)]
        for job_id, token in tokens.items():
            args += [job_id, token or ""]
        extended, lost, cancel = await self._call("extend", self._qkeys(queue), args)
        return LeaseReport(extended=frozenset(map(_s, extended)), lost=frozenset(map(_s, lost)),
                           cancel_requested=frozenset(map(_s, cancel)))

    async def promote_due(self, queue: str, limit: int = 1000) -> int:
        return int(await self._call("promote", self._qkeys(queue), [fmt_time(self.clock()), limit]))

    async def next_due_at(self, queue: str) -> float | None:
        async with self._errors():
            head = await self._client.zrange(self._qkeys(queue).scheduled, 0, 0, withscores=True)
        return float(head[0][1]) if head else None

    async def reap_expired(self, queue: str) -> ReapReport:
        keys = self._qkeys(queue)
        token = secrets.token_hex(8)
        lock_ms = max(1000, int(self._settings.reap_interval * 1000))
        watching = self._watch.dead_after > 0
        tick = self.clock()  # the store's clock: a test that moves it gets a fresh read
        snapshot = self._beats if self._beats is not None and 0 <= tick - self._beats[0] < BEATS_FRESH \
            else None
        async with self._errors():
            try:
                # The lock (queue slot) and the heartbeats (global key): two single-key commands;
                # the heartbeats only once per sweep round over the queues.
                commands: list[Sequence[Any]] = [["SET", keys.reap_lock, token, "NX", "PX", lock_ms]]
                if watching and snapshot is None:
                    commands.append(["HGETALL", self._global.workers])
                locked, *beats = replies = await self._pipelined(commands)
                for reply in replies:
                    if isinstance(reply, Exception):
                        raise reply
            except rexc.RedisError:
                self._watch.forget()  # we could not look: start watching afresh
                self._beats = None
                raise
        gone: list[str] = []
        if watching:
            if snapshot is None:
                raw = beats[0]
                if isinstance(raw, list):  # RESP2 without the HGETALL callback: flat list
                    raw = dict(zip(raw[::2], raw[1::2], strict=True))
                snapshot = self._beats = (tick, {_s(k): bytes(v) for k, v in raw.items()})
            current = snapshot[1]
            dead = self._watch.dead(current, self.clock())
            # Sweep each dead worker's jobs once per queue (until its record changes again).
            self._swept = {key: beat for key, beat in self._swept.items() if key[1] in dead}
            gone = sorted(w for w in dead if self._swept.get((queue, w)) != current[w])
        if not locked:
            return ReapReport(skipped=True)
        requeued: list[str] = []
        dead_lettered: list[str] = []
        s = self._settings
        while True:
            now = self.clock()
            args = [fmt_time(now), token, REAP_LIMIT, s.max_redeliveries, fmt_time(now - s.dead_ttl),
                    s.dead_max, fmt_time(now - s.completed_ttl), s.completed_max,
                    orjson.dumps(gone) if gone else ""]
            back, died, more, still_locked = await self._call("reap", keys, args)
            requeued += map(_s, back)
            dead_lettered += map(_s, died)
            if not more or not still_locked:
                break
        if still_locked and not more:
            for w in gone:
                self._swept[(queue, w)] = current[w]
        if requeued or dead_lettered:
            log.info("queue %s: %d jobs of expired leases or dead workers requeued, %d dead-lettered "
                     "as poison", queue, len(requeued), len(dead_lettered))
        return ReapReport(requeued=tuple(requeued), dead=tuple(dead_lettered))

    # -- control -----------------------------------------------------------------------------
    async def cancel(self, job_id: str) -> Job:
        queue, _ = await self._locate(job_id)
        now = self.clock()
        s = self._settings
        code, record = await self._call("cancel", self._qkeys(queue), [
            fmt_time(now), job_id, fmt_time(now - s.completed_ttl), s.completed_max])
        code = _s(code)
        if code == "missing":
            raise JobNotFound(f"no job with id {job_id!r}")
        if code == "corrupt":
            raise CorruptJob(f"job {job_id} in queue {queue} is corrupt and cannot be cancelled")
        if code == "terminal":
            job = self._decode(job_id, queue, record)
            raise InvalidTransition(f"job {job_id} is already {job.status.value}: only pending, scheduled, "
                                    "retrying or running jobs can be cancelled")
        return self._decode(job_id, queue, record)

    async def replay(self, job_id: str) -> Job:
        queue, _ = await self._locate(job_id)
        now = fmt_time(self.clock())
        code, record = await self._call("replay", self._qkeys(queue), [now, "one", job_id])
        code = _s(code)
        if code == "missing":
            raise JobNotFound(f"no job {job_id}")
        if code == "corrupt":
            raise CorruptJob(f"job {job_id} in queue {queue} is corrupt and cannot be replayed")
        if code != "replayed":
            raise InvalidTransition(f"job {job_id} is {CODE_STATUS[code].value}: only dead (failed) jobs "
                                    "can be replayed")
        return self._decode(job_id, queue, record)

    async def replay_dead(self, queue: str, limit: int = 1000) -> int:
        if limit <= 0:
            return 0
        now = fmt_time(self.clock())
        return int(await self._call("replay", self._qkeys(queue), [now, "oldest", limit]))

    async def purge(self, queue: str | None = None, statuses: Sequence[Status] = (Status.COMPLETED,),
                    older_than: float = 0.0) -> int:
        wanted = set(statuses)
        if wanted - TERMINAL:
            names = ", ".join(sorted(s.value for s in wanted - TERMINAL))
            raise InvalidTransition(f"purge deletes only terminal jobs, not {names}")
        codes = [STATUS_CODE[s] for s in dict.fromkeys(statuses)]
        if not codes:
            return 0
        cutoff = fmt_time(self.clock() - older_than)
        total = 0
        for q in [queue] if queue else await self.queues():
            while True:
                n = int(await self._call("purge", self._qkeys(q), [cutoff, TRIM_LIMIT, *codes]))
                total += n
                if n < TRIM_LIMIT:
                    break
        return total

    # -- queries -----------------------------------------------------------------------------
    def _decode(self, job_id: str, queue: str, record: bytes, reason: bytes | str | None = None) -> Job:
        try:
            return decode_record(job_id, queue, record)
        except CorruptJob as exc:
            return corrupt_job(job_id, queue, record, _s(reason) if reason else f"corrupt: {exc}")

    async def _locate(self, job_id: str) -> tuple[str, bytes]:
        """Find which queue holds a job: two HGETs per known queue (its :j and the job's fresh
        bucket), in one pipeline."""
        async with self._errors():
            for refresh in (False, True):
                if refresh or not self._registered:
                    self._registered.update(await self.queues())
                queues = sorted(self._registered)
                async with self._client.pipeline(transaction=False) as pipe:
                    for q in queues:
                        keys = self._qkeys(q)
                        pipe.hget(keys.jobs, job_id)
                        pipe.hget(keys.fresh(job_id), job_id)
                    records = await pipe.execute()
                for k, q in enumerate(queues):
                    record = records[2 * k] or records[2 * k + 1]
                    if record is not None:
                        return q, record
        raise JobNotFound(f"no job with id {job_id!r} (never enqueued, or purged by retention)")

    async def get(self, job_id: str) -> Job:
        queue, record = await self._locate(job_id)
        try:
            return decode_record(job_id, queue, record)
        except CorruptJob:
            async with self._errors():
                reason = await self._client.hget(self._qkeys(queue).corrupt, job_id)
            return self._decode(job_id, queue, record, reason)

    async def _load(self, queue: str, ids: Sequence[Any]) -> list[Job]:
        """Records of ``ids`` (skipping ones deleted meanwhile), corrupt ones shown as such."""
        return [job for job, _ in await self._load_raw(queue, ids)]

    async def _load_raw(self, queue: str, ids: Sequence[Any]) -> list[tuple[Job, bytes]]:
        if not ids:
            return []
        keys = self._qkeys(queue)
        async with self._errors(), self._client.pipeline(transaction=False) as pipe:
            pipe.hmget(keys.jobs, list(ids))
            pipe.hmget(keys.corrupt, list(ids))
            for i in ids:
                pipe.hget(keys.fresh(_s(i)), i)
            records, reasons, *fresh = await pipe.execute()
        out = []
        for i, rec, why, new in zip(ids, records, reasons, fresh, strict=True):
            raw = rec if rec is not None else new
            if raw is not None:  # None: deleted meanwhile
                out.append((self._decode(_s(i), queue, raw, why), raw))
        return out

    async def find(self, where: JobFilter) -> list[Job]:
        """Newest enqueued first within each status; reads at most FIND_SCAN_LIMIT jobs per queue
        and status (the most recent of that status' index), so it stays an ops query."""
        queues = [where.queue] if where.queue else await self.queues()
        statuses = [where.status] if where.status else list(Status)
        out: list[Job] = []
        for status in statuses:
            found: list[tuple[float, int, Job]] = []
            for queue in queues:
                keys = self._qkeys(queue)
                zkey = {Status.PENDING: keys.pending, Status.SCHEDULED: keys.scheduled,
                        Status.RETRYING: keys.scheduled, Status.RUNNING: keys.running,
                        Status.COMPLETED: keys.completed, Status.FAILED: keys.dead,
                        Status.CANCELLED: keys.cancelled}[status]
                start = 0
                while True:
                    async with self._errors():
                        page = cast(list[tuple[bytes, float]], await self._client.zrevrange(
                            zkey, start, start + CHUNK - 1, withscores=True))
                    ids = [job_id for job_id, _ in page]
                    # A never-claimed pending job's enqueue order is the sequence in its score.
                    place = {_s(job_id): int(score) % PRIORITY_BAND for job_id, score in page}
                    for job, raw in await self._load_raw(queue, ids):
                        if (job.status is status or job.type == CORRUPT_TYPE) and _matches(job, where):
                            order = enqueue_order(raw)
                            if order is None:
                                order = place[job.id] if status is Status.PENDING else 0
                            found.append((job.created_at, order, job))
                    start += CHUNK
                    if len(ids) < CHUNK or start >= FIND_SCAN_LIMIT:
                        break
            found.sort(key=lambda t: (t[0], t[1]), reverse=True)  # newest enqueued first
            out += [job for _, _, job in found]
            if len(out) >= max(0, where.offset) + where.limit:
                break
        offset = max(0, where.offset)
        return out[offset:offset + max(0, where.limit)]

    async def dead(self, queue: str | None = None, offset: int = 0, limit: int = 100) -> list[Job]:
        offset = max(0, offset)
        if limit <= 0:
            return []
        if queue is not None:
            async with self._errors():
                ids = await self._client.zrevrange(self._qkeys(queue).dead, offset, offset + limit - 1)
            return await self._load(queue, ids)
        # Dead sets are ordered per queue: merge the heads of every queue by death time.
        ranked: list[tuple[float, int, Job]] = []
        for q in await self.queues():
            async with self._errors():
                ids = await self._client.zrevrange(self._qkeys(q).dead, 0, offset + limit - 1)
            for rank, job in enumerate(await self._load(q, ids)):
                ranked.append((job.finished_at or 0.0, -rank, job))
        ranked.sort(key=lambda t: (t[0], t[1]), reverse=True)
        return [job for _, _, job in ranked[offset:offset + limit]]

    async def queues(self) -> list[str]:
        async with self._errors():
            members = await self._client.smembers(self._global.queues)
        return sorted(_s(m) for m in members)

    async def stats(self) -> Stats:
        now = self.clock()
        known = sorted(self._registered)
        calls: list[_Call] = [(self._scripts["stats"], self._qkeys(q), [fmt_time(now)]) for q in known]
        before = [["SMEMBERS", self._global.queues], ["HGETALL", self._global.workers]]
        replies, members, workers = await self._stats_round_trip(calls, before)
        queues = sorted(_s(m) for m in members)
        new = [q for q in queues if q not in self._registered]
        self._registered.update(queues)
        if new:  # a queue created by another process: one more round trip, once
            more = [(self._scripts["stats"], self._qkeys(q), [fmt_time(now)]) for q in new]
            replies += await self._call_many(more)
            known += new
        result = Stats(at=now, workers=self._live_workers(workers, now))
        tenants: dict[str, TenantStats] = {}
        for queue, reply in sorted(zip(known, replies, strict=True)):
            result.queues[queue] = _queue_stats(queue, reply, now, tenants)
        result.tenants.update((name, t) for name, t in sorted(tenants.items()) if t != TenantStats())
        return result

    async def _stats_round_trip(self, calls: list[_Call], before: list[list[Any]]
                                ) -> tuple[list[Any], Any, Any]:
        async with self._errors():
            replies = await self._pipelined(before, calls)
        members, workers = replies[0], replies[1]
        for reply in replies[:2]:
            if isinstance(reply, Exception):
                raise self._translate(reply) if isinstance(reply, rexc.RedisError) else reply
        rest = replies[2:]
        if any(isinstance(r, Exception) for r in rest):
            rest = await self._call_many(calls)  # NOSCRIPT after a restart: reload, read again
        return list(rest), members, workers

    # -- workers and schedules ---------------------------------------------------------------
    async def register_worker(self, info: WorkerInfo) -> None:
        now = self.clock()
        info = replace(info, last_heartbeat=now)
        value = fmt_time(now + self._settings.worker_ttl).encode() + b"|" + orjson.dumps(info.to_dict())
        async with self._errors():
            await self._client.hset(self._global.workers, info.id, value)

    async def unregister_worker(self, worker_id: str) -> None:
        async with self._errors():
            await self._client.hdel(self._global.workers, worker_id)

    async def workers(self) -> list[WorkerInfo]:
        async with self._errors():
            raw = await self._client.hgetall(self._global.workers)
        now = self.clock()
        live = self._live_workers(raw, now)
        gone = [k for k in raw if _s(k) not in {w.id for w in live}]
        if gone:  # lazy cleanup of workers that stopped heartbeating
            async with self._errors():
                await self._client.hdel(self._global.workers, *gone)
        return live

    def _live_workers(self, raw: Any, now: float) -> list[WorkerInfo]:
        if isinstance(raw, list):  # RESP2 HGETALL through execute_command: flat list
            raw = dict(zip(raw[::2], raw[1::2], strict=True))
        live = []
        for value in raw.values():
            expires, _, body = bytes(value).partition(b"|")
            try:
                if float(expires) > now:
                    live.append(WorkerInfo.from_dict(orjson.loads(body)))
            except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
                log.warning("ignoring unreadable worker record %r", value[:100])
        return sorted(live, key=lambda w: w.id)

    async def claim_occurrence(self, key: str, ttl: float) -> bool:
        now = self.clock()
        async with self._errors():
            return bool(await self._scripts["occurrence"](
                keys=[self._global.occurrence(key)],
                args=[fmt_time(now), fmt_time(now + ttl), max(1, int(ttl * 1000))]))

    async def save_schedule(self, schedule: Schedule) -> None:
        async with self._errors():
            await self._client.hset(self._global.schedules, schedule.name, orjson.dumps(asdict(schedule)))

    async def schedules(self) -> list[Schedule]:
        async with self._errors():
            raw = await self._client.hgetall(self._global.schedules)
        out = []
        for name, value in raw.items():
            try:
                out.append(Schedule(**orjson.loads(value)))
            except (TypeError, orjson.JSONDecodeError):
                log.warning("ignoring unreadable schedule %r", _s(name))
        return sorted(out, key=lambda s: s.name)

    async def delete_schedule(self, name: str) -> bool:
        async with self._errors():
            return bool(await self._client.hdel(self._global.schedules, name))

    # -- push wake-ups -----------------------------------------------------------------------
    async def wait_for_work(self, queues: Sequence[str], timeout: float) -> bool:
        """True as soon as a job may have become ready in one of ``queues``, False after
        ``timeout`` seconds (the optional store method ``swell.worker.Worker`` uses).

        The scripts that make a job ready publish on the queue's wake channel
        (``swell.store.keys.wake_channel``); the store keeps one pub/sub connection subscribed to
        the channels waited on. Never raises: when pub/sub is unavailable (outage, ACL without
        channel rights) the call just lasts ``timeout``, and workers keep polling."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        channels = [wake_channel(self._prefix, q) for q in queues]
        if self._missed.intersection(channels):
            self._missed.difference_update(channels)
            return True
        waiter: asyncio.Future[bool] = loop.create_future()
        for channel in channels:
            self._waiters.setdefault(channel, set()).add(waiter)
        try:
            try:
                listening = await self._listen(channels)
            except Exception as exc:  # redis-py errors, OSError, refused channel rights...
                self._pubsub_failed(exc)
                listening = False
            if not listening:
                await asyncio.sleep(max(0.0, deadline - loop.time()))
                return False
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, deadline - loop.time())):
                    return await waiter
            return False
        finally:
            for channel in channels:
                waiting = self._waiters.get(channel)
                if waiting is not None:
                    waiting.discard(waiter)
                    if not waiting:
                        del self._waiters[channel]

    async def _listen(self, channels: Sequence[str]) -> bool:
        """Subscribe to ``channels`` (once) and keep a reader task running; False while a
        failed connection waits before trying again."""
        async with self._pubsub_lock:
            if self._pubsub is None:
                if time.monotonic() < self._pubsub_retry_at:
                    return False
                self._pubsub = self._client.pubsub()
                self._subscribed = set()
            pubsub = self._pubsub
            new = [c for c in dict.fromkeys(channels) if c not in self._subscribed]
            if new:
                await pubsub.subscribe(*new)
                self._subscribed.update(new)
            if self._pubsub_reader is None or self._pubsub_reader.done():
                self._pubsub_reader = asyncio.create_task(self._read_wakes(pubsub), name="swell-wake")
            return True

    async def _read_wakes(self, pubsub: PubSub) -> None:
        try:
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                if message is None or message.get("type") != "message":
                    continue
                channel = _s(message["channel"])
                waiting = self._waiters.get(channel)
                if not waiting:
                    self._missed.add(channel)
                    continue
                for waiter in waiting:
                    if not waiter.done():
                        waiter.set_result(True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._pubsub_failed(exc)

    def _pubsub_failed(self, exc: BaseException) -> None:
        """Drop the pub/sub connection; a later wait_for_work opens a new one (not within 1 s)."""
        if self._pubsub is not None:
            log.info("wake-up channel of Redis at %s lost (%s); workers poll until it is back",
                     self._where, type(exc).__name__)
            pubsub, self._pubsub = self._pubsub, None
            self._subscribed = set()
            task = asyncio.ensure_future(pubsub.aclose())  # type: ignore[no-untyped-call]
            task.add_done_callback(_consume)
        self._pubsub_retry_at = time.monotonic() + 1.0
        reader = self._pubsub_reader
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
        self._pubsub_reader = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def ping(self) -> None:
        async with self._errors():
            await self._client.ping()

    async def close(self) -> None:
        reader, self._pubsub_reader = self._pubsub_reader, None
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        if self._pubsub is not None:
            pubsub, self._pubsub = self._pubsub, None
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
        await self._direct.close()
        if self._sync is not None:
            self._sync.close()
        await self._client.aclose()


def _consume(task: asyncio.Future[Any]) -> None:
    """Retrieve the outcome of a shielded call nobody awaits any more (no "never retrieved")."""
    if not task.cancelled():
        task.exception()


def _chunks_by_queue(queues: Sequence[str]) -> list[tuple[str, list[int]]]:
    """Indexes grouped by queue, in chunks of at most BATCH_LIMIT: one script call each (all sent
    in one pipeline), so no call blocks Redis for long or overflows Lua's unpack()."""
    first = queues[0] if queues else ""
    if all(queue == first for queue in queues):  # the common case: one queue, no grouping
        return [(first, list(range(k, min(k + BATCH_LIMIT, len(queues)))))
                for k in range(0, len(queues), BATCH_LIMIT)]
    by_queue: dict[str, list[int]] = {}
    for i, queue in enumerate(queues):
        by_queue.setdefault(queue, []).append(i)
    return [(queue, idxs[k:k + BATCH_LIMIT]) for queue, idxs in by_queue.items()
            for k in range(0, len(idxs), BATCH_LIMIT)]


def _with_token(job: Job, token: str) -> Job:
    return replace(job, token=token)


def _fresh(job: Job, now: float) -> Job:
    """A job as enqueue stores it: scheduled only if run_at is still ahead (store's clock)."""
    delayed = job.run_at is not None and job.run_at > now
    if (job.status is (Status.SCHEDULED if delayed else Status.PENDING) and not job.attempts
            and job.token is None and job.worker_id is None and job.lease_until is None
            and job.started_at is None and job.finished_at is None and not job.cancel_requested
            and job.dead_reason is None and (delayed or job.run_at is None)):
        return job  # already fresh (what new_job builds): skip the copy on the hot path
    return replace(job, status=Status.SCHEDULED if delayed else Status.PENDING,
                   run_at=job.run_at if delayed else None, attempts=0, token=None, worker_id=None,
                   lease_until=None, started_at=None, finished_at=None, cancel_requested=False,
                   dead_reason=None)


def _outcome_args(o: Outcome, now: float, bury: bool) -> list[Any]:
    """The 7 ARGV of one outcome for settle.lua."""
    job = o.job
    kind = "b" if bury else _KIND_CODE[o.kind]
    payload = extra = ""
    if o.kind is OutcomeKind.COMPLETE:
        payload = "" if o.result is None else orjson.dumps(o.result).decode()
    elif o.kind is OutcomeKind.RETRY:
        error = o.error or JobError("Retry", "retry requested")
        payload = orjson.dumps(error.to_dict()).decode()
        extra = fmt_time(now + max(0.0, o.delay))
    elif o.kind is OutcomeKind.FAIL:
        error = o.error or JobError("Failed", o.reason or "failed")
        payload = orjson.dumps(error.to_dict()).decode()
        extra = o.reason or f"{error.type}: {error.message}"
    duration: float | str = "" if o.duration is None else o.duration  # JSON number: no exact repr needed
    return [kind, job.id, job.token or "", payload, extra, duration, job.type]


def _matches(job: Job, where: JobFilter) -> bool:
    return (where.type is None or job.type == where.type) and (
        where.tenant is None or job.tenant == where.tenant)


def _queue_stats(queue: str, reply: list[Any], now: float, tenants: dict[str, TenantStats]) -> QueueStats:
    pending = dict(zip(PRIORITY_NAMES, (int(x) for x in reply[:4]), strict=True))
    scheduled, due, running, dead = (int(x) for x in reply[4:8])
    oldest = float(reply[8]) if reply[8] else None
    flat = reply[10]
    h = {_s(flat[i]): _s(flat[i + 1]) for i in range(0, len(flat), 2)}
    durations: dict[str, DurationStats] = {}
    for field, count in h.items():
        if field.startswith("dn:"):
            jtype = field[3:]
            n = int(count)
            durations[jtype] = DurationStats(
                count=n, min=float(h.get(f"dl:{jtype}", 0)), max=float(h.get(f"dh:{jtype}", 0)),
                avg=float(h.get(f"ds:{jtype}", 0)) / n if n else 0.0)
    for field, value in h.items():
        kind, _, tenant = field.partition(":")
        if kind in ("tp", "tr", "tc", "tf") and tenant:
            t = tenants.get(tenant, TenantStats())
            n = int(value)
            tenants[tenant] = TenantStats(
                pending=t.pending + (n if kind == "tp" else 0),
                running=t.running + (n if kind == "tr" else 0),
                completed=t.completed + (n if kind == "tc" else 0),
                failed=t.failed + (n if kind == "tf" else 0))

    def counter(name: str) -> int:
        return int(h.get(name, 0))

    return QueueStats(
        name=queue, pending=pending, scheduled=scheduled, scheduled_due=due, running=running, dead=dead,
        completed=counter("completed"), failed=counter("failed"), retried=counter("retried"),
        enqueued=counter("enqueued"), cancelled=counter("cancelled"), redelivered=counter("redelivered"),
        oldest_pending_age=max(0.0, now - oldest) if oldest is not None else 0.0,
        throughput_last_minute=int(reply[9]), durations=durations)


__all__ = ["RedisStore"]
