"""Cron and interval triggers: parsing, fire times and the missed-tick policy (pure, time passed in).

Cron expressions have five fields, ``minute hour day-of-month month day-of-week``, each a list of
``*``, ``N``, ``A-B``, ``*/S``, ``A-B/S`` or ``A/S`` items; months and weekdays also take names
(``JAN``..``DEC``, ``SUN``..``SAT``; weekday 7 is Sunday too). ``@yearly``, ``@annually``,
``@monthly``, ``@weekly``, ``@daily``, ``@midnight`` and ``@hourly`` are aliases.

Day matching follows Vixie cron: when both day-of-month and day-of-week are restricted (their
field does not start with ``*``), a day matches if EITHER matches; otherwise both must match.

Time zones (zoneinfo) and daylight saving time:

* a local time that does not exist (clocks jump forward over it) is skipped;
* a local time that happens twice (clocks fall back) fires once, on its first pass; except that
  expressions with ``*`` in the hour field (``0 * * * *``, ``*/15 * * * *``) keep firing through
  the repeated hour by real time, like Vixie cron treats wildcard jobs.

Interval triggers fire at every multiple of the interval since the Unix epoch, so every scheduler
computes the same occurrence times without talking to the others.
"""

from __future__ import annotations

import bisect
import calendar
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from swell.errors import SwellError
from swell.store.base import Schedule

MISSED_POLICIES = ("skip", "run_once")
DEFAULT_GRACE = 60.0  # seconds: how late a "skip" schedule may still fire its latest occurrence

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MONTH_NAMES = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
DAY_NAMES = {"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}

Field = tuple[str, int, int, dict[str, int]]  # name, low, high, names
FIELDS: tuple[Field, ...] = (  # in expression order
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, MONTH_NAMES),
    ("day-of-week", 0, 7, DAY_NAMES),
)
MAX_SEARCH_DAYS = 366 * 9  # a valid expression fires at least once in 8 years (Feb 29 needs 8)


class InvalidSchedule(SwellError, ValueError):
    """A cron expression, interval, time zone or missed policy is not valid."""


