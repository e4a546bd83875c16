"""Serving the admin app with uvicorn, the bind-safety rule, and the CLI/worker wiring helpers.

The rule: the admin API can replay, cancel and purge jobs, so it binds beyond loopback only
with a bearer token. ``swell dashboard`` and the worker's ``--metrics-port``/``--log-json``
are wired in ``swell.cli`` with one call each to the functions below.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

from swell.errors import SwellError

if TYPE_CHECKING:
    import uvicorn

    from swell.monitor.metrics import MetricsServer, WorkerMetrics
    from swell.store.base import Store

log = logging.getLogger(__name__)

TOKEN_ENV = "SWELL_DASHBOARD_TOKEN"
REDIS_URL_ENV = "SWELL_REDIS_URL"
KEY_PREFIX_ENV = "SWELL_KEY_PREFIX"
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class InsecureBind(SwellError, ValueError):
    """The admin API was asked to listen beyond loopback without a token."""


def is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name or wildcard: it may be reachable from elsewhere


def host_of(header: str) -> str:
    """The host part of a Host header: "127.0.0.1:8080" -> "127.0.0.1", "[::1]:80" -> "::1"."""
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class LoopbackHostGuard:
    """ASGI wrapper for a token-less (loopback) server: only requests addressed to a loopback
    name pass, so a web page cannot reach the API through DNS rebinding."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if not is_loopback(host_of(host)):
                body = (b'{"error":"forbidden","status":403,"message":"this admin server has no token '
                        b'and answers only requests addressed to localhost"}')
                await send({"type": "http.response.start", "status": 403,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def check_bind(host: str, token: str | None) -> None:
    """Raise InsecureBind when ``host`` is reachable from other machines and no token is set."""
    if not token and not is_loopback(host):
        raise InsecureBind(
            f"refusing to serve the admin API on {host!r} without a token: anyone who can reach it "
            f"could replay, cancel or purge jobs. Set --token or ${TOKEN_ENV}, or bind to 127.0.0.1.")


def build_server(store: Store, host: str = "127.0.0.1", port: int = 8080, token: str | None = None,
                 read_only: bool = False) -> uvicorn.Server:
    """A uvicorn server for the admin app (InsecureBind when the bind rule is broken)."""
    import uvicorn

    from swell.monitor.api import create_app

    check_bind(host, token)
    app: Any = create_app(store, token=token, read_only=read_only)
    if not token:
        app = LoopbackHostGuard(app)
    config = uvicorn.Config(app, host=host, port=port, lifespan="off", access_log=False,
                            log_config=None, server_header=False)
    return uvicorn.Server(config)


async def serve(store: Store, host: str = "127.0.0.1", port: int = 8080, token: str | None = None,
                read_only: bool = False) -> None:
    """Serve the admin API, dashboard and /metrics until interrupted (SIGINT/SIGTERM)."""
    server = build_server(store, host, port, token, read_only)
    shown = f"[{host}]" if ":" in host else host
    log.info("swell dashboard on http://%s:%d/%s", shown, port, " (read-only)" if read_only else "")
    await server.serve()


# -- CLI wiring (swell.cli calls these; kept here so the monitoring extra stays optional) -------

def add_dashboard_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]
                          ) -> argparse.ArgumentParser:
    """``swell dashboard --port P [--host H] [--token T] [--read-only] [--redis-url URL]``."""
    p = subparsers.add_parser("dashboard", help="serve the admin API, web dashboard and /metrics",
                              description="Serve the admin HTTP API (/api), the web dashboard (/) and "
                                          "Prometheus metrics (/metrics).")
    p.add_argument("--port", type=int, default=8080, help="TCP port (default 8080)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1); anything else needs a token")
    p.add_argument("--token", default=None,
                   help=f"bearer token required on every request (default ${TOKEN_ENV})")
    p.add_argument("--read-only", action="store_true", help="refuse replay, cancel and purge")
    p.add_argument("--redis-url", default=None, help=f"Redis to inspect (default ${REDIS_URL_ENV})")
    p.add_argument("--key-prefix", default=None,
                   help=f"key prefix of the deployment (default ${KEY_PREFIX_ENV} or 'swell')")
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO (default), WARNING or ERROR")
    p.add_argument("--log-json", action="store_true", help="log JSON lines")
    p.set_defaults(func=run_dashboard)
    return p


def run_dashboard(args: argparse.Namespace) -> int:
    """Entry point of ``swell dashboard``; returns the process exit code."""
    from swell import logging_json

    token = args.token or os.environ.get(TOKEN_ENV) or None
    try:
        check_bind(args.host, token)
    except InsecureBind as exc:
        print(f"swell dashboard: {exc}", file=sys.stderr)
        return 2
    url = args.redis_url or os.environ.get(REDIS_URL_ENV)
    if not url:
        print(f"swell dashboard: give --redis-url or set ${REDIS_URL_ENV} (the dashboard inspects a "
              f"Redis-backed deployment)", file=sys.stderr)
        return 2
    level = str(getattr(args, "log_level", None) or "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        print(f"swell dashboard: unknown log level {level!r}: use DEBUG, INFO, WARNING or ERROR",
              file=sys.stderr)
        return 2
    logging_json.configure(level, json=bool(getattr(args, "log_json", False)))
    # uvicorn re-raises the signal that stopped it once its own handlers are gone; quiet
    # handlers underneath turn a requested stop into a clean exit 0 instead of death by signal.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: None)
    return asyncio.run(_dashboard(url, args, token))


async def _dashboard(url: str, args: argparse.Namespace, token: str | None) -> int:
    from swell.settings import Settings
    from swell.store.redis import RedisStore

    prefix = args.key_prefix or os.environ.get(KEY_PREFIX_ENV)
    settings = Settings(key_prefix=prefix) if prefix else Settings()
    store = RedisStore.from_url(url, settings=settings)
    try:
        await serve(store, args.host, args.port, token, args.read_only)
    finally:
        await store.close()
    return 0


def add_worker_monitoring_options(parser: argparse.ArgumentParser) -> None:
    """``--metrics-port``, ``--metrics-host`` and ``--log-json`` for ``swell worker``."""
    parser.add_argument("--metrics-port", type=int, default=None,
                        help="serve Prometheus metrics on this port (GET /metrics)")
    parser.add_argument("--metrics-host", default="0.0.0.0",
                        help="address for the metrics endpoint (default 0.0.0.0, for Prometheus scrapes)")
    parser.add_argument("--log-json", action="store_true",
                        help="log JSON lines (job_id, queue, type, attempt, duration)")


async def start_worker_monitoring(args: argparse.Namespace, store: Store
                                  ) -> tuple[WorkerMetrics | None, MetricsServer | None]:
    """Start the worker's metrics endpoint when ``--metrics-port`` was given.

    Returns the ``WorkerMetrics`` to hand to ``Worker(metrics=...)`` and the server to close
    on shutdown; ``(None, None)`` without ``--metrics-port`` (prometheus-client not needed).
    """
    port = getattr(args, "metrics_port", None)
    if port is None:
        return None, None
    from swell.monitor.metrics import WorkerMetrics, start_metrics_server

    metrics = WorkerMetrics(process=True)
    server = await start_metrics_server(store, port, getattr(args, "metrics_host", "0.0.0.0"), metrics)
    return metrics, server
