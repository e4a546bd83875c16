"""HeartbeatWatch: which registered workers are dead, judged by the sweeper that watches them.

A worker publishes its heartbeat record every ``heartbeat_interval`` (about 1 s); each beat
changes the record. A sweeper (``reap_expired``) reads every record at each sweep and declares
a worker dead when it has *itself* watched that worker's record stand still for
``Settings.worker_dead_after`` seconds of its own clock. Judging by what the sweeper saw rather
than by the timestamp in the record keeps the rule sound when clocks of hosts disagree, and the
"blind" rule keeps it sound across outages: when the sweeper could not look for longer than
``dead_after`` (Redis down, process paused, clock stepped back), it starts watching afresh
instead of declaring every worker dead at once.

Workers without a record (never registered, or unregistered on a graceful exit) are never
declared dead here: their jobs come back when their leases expire.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping


class HeartbeatWatch:
    """Per-sweeper memory of heartbeat records: ``dead(beats, now)`` returns the dead ids."""

    __slots__ = ("_last_look", "_seen", "dead_after")

    def __init__(self, dead_after: float) -> None:
        self.dead_after = dead_after
        self._seen: dict[str, tuple[Hashable, float]] = {}  # worker id -> (record, seen unchanged since)
        self._last_look: float | None = None

    def dead(self, beats: Mapping[str, Hashable], now: float) -> set[str]:
        """Ids in ``beats`` (worker id -> its current heartbeat record) whose record has not
        changed for ``dead_after`` seconds of continuous watching, ``now`` on the sweeper's clock."""
        if self.dead_after <= 0:
            return set()
        last = self._last_look
        blind = last is None or now < last or now - last > self.dead_after
        self._last_look = now
        seen: dict[str, tuple[Hashable, float]] = {}
        out: set[str] = set()
        for worker_id, beat in beats.items():
            old = self._seen.get(worker_id)
            if blind or old is None or old[0] != beat:
                seen[worker_id] = (beat, now)
            else:
                seen[worker_id] = old
                if now - old[1] >= self.dead_after:
                    out.add(worker_id)
        self._seen = seen
        return out

    def forget(self) -> None:
        """Start watching afresh at the next look (after an error reading the records)."""
        self._last_look = None
