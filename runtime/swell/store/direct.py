"""Direct script calls for the hot paths (a worker's settle-and-claim, a single enqueue).

redis-py spends more Python time per command than one of swell's scripts spends in Redis: the
retry wrapper, a pool checkout and release, a health check, an ``asyncio.wait_for`` task around
every socket write, argument encoding and response callbacks. A ``DirectCalls`` keeps a few
connections of its own, made by the client's pool (so AUTH, ACL users, TLS, unix sockets and
SELECT work as configured), and sends a pre-packed EVALSHA on one of them and reads the reply:
nothing else.

* At most ``limit`` calls run this way at once; more (an application enqueuing from hundreds of
  tasks) return ``None`` from ``acquire`` and take redis-py's path with its pool.
* Timeouts: the whole call (connecting included) is bounded by the client's ``socket_timeout``
  (30 s from ``RedisStore.from_url``), checked about once a second: a call past it has its
  connection closed and raises TimeoutError. A call cancelled half-way drops its connection
  too (its reply would be read by the next call).
* A connection that failed is dropped; a call on a connection that had been idle and fails
  before any reply is repeated once on a fresh one (what redis-py's one retry does), so a
  connection closed by Redis' ``timeout`` or a proxy is not reported as an outage.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

from redis import exceptions as rexc
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection

_Arg = bytes | str | int | float


def pack(args: Sequence[_Arg], head: bytes = b"", head_n: int = 0) -> bytes:
    """One command in RESP: an array of bulk strings; ``head`` = the first ``head_n`` arguments
    already packed (by ``pack_head``: e.g. a script's EVALSHA, SHA and key, the same each call)."""
    out = [b"*%d\r\n" % (len(args) + head_n), head]
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            data = arg.encode()
        else:
            data = repr(arg).encode() if isinstance(arg, float) else b"%d" % arg
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def pack_head(args: Sequence[_Arg]) -> bytes:
    """The bulk strings of ``args`` without the array header, for ``pack(..., head=)``."""
    return pack(args).split(b"\r\n", 1)[1]


class DirectCalls:
    """A few dedicated connections for EVALSHA calls without redis-py's per-command work."""

    def __init__(self, client: Redis, limit: int = 4) -> None:
        pool = client.connection_pool
        kwargs = dict(pool.connection_kwargs)
        self.timeout: float | None = kwargs.get("socket_timeout")
        # No per-write wait_for, no PING health checks: the call's own timeout covers both.
        kwargs.update(socket_timeout=None, health_check_interval=0)
        self._make: Callable[[], AbstractConnection] = functools.partial(pool.connection_class, **kwargs)
        self._idle: list[AbstractConnection] = []
        self._busy = 0
        self.limit = limit
        # Timeouts: a deadline per call in flight, checked by one timer while calls are out
        # (an asyncio.timeout per call costs more than the rest of the call's Python work).
        self._deadlines: dict[AbstractConnection, float] = {}
        self._expired: set[AbstractConnection] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Task[None]] = set()

    def acquire(self) -> AbstractConnection | None:
        """An idle or new connection, or None when ``limit`` calls are already running."""
        if self._idle:
            self._busy += 1
            return self._idle.pop()
        if self._busy >= self.limit:
            return None
        self._busy += 1
        return self._make()

    async def call(self, conn: AbstractConnection, packed: bytes) -> Any:
        """Send one packed command on ``conn`` (from ``acquire``) and return its reply.

        Raises what redis-py raises (ConnectionError, ResponseError such as NoScriptError) or
        the builtin TimeoutError; the connection goes back to the idle list unless it failed."""
        reused = conn.is_connected
        try:
            try:
                reply = await self._send(conn, packed)
            except (rexc.ConnectionError, ConnectionError):
                await conn.disconnect(nowait=True)
                if not reused:
                    raise
                reply = await self._send(conn, packed)  # a stale idle connection: once more
        except rexc.ResponseError:
            self._idle.append(conn)  # an error reply: the connection is fine
            raise
        except BaseException:
            await conn.disconnect(nowait=True)
            raise
        finally:
            self._busy -= 1
        self._idle.append(conn)
        return reply

    async def _send(self, conn: AbstractConnection, packed: bytes) -> Any:
        if self.timeout is not None:
            self._deadlines[conn] = time.monotonic() + self.timeout
            if self._timer is None:
                self._arm()
        try:
            if not conn.is_connected:
                await conn.connect()  # type: ignore[no-untyped-call]
            await conn.send_packed_command(packed, check_health=False)
            return await conn.read_response(disconnect_on_error=False)
        except Exception as exc:
            if conn in self._expired:
                raise TimeoutError(f"no reply from Redis within {self.timeout:g} s") from exc
            raise
        finally:
            self._deadlines.pop(conn, None)
            self._expired.discard(conn)

    def _arm(self) -> None:
        assert self.timeout is not None
        self._timer = asyncio.get_running_loop().call_later(min(1.0, self.timeout), self._check)

    def _check(self) -> None:
        """Close the connections of calls past their deadline: their reads fail at once."""
        self._timer = None
        now = time.monotonic()
        for conn, deadline in list(self._deadlines.items()):
            if now >= deadline:  # again at every check: redis-py may have reconnected meanwhile
                self._expired.add(conn)
                task = asyncio.get_running_loop().create_task(conn.disconnect(nowait=True))
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        if self._deadlines:
            self._arm()

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.disconnect(nowait=True)
