"""Reads the stats port of one JobQueue's Redis, and says why when it cannot.

One ``StatsSource`` per autoscaler loop keeps one ``RedisStore`` open between polls and
rebuilds it when the connection settings (or the Secret's password) change.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from swell import errors
from swell.settings import Settings
from swell.stats import Stats
from swell.store.base import Store
from swell_operator.jobqueue import RedisConnection, SecretKeyRef

log = logging.getLogger(__name__)

SecretReader = Callable[[SecretKeyRef], Awaitable[str]]


class FailureKind(StrEnum):
    """The MetricsAvailable=False reasons."""

    AUTH = "AuthFailed"
    TLS = "TLSMismatch"
    UNREACHABLE = "Unreachable"
    SECRET = "SecretUnavailable"
    ERROR = "StatsError"


class MetricsError(Exception):
    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


_AUTH_MARKERS = ("WRONGPASS", "NOAUTH", "NOPERM", "invalid password", "invalid username",
                 "Authentication required", "AUTH <password> called without any password")
# Not the bare word "TLS": the store's own "is it a TLS port?" hint is a guess, not a TLS error.
_TLS_MARKERS = ("SSL", "certificate", "WRONG_VERSION_NUMBER", "record layer", "TLS with Redis")
_DROPPED = ("Connection closed by server", "Connection reset by peer", "Error while reading from")


def classify(exc: BaseException, tls_enabled: bool, fresh: bool = True) -> MetricsError:
    """Tell auth failure, TLS mismatch and unreachable apart (the messages users act on)."""
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(chain) < 10:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    text = " | ".join(f"{type(e).__name__}: {e}" for e in chain)
    auth_error = getattr(errors, "StoreAuthError", None)
    tls_error = getattr(errors, "StoreTLSError", None)
    names = {type(e).__name__ for e in chain}
    # swell's store errors already say what failed and where; others get a prefix.
    own = isinstance(exc, errors.StoreError)
    if (auth_error and any(isinstance(e, auth_error) for e in chain)) \
            or names & {"AuthenticationError", "AuthorizationError", "AuthenticationWrongNumberOfArgsError"} \
            or any(m in text for m in _AUTH_MARKERS):
        return MetricsError(FailureKind.AUTH, str(exc) if own else f"Redis refused the credentials: {exc}")
    if (tls_error and any(isinstance(e, tls_error) for e in chain)) \
            or any(isinstance(e, ssl.SSLError) for e in chain) or any(m in text for m in _TLS_MARKERS):
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            hint = "set spec.redis.tls.caSecretRef to the CA that signed the server's certificate"
        elif "WRONG_VERSION_NUMBER" in text or "record layer" in text or "wrong version" in text:
            hint = "the server does not speak TLS here: use redis:// and tls.enabled false"
        elif own and "(" in str(exc):  # the store already said what to do
            return MetricsError(FailureKind.TLS, str(exc))
        else:
            hint = "does spec.redis.tls match the server?"
        return MetricsError(FailureKind.TLS, f"{exc} ({hint})")
    if fresh and not tls_enabled and any(m in text for m in _DROPPED):
        # A plaintext client talking to a TLS port: the TCP connect works, then the server
        # drops the connection at the first command (on a connection that worked before,
        # the same words just mean the server went away).
        return MetricsError(FailureKind.TLS, f"{exc} (the server dropped a new connection at once: if it "
                            "expects TLS, set spec.redis.tls.enabled or use rediss://)")
    if isinstance(exc, (ConnectionError, TimeoutError, OSError)) \
            or names & {"ConnectionError", "TimeoutError", "StoreUnavailable", "BusyLoadingError"}:
        return MetricsError(FailureKind.UNREACHABLE, str(exc) if own else f"cannot reach Redis: {exc}")
    return MetricsError(FailureKind.ERROR, f"reading stats failed: {type(exc).__name__}: {exc}")


async def _listening(address: str, timeout: float) -> bool:
    """Does anything accept a TCP connection at the URL's host:port?"""
    url = urllib.parse.urlsplit(address)
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(url.hostname or "localhost", url.port or 6379), timeout)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


@dataclass(frozen=True, slots=True)
class _Key:
    address: str
    username: str | None
    password: str | None
    ca: str | None
    insecure: bool
    prefix: str


class StatsSource:
    """The stats port of one JobQueue's Redis; ``await read(conn)`` or MetricsError."""

    def __init__(self, read_secret: SecretReader, *, timeout: float = 5.0) -> None:
        self.read_secret = read_secret
        self.timeout = timeout
        self._key: _Key | None = None
        self._store: Store | None = None

    async def read(self, conn: RedisConnection) -> Stats:
        try:
            password = await self.read_secret(conn.password) if conn.password else None
            ca = await self.read_secret(conn.ca) if conn.ca else None
        except Exception as e:  # the Secret is missing, or may not be read
            raise MetricsError(FailureKind.SECRET, f"cannot read the Redis Secret: {e}") from e
        key = _Key(conn.address(), conn.username, password, ca, conn.insecure_skip_verify, conn.key_prefix)
        fresh = self._store is None or key != self._key
        try:
            store = await self._open(key, conn.tls)
            return await store.stats()
        except Exception as e:
            await self.close()  # reconnect from scratch next time
            error = classify(e, conn.tls, fresh)
            if error.kind is FailureKind.UNREACHABLE and conn.tls and "imeout" in error.message \
                    and await _listening(key.address, self.timeout):
                # TCP works but the TLS handshake never completes: a plain Redis port.
                error = MetricsError(FailureKind.TLS, f"{error.message} (the port accepts TCP but no TLS "
                                     "handshake: the server does not speak TLS; use redis://)")
            raise error from e

    async def _open(self, key: _Key, tls: bool) -> Store:
        if self._store is not None and key == self._key:
            return self._store
        await self.close()
        from swell.store.redis import RedisStore  # type: ignore[import-not-found,unused-ignore]

        kwargs: dict[str, Any] = {"socket_timeout": self.timeout, "socket_connect_timeout": self.timeout}
        if key.username:
            kwargs["username"] = key.username
        if key.password is not None:
            kwargs["password"] = key.password
        if tls:
            if key.ca:
                kwargs["ssl_ca_data"] = key.ca
            if key.insecure:
                kwargs["ssl_cert_reqs"] = "none"
                kwargs["ssl_check_hostname"] = False
        self._store = RedisStore.from_url(key.address, settings=Settings(key_prefix=key.prefix), **kwargs)
        self._key = key
        return self._store

    async def close(self) -> None:
        store, self._store, self._key = self._store, None, None
        if store is not None:
            try:
                await store.close()
            except Exception as e:  # closing a broken connection may fail; nothing to do
                log.debug("closing the stats store failed: %s", e)
