"""Demo worker app: a few handlers that take long enough for a backlog to build and the operator
to scale the workers (`swell worker swell_demo:app`; the image puts examples/ on PYTHONPATH).

SWELL_REDIS_URL selects Redis (the pod templates build it from the Redis Secret); without it the
app runs on the in-memory store, which is what the tests use.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random

from pydantic import BaseModel, Field

from swell.app import App
from swell.errors import Retry

log = logging.getLogger(__name__)

app = App(redis_url=os.environ.get("SWELL_REDIS_URL") or None, name="swell-demo")

# Scales every simulated duration; the tests set it to 0 so handlers return at once.
SPEED = float(os.environ.get("SWELL_DEMO_WORK_SECONDS", "1.0"))


class Resize(BaseModel):
    image: str = Field(min_length=1)
    width: int = Field(gt=0, le=10_000)
    height: int = Field(gt=0, le=10_000)


class Email(BaseModel):
    to: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    subject: str = Field(max_length=200)
    # Chance (0..1) that the mail server "times out" and the job is retried.
    flakiness: float = Field(default=0.1, ge=0, le=1)


class Digest(BaseModel):
    text: str
    rounds: int = Field(default=20_000, ge=1, le=5_000_000)


@app.job(queue="default", timeout=60, model=Resize)
async def resize_image(args: Resize) -> dict[str, object]:
    """I/O-bound: waits as if a thumbnail service were working (about 1-3 s)."""
    await asyncio.sleep(SPEED * random.uniform(1.0, 3.0))
    return {"image": args.image, "size": [args.width, args.height]}


@app.job(queue="emails", priority="high", max_retries=5, timeout=30, model=Email)
async def send_email(args: Email) -> dict[str, object]:
    """Sometimes fails transiently, so retries with backoff show up in the stats."""
    await asyncio.sleep(SPEED * random.uniform(0.2, 0.8))
    if random.random() < args.flakiness:
        raise Retry(delay=2.0 * SPEED)
    log.info("sent %r to %s", args.subject, args.to)
    return {"sent": True, "to": args.to}


@app.job(queue="default", priority="low", timeout=120, model=Digest)
def crunch(args: Digest) -> str:
    """CPU-bound and sync: runs in the worker's thread pool."""
    value = args.text.encode()
    for _ in range(args.rounds if SPEED else 1):
        value = hashlib.sha256(value).digest()
    return value.hex()
