"""Cron parsing, fire times across DST, interval triggers and the missed-tick policy (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swell.schedule import (
    CronTrigger,
    IntervalTrigger,
    InvalidSchedule,
    due_occurrences,
    make_trigger,
    next_fire,
    occurrences_between,
    parse_cron,
    prev_fire,
    validate_schedule,
)
from swell.store.base import Schedule


def ts(*args: int, tz: str = "UTC") -> float:
    return datetime(*args, tzinfo=ZoneInfo(tz)).timestamp()  # type: ignore[misc]


def utc(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")


def fires(expr: str, start: float, end: float, tz: str = "UTC") -> list[str]:
    return [utc(t) for t in occurrences_between(make_trigger(expr, timezone=tz), start, end)]


# -- parsing ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("expr", "message"), [
    ("61 * * * *", "invalid cron expression '61 * * * *': minute 61 out of range 0-59"),
    ("0 24 * * *", "hour 24 out of range 0-23"),
    ("0 0 0 * *", "day-of-month 0 out of range 1-31"),
    ("0 0 * 13 *", "month 13 out of range 1-12"),
    ("0 0 * * 8", "day-of-week 8 out of range 0-7"),
    ("* * * *", "expected 5 fields"),
    ("*/0 * * * *", "minute step '0' must be a positive integer"),
    ("10-5 * * * *", "minute range 10-5 is backwards"),
    ("0 0 * FOO *", "month value 'FOO' is not a number or a name"),
    ("0 0 L * *", "day-of-month value 'L' is not a number"),
    ("1,,2 * * * *", "minute has an empty list item"),
    ("0 0 30 2 *", "never fire"),
    ("@reboot", "unknown alias '@reboot'"),
])
def test_invalid_expressions_name_the_field(expr: str, message: str) -> None:
    with pytest.raises(InvalidSchedule, match=message.replace("*", r"\*")):
        parse_cron(expr)


def test_invalid_timezone_interval_and_policy() -> None:
    with pytest.raises(InvalidSchedule, match="unknown time zone 'Mars/Olympus'"):
        make_trigger("* * * * *", timezone="Mars/Olympus")
    with pytest.raises(InvalidSchedule, match="positive number of seconds"):
        make_trigger(interval=0)
    with pytest.raises(InvalidSchedule, match="exactly one of"):
        make_trigger("* * * * *", interval=5)
    with pytest.raises(InvalidSchedule, match="unknown missed policy 'later'"):
        validate_schedule(Schedule(name="x", type="t", cron="* * * * *", missed="later"))


def test_fields_lists_ranges_steps_and_names() -> None:
    cron = parse_cron("0,30 9-17/4 * JAN-mar,DEC mon-FRI")
    assert cron.minutes_of_day == (540, 570, 780, 810, 1020, 1050)
    assert cron.months == {1, 2, 3, 12}
    assert cron.weekdays == {1, 2, 3, 4, 5}
    assert parse_cron("5/20 * * * *").minutes_of_day[:3] == (5, 25, 45)
    assert parse_cron("0 0 * * 7").weekdays == {0}  # 7 is Sunday too
    daily = parse_cron("@daily")
    assert (daily.minutes_of_day, daily.expression) == ((0,), "@daily")


@pytest.mark.parametrize(("alias", "first"), [
    ("@hourly", "2024-01-10 13:00"),
    ("@daily", "2024-01-11 00:00"),
    ("@midnight", "2024-01-11 00:00"),
    ("@weekly", "2024-01-14 00:00"),  # Sunday
    ("@monthly", "2024-02-01 00:00"),
    ("@yearly", "2025-01-01 00:00"),
    ("@annually", "2025-01-01 00:00"),
])
def test_aliases(alias: str, first: str) -> None:
    assert utc(next_fire(make_trigger(alias), ts(2024, 1, 10, 12, 30))) == first


def test_vixie_day_rule_either_day_field_matches_when_both_restricted() -> None:
    # 13th of the month OR a Friday.
    got = fires("0 0 13 * FRI", ts(2024, 9, 1), ts(2024, 9, 30))
    assert got == ["2024-09-06 00:00", "2024-09-13 00:00", "2024-09-20 00:00", "2024-09-27 00:00"]
    got = fires("0 0 13 * MON", ts(2024, 9, 1), ts(2024, 9, 20))
    assert got == ["2024-09-02 00:00", "2024-09-09 00:00", "2024-09-13 00:00", "2024-09-16 00:00"]
    # A star in either field: both must hold (here: every Monday).
    assert fires("0 0 * * MON", ts(2024, 9, 1), ts(2024, 9, 10)) == ["2024-09-02 00:00", "2024-09-09 00:00"]


def test_leap_day_and_month_ends() -> None:
    assert utc(next_fire(make_trigger("0 12 29 2 *"), ts(2024, 3, 1))) == "2028-02-29 12:00"
    assert fires("0 0 31 * *", ts(2024, 1, 1), ts(2024, 6, 1)) == [
        "2024-01-31 00:00", "2024-03-31 00:00", "2024-05-31 00:00"]


def test_next_fire_is_strictly_after_even_on_an_occurrence() -> None:
    trigger = make_trigger("*/5 * * * *")
    t = ts(2024, 5, 5, 10, 5)
    assert next_fire(trigger, t) == t + 300
    assert next_fire(trigger, t - 0.001) == t
    assert prev_fire(trigger, t) == t
    assert prev_fire(trigger, t - 0.001) == t - 300


# -- time zones ---------------------------------------------------------------------------------

def test_timezone_offsets_are_applied() -> None:
    assert fires("0 9 * * *", ts(2024, 1, 1), ts(2024, 1, 2, 23), tz="Europe/Paris") == [
        "2024-01-01 08:00", "2024-01-02 08:00"]
    assert fires("0 9 * * *", ts(2024, 7, 1), ts(2024, 7, 1, 23), tz="Europe/Paris") == ["2024-07-01 07:00"]
    assert fires("30 9 * * *", ts(2024, 1, 1), ts(2024, 1, 1, 23), tz="Asia/Kolkata") == ["2024-01-01 04:00"]


def test_nonexistent_local_time_is_skipped() -> None:
    # New York springs forward on 2024-03-10: 02:00 -> 03:00, so 02:30 does not exist that day.
    got = fires("30 2 * * *", ts(2024, 3, 9), ts(2024, 3, 12), tz="America/New_York")
    assert got == ["2024-03-09 07:30", "2024-03-11 06:30"]


def test_ambiguous_local_time_fires_once() -> None:
    # New York falls back on 2024-11-03: 01:00-01:59 happens twice; 01:30 runs on the first pass.
    got = fires("30 1 * * *", ts(2024, 11, 2), ts(2024, 11, 5), tz="America/New_York")
    assert got == ["2024-11-02 05:30", "2024-11-03 05:30", "2024-11-04 06:30"]


def test_hour_wildcard_keeps_firing_through_the_repeated_hour() -> None:
    got = fires("30 * * * *", ts(2024, 11, 3, 4), ts(2024, 11, 3, 8), tz="America/New_York")
    # 00:30 EDT, 01:30 EDT, 01:30 EST (the repeated hour, by real time), 02:30 EST
    assert got == ["2024-11-03 04:30", "2024-11-03 05:30", "2024-11-03 06:30", "2024-11-03 07:30"]


# -- intervals ------------------------------------------------------------------------------------

def test_interval_occurrences_are_epoch_aligned() -> None:
    trigger = make_trigger(interval=90)
    assert isinstance(trigger, IntervalTrigger)
    assert next_fire(trigger, 1000.0) == 1080.0
    assert next_fire(trigger, 1080.0) == 1170.0
    assert prev_fire(trigger, 1100.0) == 1080.0
    assert list(occurrences_between(trigger, 1000.0, 1300.0)) == [1080.0, 1170.0, 1260.0]


# -- missed-tick policy ------------------------------------------------------------------------------

def test_due_on_time_and_not_twice() -> None:
    trigger = make_trigger("0 * * * *")
    at = ts(2024, 1, 1, 10)
    assert due_occurrences(trigger, None, at + 0.2) == [at]
    assert due_occurrences(trigger, at, at + 0.4) == []  # already handled
    assert due_occurrences(trigger, at, at + 3600) == [at + 3600]


def test_skip_drops_late_occurrences_beyond_grace() -> None:
    trigger = make_trigger("0 * * * *")
    at = ts(2024, 1, 1, 10)
    # Scheduler down from 09:59 until 13:20: nothing runs now; next run 14:00.
    assert due_occurrences(trigger, at - 3600, at + 3 * 3600 + 1200, "skip", grace=60) == []
    # Late by less than the grace: the latest runs (once).
    assert due_occurrences(trigger, at - 3600, at + 3 * 3600 + 30, "skip", grace=60) == [at + 3 * 3600]


def test_run_once_runs_one_catch_up_for_everything_missed() -> None:
    trigger = make_trigger("0 * * * *")
    at = ts(2024, 1, 1, 10)
    assert due_occurrences(trigger, at - 3600, at + 3 * 3600 + 1200, "run_once") == [at + 3 * 3600]
    assert due_occurrences(trigger, at + 3 * 3600, at + 3 * 3600 + 1300, "run_once") == []


# -- properties ---------------------------------------------------------------------------------------

ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata"]
minute_items = st.one_of(
    st.just("*"), st.integers(0, 59).map(str),
    st.tuples(st.integers(0, 59), st.integers(0, 59), st.integers(1, 30)).map(
        lambda t: f"{min(t[:2])}-{max(t[:2])}/{t[2]}"),
    st.integers(1, 40).map(lambda s: f"*/{s}"),
)
hour_items = st.one_of(
    st.just("*"), st.integers(0, 23).map(str), st.integers(1, 12).map(lambda s: f"*/{s}"),
    st.tuples(st.integers(0, 23), st.integers(0, 23)).map(lambda t: f"{min(t)}-{max(t)}"),
)
dow_items = st.one_of(st.just("*"), st.sampled_from(["MON-FRI", "SUN", "1,3,5", "SAT,SUN", "*/2"]))
dom_items = st.one_of(st.just("*"), st.just("*"), st.sampled_from(["1-15", "*/3", "10,20,28"]))
expressions = st.tuples(
    st.lists(minute_items, min_size=1, max_size=3).map(",".join),
    st.lists(hour_items, min_size=1, max_size=2).map(",".join),
    dom_items, dow_items,
).map(lambda f: f"{f[0]} {f[1]} {f[2]} * {f[3]}")
instants = st.floats(ts(2020, 1, 1), ts(2030, 12, 31))


def _fires_at(trigger: CronTrigger, t: float) -> bool:
    """Reference: does the instant t (a whole minute) fire, judged minute by minute?"""
    local = datetime.fromtimestamp(t, trigger.tz)
    if local.fold == 1 and not trigger.cron.hour_star:
        return False  # second pass of a repeated local time
    return trigger.cron.matches(local.replace(tzinfo=None))


@settings(max_examples=150, deadline=None)
@given(expr=expressions, zone=st.sampled_from(ZONES), after=instants)
def test_next_fire_is_after_matches_and_skips_nothing(expr: str, zone: str, after: float) -> None:
    trigger = make_trigger(expr, timezone=zone)
    assert isinstance(trigger, CronTrigger)
    t = next_fire(trigger, after)
    assert t > after
    assert _fires_at(trigger, t), f"{utc(t)} does not match {expr!r} in {zone}"
    # No firing minute between after and t (checked minute by minute over at most 4 days).
    m = (after // 60 + 1) * 60
    end = min(t, after + 4 * 86400)
    while m < end:
        assert not _fires_at(trigger, m), f"{expr!r} in {zone}: skipped {utc(m)} before {utc(t)}"
        m += 60
    # prev_fire is consistent with next_fire.
    assert prev_fire(trigger, t) == t
    p = prev_fire(trigger, after)
    assert p is not None and p <= after and next_fire(trigger, p) == t


@settings(max_examples=100, deadline=None)
@given(seconds=st.floats(0.5, 86400 * 3), after=instants)
def test_interval_next_fire_properties(seconds: float, after: float) -> None:
    trigger = make_trigger(interval=seconds)
    t = next_fire(trigger, after)
    assert after < t <= after + seconds * 1.000001
    p = prev_fire(trigger, after)
    assert p is not None and p <= after < next_fire(trigger, p)


def test_functions_accept_a_stored_schedule() -> None:
    schedule = Schedule(name="paris", type="t", cron="0 9 * * *", timezone="Europe/Paris", missed="run_once")
    t = next_fire(schedule, ts(2025, 1, 6))
    assert utc(t) == "2025-01-06 08:00"
    assert prev_fire(schedule, t + 5) == t
    assert due_occurrences(schedule, None, t + 7200, schedule.missed) == [t]


def _transitions(zone: str, years: range) -> list[float]:
    """Instants where the zone's UTC offset changes (hourly scan, then bisection)."""
    tz = ZoneInfo(zone)
    found = []
    t, end = ts(years.start, 1, 1), ts(years.stop, 1, 1)
    prev = datetime.fromtimestamp(t, tz).utcoffset()
    while t < end:
        nxt = t + 3600
        off = datetime.fromtimestamp(nxt, tz).utcoffset()
        if off != prev:
            lo, hi = t, nxt
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if datetime.fromtimestamp(mid, tz).utcoffset() == prev:
                    lo = mid
                else:
                    hi = mid
            found.append(float(hi))
        prev, t = off, nxt
    return found


