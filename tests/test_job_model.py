"""The pure job model: construction, validation, transitions, encoding, retry delays."""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
import string

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from swell.errors import CorruptJob, InvalidJob, InvalidTransition, PayloadTooLarge
from swell.job import (
    Job,
    Priority,
    Status,
    _new_job_value,
    _size_bound,
    claimed_job_value,
    decode,
    encode,
    is_ready,
    new_id,
    new_job,
    priority_score,
    transition,
)
from swell.retry import Backoff, RetryPolicy, retry_delay, should_retry

NOW = 1_700_000_000.0


def test_new_job_defaults_and_round_trip() -> None:
    job = new_job("send_email", {"to": "a@example.com"}, now=NOW, tenant="acme")
    assert job.status is Status.PENDING
    assert job.priority is Priority.NORMAL
    assert job.max_retries == 3
    assert len(job.id) == 16
    assert decode(encode(job)) == job


def test_delay_makes_a_scheduled_job() -> None:
    job = new_job("t", now=NOW, delay=5)
    assert job.status is Status.SCHEDULED
    assert job.run_at == NOW + 5
    assert not is_ready(job, NOW + 4.99)
    assert is_ready(job, NOW + 5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"delay": -1}, "delay must be >= 0 seconds, got -1"),
        ({"priority": "urgent"}, "unknown priority 'urgent': use one of critical, high, normal, low"),
        ({"args": {"when": object()}}, "are not JSON-serialisable"),
        ({"queue": "bad{queue}"}, "invalid queue name"),
        ({"max_retries": -2}, "max_retries must be >= 0"),
        ({"timeout": 0}, "timeout must be > 0 seconds"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidJob, match=message.replace("(", r"\(").replace("{", r"\{")):
        new_job("t", now=NOW, **kwargs)  # type: ignore[arg-type]


def test_payload_limit() -> None:
    with pytest.raises(PayloadTooLarge, match="over the 100-byte payload limit"):
        new_job("t", {"blob": "x" * 200}, now=NOW, payload_limit=100)


@given(size=st.integers(0, 400), text=st.sampled_from(["x", "\u00e9", "\x01", '"']),
       tenant=st.sampled_from([None, "", "acme\n", 7]), limit=st.integers(1, 700),
       metadata=st.sampled_from([None, {"m": "y" * 50}]), delay=st.sampled_from([None, 5.0]))
def test_payload_limit_is_exact_at_the_edge(*, size: int, text: str, tenant: object, limit: int,
                                            metadata: dict[str, str] | None, delay: float | None) -> None:
    """new_job skips encoding when a bound proves the job fits: the verdict and the message are
    those of the exact encoded size."""
    options: dict[str, object] = {"tenant": tenant, "metadata": metadata, "delay": delay, "job_id": "i" * 16}
    unlimited = new_job("t", {"blob": text * size}, now=NOW, **options)  # type: ignore[arg-type]
    exact = len(encode(unlimited))
    assert _size_bound(unlimited, len(orjson.dumps(unlimited.args))) >= exact
    if exact > limit:
        with pytest.raises(PayloadTooLarge, match=f"is {exact} bytes encoded, over the {limit}-byte"):
            new_job("t", {"blob": text * size}, now=NOW, payload_limit=limit, **options)  # type: ignore[arg-type]
    else:
        new_job("t", {"blob": text * size}, now=NOW, payload_limit=limit, **options)  # type: ignore[arg-type]


def test_new_job_builds_the_job_the_dataclass_would() -> None:
    """new_job fills the Job slots directly (_new_job_value): the same value as Job(...), every
    field it does not set at its dataclass default, and no field forgotten."""
    values = {"id": "i", "type": "t", "args": [1], "queue": "q", "priority": Priority.LOW,
              "status": Status.SCHEDULED, "max_retries": 7, "retry_policy": RetryPolicy(initial=3.0),
              "run_at": NOW + 1, "created_at": NOW, "metadata": {"m": 1}, "tenant": "acme",
              "timeout": 2.5, "unique_key": "u"}
    built = _new_job_value(*values.values())
    assert built == Job(**values)  # type: ignore[arg-type]
    for f in dataclasses.fields(Job):
        expected = values.get(f.name, f.default)
        assert getattr(built, f.name) == expected, f.name
    made = new_job("t", {"a": 1}, now=NOW, queue="q", priority="high", delay=5, max_retries=1,
                   metadata={"k": "v"}, tenant="acme", timeout=3, unique_key="u", job_id="x")
    assert made == Job(id="x", type="t", args={"a": 1}, queue="q", priority=Priority.HIGH,
                       status=Status.SCHEDULED, max_retries=1, run_at=NOW + 5, created_at=NOW,
                       metadata={"k": "v"}, tenant="acme", timeout=3, unique_key="u")