@dataclass(frozen=True, slots=True)
class Cron:
    """A parsed 5-field cron expression (wall-clock fields, no time zone)."""

    expression: str
    minutes_of_day: tuple[int, ...]  # sorted hour*60+minute values that match
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    dom_star: bool  # the day-of-month field starts with '*'
    dow_star: bool
    hour_star: bool

    def matches_date(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.dom_star or self.dow_star:
            return dom and dow
        return dom or dow

    def matches(self, wall: datetime) -> bool:
        """Does this local wall-clock minute match (seconds ignored)?"""
        minute = wall.hour * 60 + wall.minute
        i = bisect.bisect_left(self.minutes_of_day, minute)
        found = i < len(self.minutes_of_day) and self.minutes_of_day[i] == minute
        return found and self.matches_date(wall.date())


@dataclass(frozen=True, slots=True)
class CronTrigger:
    cron: Cron
    tz: ZoneInfo


@dataclass(frozen=True, slots=True)
class IntervalTrigger:
    seconds: float


Trigger = CronTrigger | IntervalTrigger


# -- parsing ------------------------------------------------------------------------------------


def parse_cron(expression: str) -> Cron:
    """Parse a cron expression; InvalidSchedule names the bad field and value."""
    text = " ".join(expression.split())
    spec = ALIASES.get(text.lower(), text)
    if spec.startswith("@"):
        raise _bad(expression, f"unknown alias {spec!r} (use one of {', '.join(ALIASES)})")
    parts = spec.split(" ")
    if len(parts) != 5:
        raise _bad(expression, f"expected 5 fields (minute hour day-of-month month day-of-week), "
                               f"got {len(parts)}")
    values = [_parse_field(expression, part, field) for part, field in zip(parts, FIELDS, strict=True)]
    minutes, hours, days, months, weekdays = values
    weekdays = {d % 7 for d in weekdays}
    dom_star, dow_star = parts[2].startswith("*"), parts[4].startswith("*")
    # With a star day-of-week, day-of-month decides alone: some month must have such a day.
    if dow_star and not any(d <= _max_days(m) for m in months for d in days):
        raise _bad(expression, "day-of-month never occurs in the given months, it would never fire")
    return Cron(
        expression=text,
        minutes_of_day=tuple(sorted(h * 60 + m for h in hours for m in minutes)),
        days=frozenset(days),
        months=frozenset(months),
        weekdays=frozenset(weekdays),
        dom_star=dom_star,
        dow_star=dow_star,
        hour_star=parts[1].startswith("*"),
    )


def _max_days(month: int) -> int:
    return 29 if month == 2 else calendar.monthrange(2001, month)[1]


def _bad(expression: str, why: str) -> InvalidSchedule:
    return InvalidSchedule(f"invalid cron expression {expression!r}: {why}")


def _parse_field(expression: str, text: str, field: Field) -> set[int]:
    name, low, high, _ = field
    out: set[int] = set()
    for item in text.split(","):
        if not item:
            raise _bad(expression, f"{name} has an empty list item")
        body, _, step_text = item.partition("/")
        step = 1
        if step_text or item.endswith("/"):
            if not step_text.isdigit() or int(step_text) == 0:
                raise _bad(expression, f"{name} step {step_text!r} must be a positive integer")
            step = int(step_text)
        if body == "*":
            first, last = low, high
        elif "-" in body:
            a, _, b = body.partition("-")
            first, last = _value(expression, a, field), _value(expression, b, field)
            if first > last:
                raise _bad(expression, f"{name} range {body} is backwards")
        else:
            first = _value(expression, body, field)
            # "A/S" means from A to the end of the range, as in Vixie cron.
            last = high if step_text else first
        out.update(range(first, last + 1, step))
    return out


def _value(expression: str, text: str, field: Field) -> int:
    name, low, high, names = field
    if text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise _bad(expression, f"{name} value {text!r} is not a number"
                               + (f" or a name ({', '.join(names)})" if names else ""))
    value = int(text)
    if not low <= value <= high:
        raise _bad(expression, f"{name} {value} out of range {low}-{high}")
    return value


def parse_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSchedule(f"unknown time zone {name!r} (use an IANA name like 'Europe/Paris')") from None


def make_trigger(cron: str | None = None, interval: float | None = None, timezone: str = "UTC") -> Trigger:
    """Exactly one of ``cron`` and ``interval`` (seconds)."""
    if (cron is None) == (interval is None):
        raise InvalidSchedule("a schedule needs exactly one of cron=... or interval=...")
    if interval is not None:
        if isinstance(interval, bool) or not isinstance(interval, int | float) \
                or not math.isfinite(interval) or interval <= 0:
            raise InvalidSchedule(f"interval must be a positive number of seconds, got {interval!r}")
        return IntervalTrigger(float(interval))
    assert cron is not None
    return CronTrigger(parse_cron(cron), parse_timezone(timezone))


def trigger_of(schedule: Schedule) -> Trigger:
    return make_trigger(schedule.cron, schedule.interval, schedule.timezone)


def as_trigger(value: Trigger | Schedule) -> Trigger:
    return trigger_of(value) if isinstance(value, Schedule) else value


def validate_schedule(schedule: Schedule) -> Trigger:
    """Check every field of a schedule; return its trigger."""
    if not schedule.name or any(c in schedule.name for c in " \n"):
        raise InvalidSchedule(f"invalid schedule name {schedule.name!r}")
    if schedule.missed not in MISSED_POLICIES:
        raise InvalidSchedule(f"unknown missed policy {schedule.missed!r}: use one of "
                              f"{', '.join(MISSED_POLICIES)}")
    return trigger_of(schedule)


# -- fire times ---------------------------------------------------------------------------------


def next_fire(trigger: Trigger | Schedule, after: float) -> float:
    """The first occurrence strictly after ``after`` (seconds since the epoch)."""
    trigger = as_trigger(trigger)
    if isinstance(trigger, IntervalTrigger):
        # Occurrences are exactly k * step for integer k, so every caller computes the same floats.
        step = trigger.seconds
        k = math.floor(after / step)
        while k * step <= after:
            k += 1
        return k * step
    return _next_cron(trigger, after)


def prev_fire(trigger: Trigger | Schedule, before: float) -> float | None:
    """The last occurrence at or before ``before`` (None if before the epoch for intervals)."""
    trigger = as_trigger(trigger)
    if isinstance(trigger, IntervalTrigger):
        step = trigger.seconds
        k = math.floor(before / step) + 1
        while k * step > before:
            k -= 1
        return k * step if k >= 0 else None
    return _prev_cron(trigger, before)


def occurrences_between(trigger: Trigger | Schedule, start: float, end: float,
                        limit: int = 100_000) -> Iterator[float]:
    """Occurrences t with start < t <= end, in order (at most ``limit``)."""
    trigger = as_trigger(trigger)
    t = start
    for _ in range(limit):
        t = next_fire(trigger, t)
        if t > end:
            return
        yield t


def period_at(trigger: Trigger | Schedule, occurrence: float) -> float:
    """Seconds from this occurrence to the next one."""
    return next_fire(trigger, occurrence) - occurrence


def due_occurrences(trigger: Trigger | Schedule, last_run: float | None, now: float, missed: str = "skip",
                    grace: float = DEFAULT_GRACE) -> list[float]:
    """Which occurrence to run now: at most one, the latest at or before ``now``.

    ``last_run`` is the latest occurrence already handled (run or deliberately skipped), or None
    when unknown. Occurrences after it that were missed are handled by ``missed``:

    * ``"skip"``: the latest occurrence runs only if it is at most ``grace`` seconds old;
      older ones are dropped and the schedule continues from now.
    * ``"run_once"``: the latest occurrence runs however late it is, once, standing in for
      every occurrence missed since ``last_run``.

    The caller records the latest occurrence as handled either way.
    """
    if missed not in MISSED_POLICIES:
        raise InvalidSchedule(f"unknown missed policy {missed!r}: use one of {', '.join(MISSED_POLICIES)}")
    latest = prev_fire(trigger, now)
    if latest is None or (last_run is not None and latest <= last_run):
        return []
    if missed == "skip" and now - latest > grace:
        return []
    return [latest]


# -- cron search ----------------------------------------------------------------------------------
#
# We walk local wall-clock minutes that match the expression and map each to real instants. Mapping
# first-pass (fold=0) wall times to instants is monotonic, so the first candidate in wall order wins,
# except around a fall-back where a second-pass (fold=1) instant of an earlier wall time can come
# later; there we look back (or ahead) by the size of the fold and keep scanning until a regular
# (unambiguous) wall time bounds the answer.


def _wall(ts: float, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ts, tz).replace(tzinfo=None)


def _fold_size(wall: datetime, tz: ZoneInfo) -> timedelta:
    """How long the wall time's fold lasts (zero unless the time is ambiguous or skipped)."""
    off0 = wall.replace(tzinfo=tz, fold=0).utcoffset()
    off1 = wall.replace(tzinfo=tz, fold=1).utcoffset()
    assert off0 is not None and off1 is not None
    return abs(off0 - off1)


def _instants(wall: datetime, trigger: CronTrigger) -> tuple[list[float], bool]:
    """Real instants at which a matching wall time fires, and whether the time is regular."""
    tz = trigger.tz
    t0 = wall.replace(tzinfo=tz, fold=0)
    t1 = wall.replace(tzinfo=tz, fold=1)
    if t0.utcoffset() == t1.utcoffset():
        return [t0.timestamp()], True
    e0, e1 = t0.timestamp(), t1.timestamp()
    if _wall(e0, tz) != wall:  # skipped by a jump forward: never happens
        return [], False
    return ([e0, e1] if trigger.cron.hour_star else [e0]), False


def _walls_forward(cron: Cron, start: datetime) -> Iterator[datetime]:
    """Matching wall times >= start (minute resolution), in increasing order."""
    day = start.date()
    first = start.hour * 60 + start.minute + (1 if start.second or start.microsecond else 0)
    for _ in range(MAX_SEARCH_DAYS):
        if cron.matches_date(day):
            i = bisect.bisect_left(cron.minutes_of_day, first)
            base = datetime.combine(day, time())
            for m in cron.minutes_of_day[i:]:
                yield base + timedelta(minutes=m)
        day += timedelta(days=1)
        first = 0


def _walls_backward(cron: Cron, start: datetime) -> Iterator[datetime]:
    """Matching wall times <= start (minute resolution), in decreasing order."""
    day = start.date()
    last = start.hour * 60 + start.minute
    for _ in range(MAX_SEARCH_DAYS):
        if cron.matches_date(day):
            i = bisect.bisect_right(cron.minutes_of_day, last)
            base = datetime.combine(day, time())
            for m in reversed(cron.minutes_of_day[:i]):
                yield base + timedelta(minutes=m)
        if day == date.min + timedelta(days=1):
            return
        day -= timedelta(days=1)
        last = 24 * 60


def _next_cron(trigger: CronTrigger, after: float) -> float:
    wall = _wall(after, trigger.tz)
    start = wall - _fold_size(wall, trigger.tz)
    best: float | None = None
    for w in _walls_forward(trigger.cron, start):
        instants, regular = _instants(w, trigger)
        if regular and best is not None and instants[0] > best:
            break  # every later wall time maps to later instants
        for t in instants:
            if t > after and (best is None or t < best):
                best = t
        if regular and best is not None:
            break
    if best is None:
        raise InvalidSchedule(f"cron expression {trigger.cron.expression!r} never fires")
    return best


def _prev_cron(trigger: CronTrigger, before: float) -> float | None:
    wall = _wall(before, trigger.tz)
    start = wall + _fold_size(wall, trigger.tz)
    best: float | None = None
    for w in _walls_backward(trigger.cron, start):
        instants, regular = _instants(w, trigger)
        if regular and best is not None and instants[0] < best:
            break  # every earlier wall time maps to earlier instants
        for t in instants:
            if t <= before and (best is None or t > best):
                best = t
        if regular and best is not None:
            break
    return best
