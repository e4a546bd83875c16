"""The hook interface a Worker calls to report what it does (kept free of prometheus-client, so
``swell.worker`` can type against it without the monitoring extra)."""

from __future__ import annotations

from typing import Protocol

from swell.job import Job
from swell.store.base import Outcome, ReapReport


class JobObserver(Protocol):
    """Called from the worker's event loop; implementations must be quick and never raise."""

    def on_start(self, job: Job) -> None:
        """A claimed job began running in this process."""

    def on_outcome(self, outcome: Outcome) -> None:
        """An attempt ended (complete, retry, fail or release), with its duration."""

    def on_lost(self, job: Job) -> None:
        """An attempt ended without an outcome: its lease went to another worker."""

    def on_reap(self, queue: str, report: ReapReport) -> None:
        """This process swept expired leases of ``queue`` (crash recoveries)."""
