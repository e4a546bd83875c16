"""swell: typed background jobs on Redis (or in memory), at-least-once, with a Kubernetes autoscaler."""

from __future__ import annotations

from swell.errors import (
    ArgsValidationError,
    InvalidJob,
    JobNotFound,
    PermanentError,
    Retry,
    StoreUnavailable,
    SwellError,
)
from swell.job import Job, JobError, Priority, Status
from swell.retry import Backoff, RetryPolicy
from swell.settings import Settings
from swell.stats import Stats

__version__ = "0.1.0"

__all__ = [
    "ArgsValidationError",
    "Backoff",
    "InvalidJob",
    "Job",
    "JobError",
    "JobNotFound",
    "PermanentError",
    "Priority",
    "Retry",
    "RetryPolicy",
    "Settings",
    "Stats",
    "Status",
    "StoreUnavailable",
    "SwellError",
]
