"""swell: typed background jobs on Redis (or in memory), at-least-once, with a Kubernetes autoscaler."""

from __future__ import annotations

from swell.app import App
from swell.context import JobContext
from swell.errors import (
    ArgsValidationError,
    InvalidJob,
    JobNotFound,
    PermanentError,
    Retry,
    StoreAuthError,
    StoreTLSError,
    StoreUnavailable,
    SwellError,
    TenantNotResolved,
)
from swell.job import Job, JobError, Priority, Status
from swell.retry import Backoff, RetryPolicy
from swell.schedule import InvalidSchedule
from swell.settings import Settings
from swell.stats import Stats
from swell.store.base import Schedule, Store
from swell.store.memory import MemoryStore
from swell.store.redis import RedisStore
from swell.worker import Worker

__version__ = "0.1.0"

__all__ = [
    "App",
    "ArgsValidationError",
    "Backoff",
    "InvalidJob",
    "InvalidSchedule",
    "Job",
    "JobContext",
    "JobError",
    "JobNotFound",
    "MemoryStore",
    "PermanentError",
    "Priority",
    "RedisStore",
    "Retry",
    "RetryPolicy",
    "Schedule",
    "Settings",
    "Stats",
    "Status",
    "Store",
    "StoreAuthError",
    "StoreTLSError",
    "StoreUnavailable",
    "SwellError",
    "TenantNotResolved",
    "Worker",
]
