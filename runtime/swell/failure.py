"""The worker's failure policy (pure): retry per the job's policy, or dead-letter, and why."""

from __future__ import annotations

import traceback
from typing import Any

from swell.errors import ArgsValidationError, PermanentError, Retry, SwellError, TenantNotResolved
from swell.job import Job, JobError
from swell.retry import retry_delay, should_retry
from swell.store.base import Outcome, OutcomeKind

TRACEBACK_LIMIT = 8000  # characters of traceback kept with a failed attempt


class JobTimeout(SwellError, TimeoutError):
    """An attempt ran longer than its timeout."""


class HandlerFailed(SwellError):
    """A handler returned ``{"success": False, "error": ...}``."""

    def __init__(self, error: Any) -> None:
        if isinstance(error, dict):
            self.error_type = str(error.get("type") or "HandlerFailed")
            message = str(error.get("message") or error)
        else:
            self.error_type = "HandlerFailed"
            message = "handler reported failure" if error is None else str(error)
        super().__init__(message)


def failure_outcome(job: Job, exc: BaseException, duration: float | None, rand: float) -> Outcome:
    """What to do after an attempt raised ``exc``: retry per policy, or dead-letter."""
    if isinstance(exc, PermanentError):
        return Outcome(job, OutcomeKind.FAIL, error=_error(exc), reason="permanent error",
                       duration=duration)
    if isinstance(exc, TenantNotResolved):
        return Outcome(job, OutcomeKind.FAIL, error=_error(exc), reason="tenant not resolved",
                       duration=duration)
    if isinstance(exc, ArgsValidationError):
        return Outcome(job, OutcomeKind.FAIL, error=_error(exc), reason="invalid args",
                       duration=duration)
    error = _error(exc, with_traceback=not isinstance(exc, Retry | JobTimeout | HandlerFailed))
    if not should_retry(job.attempts, job.max_retries):
        return Outcome(job, OutcomeKind.FAIL, error=error, reason="retries exhausted", duration=duration)
    if isinstance(exc, Retry) and exc.delay is not None:
        delay = max(0.0, float(exc.delay))
    else:
        delay = retry_delay(job.retry_policy, job.attempts - 1, rand)
    return Outcome(job, OutcomeKind.RETRY, error=error, delay=delay, duration=duration)


def _error(exc: BaseException, with_traceback: bool = False) -> JobError:
    if isinstance(exc, JobTimeout):
        return JobError("TimeoutError", str(exc))
    if isinstance(exc, HandlerFailed):
        return JobError(exc.error_type, str(exc))
    tb = None
    if with_traceback and exc.__traceback__ is not None:
        tb = "".join(traceback.format_exception(exc))[-TRACEBACK_LIMIT:]
    return JobError(type(exc).__name__, str(exc), tb)


def unknown_type_outcome(job: Job) -> Outcome:
    message = f"no handler registered for job type {job.type!r}"
    return Outcome(job, OutcomeKind.FAIL, error=JobError("UnknownJobType", message),
                   reason="unknown job type")


def cancelled_outcome(job: Job, duration: float | None) -> Outcome:
    # The store records a FAIL of a job whose cancel was requested as CANCELLED.
    return Outcome(job, OutcomeKind.FAIL, error=JobError("Cancelled", "cancelled on request"),
                   reason="cancelled", duration=duration)
