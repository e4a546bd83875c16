"""Load generator for the demo: enqueue a burst of swell_demo jobs in batches.

    python -m swell_load --count 2000            # the examples/load-job.yaml Job runs this

Uses SWELL_REDIS_URL like the workers. Jobs are spread over the demo handlers with a fixed seed,
so two runs enqueue the same mix.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

from swell.app import App

MIX = (("resize_image", 6), ("send_email", 3), ("crunch", 1))


def job_specs(count: int, *, seed: int = 7) -> list[dict[str, Any]]:
    """`count` enqueue specs (mappings for App.enqueue_many) following MIX."""
    rand = random.Random(seed)
    types = [name for name, weight in MIX for _ in range(weight)]
    specs: list[dict[str, Any]] = []
    for i in range(count):
        kind = rand.choice(types)
        if kind == "resize_image":
            args: dict[str, Any] = {"image": f"img-{i}.png", "width": 320, "height": 240}
        elif kind == "send_email":
            args = {"to": f"user{i}@example.com", "subject": f"hello #{i}"}
        else:
            args = {"text": f"block {i}"}
        specs.append({"type": kind, "args": args})
    return specs


async def enqueue_load(app: App, count: int, *, batch: int = 200, seed: int = 7) -> Counter[str]:
    """Enqueue `count` demo jobs in batches of `batch`; returns how many of each type."""
    specs = job_specs(count, seed=seed)
    for start in range(0, len(specs), batch):
        await app.enqueue_many(specs[start:start + batch])
    return Counter(spec["type"] for spec in specs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="swell_load", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="jobs to enqueue (default 1000)")
    parser.add_argument("--batch", type=int, default=200, help="jobs per round trip (default 200)")
    parser.add_argument("--seed", type=int, default=7)
    opts = parser.parse_args(argv)
    if opts.count < 0 or opts.batch < 1:
        parser.error("--count must be >= 0 and --batch >= 1")

    from swell_demo import app  # the demo's handlers validate the args before anything is stored

    async def run() -> Counter[str]:
        try:
            return await enqueue_load(app, opts.count, batch=opts.batch, seed=opts.seed)
        finally:
            await app.close()

    counts = asyncio.run(run())
    mix = ", ".join(f"{kind}={n}" for kind, n in sorted(counts.items()))
    print(f"enqueued {sum(counts.values())} jobs: {mix}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