NEAR_DST = [(zone, t) for zone in ZONES[1:4] for t in _transitions(zone, range(2023, 2025))]
near_hours = st.one_of(st.just("*"), st.sampled_from(["0-3", "1", "2", "3", "*/2", "1,2,3"]))
dst_expressions = st.tuples(
    st.lists(minute_items, min_size=1, max_size=3).map(",".join), near_hours,
).map(lambda f: f"{f[0]} {f[1]} * * *")


@settings(max_examples=200, deadline=None)
@given(expr=dst_expressions, where=st.sampled_from(NEAR_DST), shift=st.floats(-6 * 3600, 6 * 3600))
def test_fire_times_around_dst_transitions(expr: str, where: tuple[str, float], shift: float) -> None:
    zone, transition = where
    trigger = make_trigger(expr, timezone=zone)
    assert isinstance(trigger, CronTrigger)
    after = transition + shift
    t = next_fire(trigger, after)
    assert t > after and _fires_at(trigger, t)
    m = (after // 60 + 1) * 60
    while m < min(t, after + 2 * 86400):
        assert not _fires_at(trigger, m), f"{expr!r} in {zone}: skipped {utc(m)} before {utc(t)}"
        m += 60
    p = prev_fire(trigger, after)
    assert p is not None and p <= after and next_fire(trigger, p) == t
    assert _fires_at(trigger, p)
