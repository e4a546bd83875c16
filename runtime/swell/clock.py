"""Clocks: the wall clock stores use by default, and a manual one for tests and simulations."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]
"""Returns seconds since the epoch."""


def wall_clock() -> float:
    return time.time()


class ManualClock:
    """A clock that moves only when told to. Call it like ``time.time``."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now

    def set(self, now: float) -> None:
        self.now = now
