"""Handler registry, enqueue validation and the worker's pure failure policy (no worker loop)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from pydantic import BaseModel

from swell.app import App
from swell.context import JobContext
from swell.errors import (
    ArgsValidationError,
    InvalidJob,
    PermanentError,
    Retry,
    TenantNotResolved,
    UnknownJobType,
)
from swell.failure import HandlerFailed, JobTimeout, failure_outcome
from swell.job import Job, Priority, Status
from swell.registry import Registry, handler_arity, interpret_result
from swell.retry import Backoff, RetryPolicy
from swell.store.base import OutcomeKind
from swell.worker import ordered_queues


class Email(BaseModel):
    to: str
    subject: str = "hello"
    count: int = 1


def test_decorator_registers_with_defaults_and_options() -> None:
    app = App()

    @app.job()
    async def plain(args: dict[str, Any]) -> None:
        return None

    policy = RetryPolicy(backoff=Backoff.LINEAR, initial=2.0)

    @app.job("mail", queue="emails", priority="high", max_retries=5, retry_policy=policy, timeout=30,
             model=Email)
    def send(args: Email, ctx: JobContext) -> None:
        return None

    handlers = app.handlers()
    assert set(handlers) == {"plain", "mail"}
    assert handlers["plain"].is_async and handlers["plain"].arity == 1
    assert handlers["plain"].queue == "default" and handlers["plain"].priority is Priority.NORMAL
    mail = handlers["mail"]
    assert (mail.queue, mail.priority, mail.max_retries, mail.retry_policy, mail.timeout, mail.model) == (
        "emails", Priority.HIGH, 5, policy, 30, Email)
    assert not mail.is_async and mail.takes_context
    assert app.registry.queues() == ["default", "emails"]


def test_register_by_call_and_unregister() -> None:
    app = App()
    handler = app.register("double", lambda args: args["x"] * 2)
    assert app.registry["double"] is handler and "double" in app.registry
    app.unregister("double")
    assert "double" not in app.handlers()
    with pytest.raises(UnknownJobType, match="no handler registered for job type 'double'"):
        app.unregister("double")


def test_model_is_taken_from_the_first_parameter_annotation() -> None:
    registry = Registry()

    def send(args: Email) -> None:
        return None

    assert registry.register("send", send).model is Email


def test_arity_detection() -> None:
    def none() -> None: ...
    def one(args: Any) -> None: ...
    def two(args: Any, ctx: Any) -> None: ...
    def star(*args: Any) -> None: ...
    def three(a: Any, b: Any, c: Any) -> None: ...

    assert [handler_arity(f) for f in (none, one, two, star)] == [0, 1, 2, 2]
    with pytest.raises(InvalidJob, match="takes 3 arguments"):
        handler_arity(three)


@pytest.mark.parametrize("bad", [dict(max_retries=-1), dict(timeout=0), dict(model=dict)])
def test_register_rejects_bad_options(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidJob):
        Registry().register("x", lambda args: None, **bad)


async def test_enqueue_validates_args_against_the_model_naming_the_field() -> None:
    app = App()
    app.register("send_email", lambda args: None, model=Email)
    with pytest.raises(ArgsValidationError) as err:
        await app.enqueue("send_email", {"subject": "x"})
    assert str(err.value) == "args of job 'send_email' are invalid: to: field required"
    with pytest.raises(ArgsValidationError, match="count: input should be a valid integer"):
        await app.enqueue("send_email", {"to": "a@b", "count": "many"})
    assert await app.store.queues() == []  # nothing was written

    job = await app.enqueue("send_email", Email(to="a@b"))
    assert job.args == {"to": "a@b", "subject": "hello", "count": 1}


async def test_enqueue_uses_handler_defaults_and_allows_unknown_types() -> None:
    app = App()
    app.register("mail", lambda args: None, queue="emails", priority="critical", max_retries=7)
    job = await app.enqueue("mail", {"x": 1})
    assert (job.queue, job.priority, job.max_retries) == ("emails", Priority.CRITICAL, 7)
    override = await app.enqueue("mail", queue="other", priority="low", max_retries=0)
    assert (override.queue, override.priority, override.max_retries) == ("other", Priority.LOW, 0)
    unknown = await app.enqueue("not_registered_here", {"a": 1})
    assert unknown.status is Status.PENDING and unknown.queue == "default"


async def test_enqueue_many_validates_everything_before_storing() -> None:
    app = App()
    app.register("send_email", lambda args: None, model=Email)
    with pytest.raises(ArgsValidationError, match="to: field required"):
        await app.enqueue_many([("send_email", {"to": "a"}), {"type": "send_email", "args": {}}])
    assert await app.store.queues() == []
    jobs = await app.enqueue_many([("send_email", {"to": "a"}), {"type": "other", "priority": "high"}])
    assert [j.type for j in jobs] == ["send_email", "other"]
    with pytest.raises(InvalidJob, match="unknown enqueue option"):
        await app.enqueue_many([{"type": "x", "colour": "red"}])


def test_schedule_declared_in_code() -> None:
    app = App()
    app.register("report", lambda args: None, queue="reports", model=Email)
    schedule = app.schedule("nightly", "report", cron="0 3 * * *", args={"to": "ops"})
    assert schedule.queue == "reports" and schedule.args["to"] == "ops"
    assert app.schedules() == [schedule]
    with pytest.raises(InvalidJob, match="exactly one of cron or interval"):
        app.schedule("bad", "report")
    with pytest.raises(ArgsValidationError, match="to: field required"):
        app.schedule("bad", "report", interval=60, args={})


def test_legacy_result_shape() -> None:
    assert interpret_result({"success": True, "result": 5}) == (True, 5, None)
    assert interpret_result({"success?": False, "error": "boom"}) == (False, None, "boom")
    # Other dicts are plain results, even with a "success" key among others.
    assert interpret_result({"success": True, "count": 2}) == (True, {"success": True, "count": 2}, None)
    assert interpret_result(None) == (True, None, None)


def _job(attempts: int, max_retries: int = 3, policy: RetryPolicy | None = None) -> Job:
    return Job(id="j", type="t", attempts=attempts, max_retries=max_retries,
               retry_policy=policy or RetryPolicy(initial=1.0, factor=2.0, jitter=0.0))


def test_failures_retry_following_the_backoff_then_dead_letter() -> None:
    delays = []
    for attempts in (1, 2, 3):
        outcome = failure_outcome(_job(attempts), ValueError("x"), 0.1, 0.5)
        assert outcome.kind is OutcomeKind.RETRY
        delays.append(outcome.delay)
    assert delays == [1.0, 2.0, 4.0]
    try:
        raise ValueError("boom")
    except ValueError as exc:
        last = failure_outcome(_job(4), exc, 0.1, 0.5)
    assert last.kind is OutcomeKind.FAIL and last.reason == "retries exhausted"
    assert last.error is not None and last.error.type == "ValueError" and last.error.message == "boom"
    assert last.error.traceback and "ValueError: boom" in last.error.traceback


def test_jitter_stays_within_the_policy_bounds() -> None:
    policy = RetryPolicy(initial=10.0, jitter=0.1)
    rng = random.Random(7)
    delays = [failure_outcome(_job(1, policy=policy), ValueError(), None, rng.random()).delay
              for _ in range(200)]
    assert min(delays) >= 9.0 and max(delays) <= 11.0 and len(set(delays)) > 100


def test_special_errors() -> None:
    retry = failure_outcome(_job(1), Retry(delay=7.5), None, 0.5)
    assert retry.kind is OutcomeKind.RETRY and retry.delay == 7.5
    assert failure_outcome(_job(1), Retry(), None, 0.5).delay == 1.0  # the policy's delay
    assert failure_outcome(_job(4), Retry(delay=1), None, 0.5).reason == "retries exhausted"
    permanent = failure_outcome(_job(1), PermanentError("nope"), None, 0.5)
    assert permanent.kind is OutcomeKind.FAIL and permanent.reason == "permanent error"
    tenant = failure_outcome(_job(1), TenantNotResolved("t"), None, 0.5)
    assert tenant.kind is OutcomeKind.FAIL and tenant.reason == "tenant not resolved"
    timeout = failure_outcome(_job(1), JobTimeout("job timed out after 2 s"), None, 0.5)
    assert timeout.kind is OutcomeKind.RETRY and timeout.error is not None
    assert timeout.error.type == "TimeoutError"
    legacy = failure_outcome(_job(1), HandlerFailed({"type": "SmtpError", "message": "down"}), None, 0.5)
    assert legacy.error is not None and (legacy.error.type, legacy.error.message) == ("SmtpError", "down")


def test_weighted_queue_order() -> None:
    rng = random.Random(1)
    assert ordered_queues(["a", "b"], None, rng.random) == ["a", "b"]
    firsts = [ordered_queues(["a", "b", "c"], [6, 3, 1], rng.random)[0] for _ in range(3000)]
    share = {q: firsts.count(q) / 3000 for q in "abc"}
    assert 0.5 < share["a"] < 0.7 and 0.2 < share["b"] < 0.4 and 0.05 < share["c"] < 0.15
    assert ordered_queues(["a", "b"], [0, 1], rng.random) == ["b", "a"]
