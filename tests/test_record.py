"""The Redis job record (swell.store.record): a claim reply's shortcut decodes like the full record."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from swell.errors import CorruptJob
from swell.job import Job, Priority, Status, new_job
from swell.retry import Backoff, RetryPolicy
from swell.store.base import Outcome, OutcomeKind, completed_outcome
from swell.store.record import decode_claimed, decode_record, encode_record, fmt_time

NOW = 1_700_000_000.123456


def claimed_state(token: str, worker: str, started: float, lease_until: float) -> bytes:
    """The state claiming.lua writes for a fresh job (general form: key order does not matter)."""
    return orjson.dumps({"st": "r", "a": 1, "tk": token, "w": worker, "sa": fmt_time(started),
                         "lu": fmt_time(lease_until), "q": "35184372088833", "n": 1})


@pytest.mark.parametrize("job", [
    new_job("send", {"to": "a@example.com", "n": [1, 2.5, None]}, now=NOW),
    new_job("plain", None, now=NOW),
    new_job('odd\ntype "q"', ["x"], now=NOW),
    new_job("with-extra", {"i": 1}, now=NOW, max_retries=7, timeout=2.5, metadata={"m": 1},
            retry_policy=RetryPolicy(backoff=Backoff.LINEAR, initial=2.0)),
])
def test_a_fresh_claim_decodes_like_the_full_record(job: Job) -> None:
    tail = encode_record(job)
    assert tail.startswith(b"\n")  # a fresh record: empty state line
    started, lease_until = NOW + 1.5, NOW + 31.5
    short = decode_claimed(job.id, job.queue, tail, token="tok.1", worker_id='w "1"', started_at=started,
                           lease_until=lease_until)
    full = decode_record(job.id, job.queue, claimed_state("tok.1", 'w "1"', started, lease_until) + tail)
    assert short == full
    assert dataclasses.asdict(short) == dataclasses.asdict(full)
    assert short.status is Status.RUNNING and short.attempts == 1 and short.priority is Priority.NORMAL
    assert short.token == "tok.1" and short.started_at == started and short.lease_until == lease_until


def test_a_claimed_record_with_a_state_takes_the_general_decoder() -> None:
    job = new_job("t", {"i": 1}, now=NOW, priority="high", tenant="acme")
    raw = encode_record(dataclasses.replace(job, status=Status.RUNNING, attempts=2, token="tok.2",
                                            worker_id="w", started_at=NOW, lease_until=NOW + 30))
    decoded = decode_claimed(job.id, job.queue, raw, token="ignored", worker_id="ignored", started_at=0.0,
                             lease_until=0.0)
    assert decoded.token == "tok.2" and decoded.tenant == "acme" and decoded.priority is Priority.HIGH
    assert decoded.attempts == 2 and decoded.worker_id == "w"


@pytest.mark.parametrize("raw", [b"\n1700000000.1\nnoop", b"\nnot-a-time\nnoop\n{}", b"\n1.0\nnoop\n{bad",
                                 b"\n1.0\nnoop\n{}\n{}\nsixth"])
def test_a_corrupt_fresh_claim_is_reported(raw: bytes) -> None:
    with pytest.raises(CorruptJob):
        decode_claimed("id", "q", raw, token="t", worker_id="w", started_at=0.0, lease_until=0.0)


def test_completed_outcome_is_the_outcome_the_dataclass_would_build() -> None:
    job = new_job("t", {"i": 1}, now=NOW)
    built = completed_outcome(job, {"r": 1}, 0.25)
    expected = Outcome(job, OutcomeKind.COMPLETE, result={"r": 1}, duration=0.25)
    assert built == expected
    assert [getattr(built, f.name) for f in dataclasses.fields(Outcome)] == [
        getattr(expected, f.name) for f in dataclasses.fields(Outcome)]
