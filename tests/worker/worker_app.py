"""A small swell app run as a worker subprocess by the process tests (not the `swell` CLI).

    python worker_app.py REDIS_URL KEY_PREFIX LEASE GRACE     (LEASE 0: default settings)

The handlers append one line per run to ``args["marker"]`` so the tests can count runs.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from pathlib import Path
from typing import Any

from swell.app import App
from swell.settings import Settings
from swell.worker import Worker


def runs(marker: str) -> int:
    path = Path(marker)
    return len(path.read_text().splitlines()) if path.exists() else 0


def _mark(args: dict[str, Any]) -> int:
    with open(args["marker"], "a") as f:
        f.write("run\n")
    return runs(args["marker"])


async def slow(args: dict[str, Any]) -> str:
    """Sleeps ``first`` seconds on its first run, ``then`` seconds on later runs."""
    n = _mark(args)
    await asyncio.sleep(args.get("first", 0) if n == 1 else args.get("then", 0))
    return f"run {n}"


def slow_sync(args: dict[str, Any]) -> str:
    n = _mark(args)
    time.sleep(args.get("first", 0) if n == 1 else args.get("then", 0))
    return f"run {n}"


def build_app(url: str, prefix: str, lease: float) -> App:
    from swell.store.redis import RedisStore

    # lease <= 0: every setting at its default (lease 30 s, dead workers found after 5 s)
    settings = (Settings(key_prefix=prefix, lease=lease, reap_interval=min(0.5, lease / 2)) if lease > 0
                else Settings(key_prefix=prefix))
    app = App(RedisStore.from_url(url, settings=settings))
    app.register("slow", slow)
    app.register("slow_sync", slow_sync)
    return app


async def main(url: str, prefix: str, lease: float, grace: float) -> None:
    app = build_app(url, prefix, lease)
    try:
        options: dict[str, Any] = {"heartbeat_interval": 0.2} if lease > 0 else {}
        await Worker(app, concurrency=4, shutdown_grace=grace, **options).run()
    finally:
        await app.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])))
