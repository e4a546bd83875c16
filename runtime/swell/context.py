"""JobContext: what a handler written as ``fn(args, ctx)`` learns about the attempt it runs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from swell.job import Job

if TYPE_CHECKING:
    from swell.app import App

job_logger = logging.getLogger("swell.job")


@dataclass(slots=True)
class JobContext:
    """One attempt of one job.

    job:       the job as claimed (attempts already counts this attempt)
    attempt:   1 for the first run, 2 for the first retry, ...
    tenant:    the context the tenant resolver returned (None for jobs without a tenant)
    worker_id: the worker running the attempt
    logger:    a logger adapter that tags records with the job id, type and queue
    cancel_requested: true once someone asked to cancel this job, the worker is shutting down
               past its grace period, or the lease was lost. Sync handlers cannot be interrupted,
               so long loops should check it and return early.
    """

    job: Job
    tenant: Any = None
    worker_id: str = ""
    app: App | None = None
    cancel_requested: bool = False
    _logger: logging.LoggerAdapter[logging.Logger] | None = field(default=None, repr=False)

    @property
    def attempt(self) -> int:
        return self.job.attempts

    @property
    def tenant_id(self) -> str | None:
        return self.job.tenant

    @property
    def logger(self) -> logging.LoggerAdapter[logging.Logger]:
        if self._logger is None:
            self._logger = logging.LoggerAdapter(
                job_logger,
                {"job_id": self.job.id, "job_type": self.job.type, "queue": self.job.queue},
            )
        return self._logger
