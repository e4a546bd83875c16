"""Every Redis key name of swell, hash-tagged per queue so one queue lives in one Cluster slot.

Layout (``P`` = ``Settings.key_prefix``, which must not contain braces; ``q`` = queue name)::

    P:{q}:p   ZSET  pending, scored priority_score(priority, seq): claim = ZPOPMIN, O(log n)
    P:{q}:s   ZSET  scheduled (delayed) and retrying jobs, scored by run_at
    P:{q}:r   ZSET  running jobs, scored by lease_until (the reaper reads expired ones)
    P:{q}:j   HASH  job id -> job record (see swell.store.record), except fresh ones:
    P:{q}:f:XY HASH fresh records (pending, never claimed, <= 60 bytes) of the ids ending in XY:
                    4096 small hashes Redis keeps listpack-encoded, about 55 bytes a job
    P:{q}:c   ZSET  completed, scored by finish order ("fseq"; the time is in the record), trimmed
                    by completed_ttl / completed_max
    P:{q}:x   ZSET  cancelled, the same way (same retention as completed)
    P:{q}:d   ZSET  dead-lettered (status failed), the same way (dead_ttl / dead_max)
    P:{q}:m   HASH  stats: counters, "seq" (FIFO sequence), "fseq", durations per type
                    (dn/ds/dl/dh:<type>), tenant gauges (tp/tr/tc/tf:<tenant>)
    P:{q}:t   HASH  throughput: finish second -> jobs finished in that second (pruned)
    P:{q}:u   HASH  unique key -> id of the non-terminal job holding it
    P:{q}:k   SET   ids of running jobs whose cancellation was requested
    P:{q}:b   HASH  id -> why its record is corrupt (the raw record is kept as evidence)
    P:{q}:l   STR   reaper lock (SET NX PX): one sweeper per queue at a time
    P:{q}:a   ZSET  ready-since of the few pending jobs whose place does not tell it (promoted
                    or requeued ones), for the oldest-pending-age stat

Pub/sub channel (not a key): the scripts that make a job ready to claim (enqueue into an empty
queue, promotion, release, reap, replay) PUBLISH once per call on ``P:{q}:wake``; idle workers
listen there (``RedisStore.wait_for_work``). An ACL user needs ``&P:*`` for it (without it,
workers fall back to polling; the scripts ignore the refused PUBLISH).

Global keys (outside any queue's slot; only ever touched by single-key commands)::

    P:queues      SET   every queue that ever held a job (find-by-id asks each queue's :j)
    P:workers     HASH  worker id -> "<expires_at>|<WorkerInfo JSON>"
    P:schedules   HASH  schedule name -> Schedule JSON
    P:o:<key>     STR   cron occurrence claims: expiry by the store's clock, PX for cleanup

No Lua script touches keys of two slots: every script gets the base of one queue's keys
(``P:{q}:``, which routes it in Cluster) and touches only keys under it.
"""

from __future__ import annotations

from dataclasses import dataclass

QUEUE_KEY_NAMES = ("p", "s", "r", "j", "c", "x", "d", "m", "t", "u", "k", "b", "l", "a", "f:")
# (lua/lib.lua names the same keys from the base: keep the two in step.)


def base(prefix: str, queue: str) -> str:
    """What every key of a queue starts with; the one key the Lua scripts are given."""
    return f"{prefix}:{{{queue}}}:"


def wake_channel(prefix: str, queue: str) -> str:
    """The pub/sub channel the scripts publish on when a job of ``queue`` became ready."""
    return base(prefix, queue) + "wake"


def check_prefix(prefix: str) -> str:
    """Reject prefixes that would break the per-queue hash tag."""
    if not prefix or any(c in prefix for c in "{} \n"):
        raise ValueError(f"invalid key prefix {prefix!r}: must be non-empty, without braces or spaces")
    return prefix


@dataclass(frozen=True, slots=True)
class QueueKeys:
    """The keys of one queue, all sharing the hash tag ``{queue}``."""

    pending: str
    scheduled: str
    running: str
    jobs: str
    completed: str
    cancelled: str
    dead: str
    stats: str
    throughput: str
    unique: str
    cancel_requests: str
    corrupt: str
    reap_lock: str
    ready_since: str
    fresh_prefix: str

    @classmethod
    def of(cls, prefix: str, queue: str) -> QueueKeys:
        return cls(*(base(prefix, queue) + name for name in QUEUE_KEY_NAMES))

    @property
    def base(self) -> str:
        """"<prefix>:{queue}:", the key the scripts get (pending is the base + "p")."""
        return self.pending[:-1]

    def all(self) -> tuple[str, ...]:
        return (self.pending, self.scheduled, self.running, self.jobs, self.completed, self.cancelled,
                self.dead, self.stats, self.throughput, self.unique, self.cancel_requests, self.corrupt,
                self.reap_lock, self.ready_since, self.fresh_prefix)

    def fresh(self, job_id: str) -> bytes:
        """The small hash holding a fresh job's record: the last 2 bytes of the id pick it."""
        return self.fresh_prefix.encode() + job_id.encode()[-2:]


@dataclass(frozen=True, slots=True)
class GlobalKeys:
    """Keys shared by all queues."""

    prefix: str

    @property
    def queues(self) -> str:
        return f"{self.prefix}:queues"

    @property
    def workers(self) -> str:
        return f"{self.prefix}:workers"

    @property
    def schedules(self) -> str:
        return f"{self.prefix}:schedules"

    def occurrence(self, key: str) -> str:
        return f"{self.prefix}:o:{key}"
