"""The README's example, run through the curated public API (`import swell`)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

import swell
from swell import App, ArgsValidationError, JobContext, MemoryStore, Priority, Status, Worker


class Email(BaseModel):
    to: str
    subject: str


def make_app() -> tuple[App, list[str]]:
    app = App(MemoryStore())
    seen: list[str] = []

    @app.job(queue="emails", priority="high", max_retries=5, timeout=30, model=Email)
    async def send_email(args: Email) -> dict[str, Any]:
        seen.append(f"email:{args.to}")
        return {"sent": True}

    @app.job()
    def resize(args: dict[str, Any], ctx: JobContext) -> int:
        seen.append(f"resize:{args['id']}:{ctx.attempt}")
        return int(args["id"]) * 2

    return app, seen


async def test_readme_example_runs_end_to_end() -> None:
    app, seen = make_app()
    email = await app.enqueue("send_email", {"to": "a@example.com", "subject": "hi"})
    resize = await app.enqueue("resize", {"id": 7}, priority="low", tenant="acme", unique_key="resize:7")
    again = await app.enqueue("resize", {"id": 7}, unique_key="resize:7")
    assert again.id == resize.id  # the unique key deduplicates unfinished jobs
    assert email.queue == "emails" and email.priority is Priority.HIGH

    await Worker(app, queues=["emails", "default"], concurrency=4).run(burst=True)

    assert sorted(seen) == ["email:a@example.com", "resize:7:1"]
    done = await app.store.get(resize.id)
    assert done.status is Status.COMPLETED and done.result == 14
    assert (await app.store.get(email.id)).result == {"sent": True}


async def test_bad_args_name_the_field_and_store_nothing() -> None:
    app, _ = make_app()
    with pytest.raises(ArgsValidationError, match="subject"):
        await app.enqueue("send_email", {"to": "a@example.com"})
    stats = await app.store.stats()
    assert sum(q.enqueued for q in stats.queues.values()) == 0


def test_curated_exports_resolve() -> None:
    for name in swell.__all__:
        assert getattr(swell, name) is not None, name
    assert issubclass(swell.StoreAuthError, swell.StoreUnavailable)
    assert issubclass(swell.Retry, swell.SwellError)
