"""Tunables shared by stores and workers, with the defaults users of Sidekiq/BullMQ expect."""

from __future__ import annotations

from dataclasses import dataclass

from swell.job import DEFAULT_PAYLOAD_LIMIT


@dataclass(frozen=True, slots=True)
class Settings:
    """Delivery and retention settings.

    lease:            seconds a claim is valid without renewal (renewed by the worker heartbeat).
    max_redeliveries: a job whose lease expired more than this many times is dead-lettered as poison.
    reap_interval:    how often a worker sweeps expired leases and dead workers' jobs (one
                      sweeper per queue at a time, by lock).
    completed_ttl / completed_max: retention of completed jobs per queue (age in s, count;
                   RedisStore trims once a set is over the count by 1 %, at most 100).
    dead_ttl / dead_max:           retention of dead-lettered jobs per queue.
    payload_limit:    maximum encoded job size in bytes.
    worker_ttl:       a worker that has not sent a heartbeat for this long is gone (not listed;
                      its record may be deleted).
    worker_dead_after: a registered worker whose heartbeat a sweeper has watched stand still this
                      long is dead: its running jobs go back to pending (a redelivery, as for an
                      expired lease) without waiting for their leases. 0 turns this off (leases
                      only). Keep it above reap_interval and heartbeat_interval; workers that never
                      registered (plain Store users) and unregistered ones wait for their leases.
    """

    lease: float = 30.0
    max_redeliveries: int = 3
    reap_interval: float = 1.0
    completed_ttl: float = 24 * 3600.0
    completed_max: int = 10_000
    dead_ttl: float = 30 * 24 * 3600.0
    dead_max: int = 10_000
    payload_limit: int = DEFAULT_PAYLOAD_LIMIT
    worker_ttl: float = 60.0
    worker_dead_after: float = 5.0
    key_prefix: str = "swell"


DEFAULT_SETTINGS = Settings()
