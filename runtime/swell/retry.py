"""Retry policy and backoff: pure functions, randomness passed in."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Backoff(StrEnum):
    EXPONENTIAL = "exponential"
    LINEAR = "linear"
    CONSTANT = "constant"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to wait before attempt n+1.

    - exponential: ``initial * factor**n`` (factor 2 by default)
    - linear:      ``initial * (n + 1)``
    - constant:    ``initial``

    where ``n`` is the number of retries already made (0 for the first retry).
    The delay is capped at ``cap`` seconds, then jittered by ``±jitter`` (a fraction),
    then floored at 0. The defaults (exponential from 1 s, cap 60 s, ±10 %) follow
    BullMQ/Sidekiq practice: retries spread out and never synchronise into a thundering herd.
    """

    backoff: Backoff = Backoff.EXPONENTIAL
    initial: float = 1.0
    factor: float = 2.0
    cap: float = 60.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.initial < 0 or self.cap < 0:
            raise ValueError("retry delays must be >= 0")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be a fraction between 0 and 1")
        if self.factor < 1:
            raise ValueError("factor must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        return {
            "backoff": self.backoff.value,
            "initial": self.initial,
            "factor": self.factor,
            "cap": self.cap,
            "jitter": self.jitter,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RetryPolicy:
        return cls(
            backoff=Backoff(data.get("backoff", "exponential")),
            initial=float(data.get("initial", 1.0)),
            factor=float(data.get("factor", 2.0)),
            cap=float(data.get("cap", 60.0)),
            jitter=float(data.get("jitter", 0.1)),
        )


DEFAULT_RETRY_POLICY = RetryPolicy()


def retry_delay(policy: RetryPolicy, retries_done: int, rand: float = 0.5) -> float:
    """Seconds to wait before the next attempt.

    ``rand`` is a uniform sample in [0, 1); 0.5 means "no jitter". Passing it in keeps
    this function pure and testable.
    """
    n = max(0, retries_done)
    if policy.backoff is Backoff.EXPONENTIAL:
        # Compute in a way that cannot overflow for large n.
        base = policy.cap if n > 1000 else min(policy.cap, policy.initial * policy.factor**n)
    elif policy.backoff is Backoff.LINEAR:
        base = min(policy.cap, policy.initial * (n + 1))
    else:
        base = min(policy.cap, policy.initial)
    jittered = base * (1 + policy.jitter * (2 * rand - 1))
    return max(0.0, jittered)


def should_retry(attempts: int, max_retries: int) -> bool:
    """True when a job that has run ``attempts`` times may run again.

    ``max_retries`` counts re-runs after the first attempt: max_retries=3 allows 4 runs.
    """
    return attempts <= max_retries