def test_claimed_job_value_is_the_job_the_dataclass_would_build() -> None:
    values = {"id": "i", "type": "t", "args": {"a": [1]}, "queue": "q", "created_at": NOW,
              "started_at": NOW + 1, "token": "tok", "worker_id": "w", "lease_until": NOW + 31}
    built = claimed_job_value(values["id"], values["type"], values["args"], values["queue"], NOW,
                              started_at=NOW + 1, token="tok", worker_id="w", lease_until=NOW + 31)
    expected = Job(**values, status=Status.RUNNING, attempts=1)  # type: ignore[arg-type]
    assert built == expected
    for f in dataclasses.fields(Job):
        assert getattr(built, f.name) == getattr(expected, f.name), f.name

def test_new_ids_are_random_url_safe_and_not_shared_with_a_forked_child() -> None:
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == 2000
    assert all(len(i) == 16 and re.fullmatch(r"[A-Za-z0-9_-]{16}", i) for i in ids)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its ids must not be the ones the parent has still to hand out
        os.write(write, "".join(new_id() for _ in range(10)).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 1000).decode()
    os.close(read)
    os.close(write)
    parent = "".join(new_id() for _ in range(10))
    assert len(child) == 160 and child != parent


def test_priority_parse_accepts_names_and_numbers() -> None:
    assert Priority.parse("Critical") is Priority.CRITICAL
    assert Priority.parse(3) is Priority.LOW
    with pytest.raises(InvalidJob):
        Priority.parse(7)


def test_transitions() -> None:
    job = new_job("t", now=NOW)
    running = transition(job, Status.RUNNING, attempts=1)
    assert running.status is Status.RUNNING and running.attempts == 1
    done = transition(running, Status.COMPLETED, result=42)
    with pytest.raises(InvalidTransition, match="cannot go from completed to running"):
        transition(done, Status.RUNNING)
    with pytest.raises(InvalidTransition):
        transition(job, Status.COMPLETED)  # pending jobs must run first


@pytest.mark.parametrize(
    "raw", [b"not json", b"[1,2]", b'{"id": "x"}', b'{"id":"x","type":"t","priority":9}']
)
def test_corrupt_records_raise_corrupt_job(raw: bytes) -> None:
    with pytest.raises(CorruptJob):
        decode(raw)


def test_priority_score_orders_priority_then_fifo() -> None:
    assert priority_score(Priority.CRITICAL, 10**9) < priority_score(Priority.HIGH, 0)
    assert priority_score(Priority.LOW, 1) < priority_score(Priority.LOW, 2)


def test_default_retry_delays_exponential_capped_jittered() -> None:
    p = RetryPolicy()
    assert [retry_delay(p, n) for n in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert retry_delay(p, 3, rand=0.0) == pytest.approx(8 * 0.9)
    assert retry_delay(p, 3, rand=1.0) == pytest.approx(8 * 1.1)
    assert retry_delay(p, 10_000) == 60


def test_linear_and_constant() -> None:
    lin = RetryPolicy(Backoff.LINEAR, initial=2, jitter=0, cap=7)
    assert [retry_delay(lin, n) for n in range(5)] == [2, 4, 6, 7, 7]
    const = RetryPolicy(Backoff.CONSTANT, initial=3, jitter=0)
    assert {retry_delay(const, n) for n in range(5)} == {3}


def test_should_retry_counts_reruns() -> None:
    assert [should_retry(a, 3) for a in range(1, 6)] == [True, True, True, False, False]


@given(
    n=st.integers(min_value=0, max_value=10**6),
    rand=st.floats(min_value=0, max_value=1),
    initial=st.floats(min_value=0, max_value=100),
    jitter=st.floats(min_value=0, max_value=1),
)
def test_retry_delay_bounded_by_cap_and_jitter(n: int, rand: float, initial: float, jitter: float) -> None:
    p = RetryPolicy(initial=initial, jitter=jitter, cap=60)
    assert 0 <= retry_delay(p, n, rand) <= 60 * (1 + jitter) + 1e-9


def test_job_from_dict_keeps_unknown_priorities_out() -> None:
    with pytest.raises(CorruptJob):
        Job.from_dict({"id": "x", "type": "t", "status": "exploded"})


def test_new_ids_are_unique_url_safe_and_share_a_bucket_in_blocks() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 16 and set(i) <= set(string.ascii_letters + string.digits + "-_") for i in ids)
    # the last two characters (the Redis store's bucket) change every 64 ids, not every id
    runs = sum(1 for a, b in itertools.pairwise(ids) if a[-2:] != b[-2:])
    assert 20_000 // 64 - 1 <= runs <= 20_000 // 64 + 1
    # ...while the first 14 are random: no position is stuck
    assert all(len({i[k] for i in ids[:2000]}) > 40 for k in range(14))
