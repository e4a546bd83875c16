"""The stats port's value types: what `Store.stats()` returns, JSON round-trippable."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PRIORITY_NAMES = ("critical", "high", "normal", "low")


@dataclass(frozen=True, slots=True)
class DurationStats:
    """Run time of completed attempts of one job type, in seconds."""

    count: int = 0
    min: float = 0.0
    avg: float = 0.0
    max: float = 0.0


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """What a live worker publishes with each heartbeat."""

    id: str
    host: str
    pid: int
    queues: tuple[str, ...]
    concurrency: int
    running: tuple[str, ...] = ()  # job ids
    processed: int = 0
    failed: int = 0
    started_at: float = 0.0
    last_heartbeat: float = 0.0
    pod: str | None = None  # Kubernetes pod name when known ($POD_NAME or hostname)

    @property
    def busy(self) -> bool:
        return bool(self.running)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["queues"] = list(self.queues)
        d["running"] = list(self.running)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WorkerInfo:
        return cls(
            id=str(d["id"]), host=str(d.get("host", "")), pid=int(d.get("pid", 0)),
            queues=tuple(d.get("queues", ())), concurrency=int(d.get("concurrency", 0)),
            running=tuple(d.get("running", ())), processed=int(d.get("processed", 0)),
            failed=int(d.get("failed", 0)), started_at=float(d.get("started_at", 0.0)),
            last_heartbeat=float(d.get("last_heartbeat", 0.0)), pod=d.get("pod"),
        )


@dataclass(frozen=True, slots=True)
class QueueStats:
    """One queue at one instant."""

    name: str
    pending: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PRIORITY_NAMES, 0))
    scheduled: int = 0  # delayed + retrying, not yet due
    scheduled_due: int = 0  # delayed + retrying whose run_at has come (about to be promoted)
    running: int = 0
    dead: int = 0
    completed: int = 0  # counters since the queue was created
    failed: int = 0
    retried: int = 0
    enqueued: int = 0
    cancelled: int = 0
    redelivered: int = 0  # expired leases reaped
    oldest_pending_age: float = 0.0  # seconds
    throughput_last_minute: int = 0  # jobs finished in the last 60 s
    durations: dict[str, DurationStats] = field(default_factory=dict)  # by job type

    @property
    def pending_total(self) -> int:
        return sum(self.pending.values())

    @property
    def backlog(self) -> int:
        """Work waiting or in flight: what an autoscaler should provision for."""
        return self.pending_total + self.scheduled_due + self.running


@dataclass(frozen=True, slots=True)
class TenantStats:
    pending: int = 0
    running: int = 0
    completed: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class Stats:
    """Everything the stats port reports, for all queues at once."""

    at: float
    queues: dict[str, QueueStats] = field(default_factory=dict)
    workers: list[WorkerInfo] = field(default_factory=list)
    tenants: dict[str, TenantStats] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "queues": {
                name: {**asdict(q), "pending_total": q.pending_total, "backlog": q.backlog}
                for name, q in self.queues.items()
            },
            "workers": [w.to_dict() for w in self.workers],
            "tenants": {name: asdict(t) for name, t in self.tenants.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Stats:
        queues = {}
        for name, raw in d.get("queues", {}).items():
            q = {k: v for k, v in raw.items() if k not in ("pending_total", "backlog")}
            q["durations"] = {t: DurationStats(**v) for t, v in q.get("durations", {}).items()}
            queues[name] = QueueStats(**q)
        return cls(
            at=float(d["at"]),
            queues=queues,
            workers=[WorkerInfo.from_dict(w) for w in d.get("workers", [])],
            tenants={n: TenantStats(**t) for n, t in d.get("tenants", {}).items()},
        )
