"""Storage backends behind the `Store` port."""

from __future__ import annotations

from swell.store.base import (
    JobFilter,
    LeaseReport,
    Outcome,
    OutcomeKind,
    ReapReport,
    Schedule,
    Store,
)

__all__ = ["JobFilter", "LeaseReport", "Outcome", "OutcomeKind", "ReapReport", "Schedule", "Store"]
