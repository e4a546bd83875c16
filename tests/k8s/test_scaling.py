"""The scaling algorithm, pure: examples for each rule, and properties over random histories."""

from __future__ import annotations

import math
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from swell_operator.scaling import (
    DEFAULT_SCALE_DOWN,
    Backlog,
    Behavior,
    Decision,
    Fallback,
    FallbackMode,
    Limit,
    Observation,
    Policy,
    PolicyType,
    Reason,
    ScaleEvent,
    ScalingSpec,
    ScalingState,
    SelectPolicy,
    decide,
)

T0 = 1_700_000_000.0
FAST_UP = Behavior(0.0, (Policy(PolicyType.PODS, 1000, 1),))
NO_LIMIT_DOWN = Behavior(0.0, (Policy(PolicyType.PERCENT, 100, 1),))


def spec(**kw: object) -> ScalingSpec:
    base: dict[str, object] = dict(max_replicas=20, jobs_per_replica=10, cooldown=60.0,
                                   scale_up=FAST_UP, scale_down=NO_LIMIT_DOWN, tolerance=0.0)
    base.update(kw)
    return ScalingSpec(**base)  # type: ignore[arg-type]


def obs(current: int, pending: int = 0, *, due: int = 0, running: int = 0, busy: int = 0) -> Observation:
    return Observation(current, Backlog(pending, due, running), busy)


class Sim:
    """Feeds decisions back in: the target takes the desired count, time moves by `step`."""

    def __init__(self, s: ScalingSpec, current: int = 0, now: float = T0) -> None:
        self.spec, self.current, self.now, self.state = s, current, now, ScalingState()

    def tick(self, pending: int = 0, *, running: int = 0, busy: int = 0, due: int = 0,
             failed: bool = False, step: float = 1.0) -> Decision:
        o = Observation(self.current, None if failed else Backlog(pending, due, running), busy)
        d = decide(self.spec, o, self.state, self.now)
        self.state, self.current = d.state, d.desired
        self.now += step
        return d


# -- the formula ------------------------------------------------------------------------------

def test_desired_is_ceil_of_backlog_over_jobs_per_replica() -> None:
    d = decide(spec(), obs(1, pending=35), ScalingState(), T0)
    assert d.desired == 4 and d.reason is Reason.SCALE_UP and d.recommendation == 4


def test_running_and_due_jobs_count_scheduled_do_not() -> None:
    # Backlog has no "not yet due" field at all: the reconciler leaves scheduled jobs out.
    d = decide(spec(), obs(1, pending=5, due=10, running=6), ScalingState(), T0)
    assert d.desired == 3


def test_clamped_to_max_and_limit_reported() -> None:
    d = decide(spec(max_replicas=5), obs(1, pending=500), ScalingState(), T0)
    assert d.desired == 5 and d.limit is Limit.TOO_MANY


def test_clamped_to_min() -> None:
    d = decide(spec(min_replicas=3), obs(3, pending=1), ScalingState(), T0)
    assert d.desired == 3 and d.limit is Limit.TOO_FEW


def test_current_above_max_goes_to_max_at_once() -> None:
    d = decide(spec(max_replicas=4), obs(9, pending=500), ScalingState(), T0)
    assert d.desired == 4


def test_tolerance_band_keeps_current() -> None:
    s = spec(tolerance=0.1)
    assert decide(s, obs(10, pending=105), ScalingState(), T0).desired == 10  # ratio 1.05
    assert decide(s, obs(10, pending=95), ScalingState(), T0).desired == 10
    assert decide(s, obs(10, pending=120), ScalingState(), T0).desired == 12


# -- activation and scale to zero -----------------------------------------------------------------

def test_stays_at_zero_below_activation_threshold() -> None:
    d = decide(spec(activation_backlog=5), obs(0, pending=4), ScalingState(), T0)
    assert d.desired == 0 and not d.active and d.reason is Reason.IDLE


def test_activation_is_greater_or_equal() -> None:
    d = decide(spec(activation_backlog=5), obs(0, pending=5), ScalingState(), T0)
    assert d.desired == 1 and d.active and d.reason is Reason.ACTIVATED


def test_activation_wakes_to_at_least_one_even_with_up_window_and_percent_only() -> None:
    up = Behavior(60.0, (Policy(PolicyType.PERCENT, 100, 15),))
    sim = Sim(spec(scale_up=up))
    sim.tick(0)
    d = sim.tick(50)
    assert d.desired == 1 and d.reason is Reason.ACTIVATED


def test_hpa_default_scale_up_from_zero_is_four_pods() -> None:
    d = decide(spec(scale_up=replace(FAST_UP, policies=(Policy(PolicyType.PERCENT, 100, 15),
                                                        Policy(PolicyType.PODS, 4, 15)))),
               obs(0, pending=500), ScalingState(), T0)
    assert d.desired == 4 and d.limit is Limit.SCALE_UP_LIMIT


def test_scale_to_zero_only_after_cooldown() -> None:
    sim = Sim(spec(cooldown=10.0), current=3)
    sim.tick(30)
    held = [sim.tick(0) for _ in range(9)]
    assert all(d.desired == 1 for d in held)
    assert held[-1].reason is Reason.COOLDOWN
    d = sim.tick(0)
    assert d.desired == 0 and d.reason is Reason.SCALED_TO_ZERO


def test_no_scale_to_zero_while_jobs_run() -> None:
    sim = Sim(spec(cooldown=0.0), current=2)
    for _ in range(5):
        d = sim.tick(0, running=1, busy=1)
    assert d.desired == 1


def test_min_replicas_forbid_zero() -> None:
    sim = Sim(spec(cooldown=0.0, min_replicas=2), current=4)
    for _ in range(3):
        d = sim.tick(0)
    assert d.desired == 2


# -- stabilization and rate policies --------------------------------------------------------------

def test_scale_down_waits_for_the_stabilization_window() -> None:
    down = Behavior(5.0, (Policy(PolicyType.PERCENT, 100, 1),))
    sim = Sim(spec(scale_down=down), current=1)
    assert sim.tick(100).desired == 10
    held = [sim.tick(10) for _ in range(5)]  # t+1 .. t+5: 10 is still in the window
    assert [d.desired for d in held] == [10] * 5
    assert held[0].limit is Limit.DOWN_STABILIZED
    assert sim.tick(10).desired == 1  # t+6: window passed


def test_scale_down_takes_the_highest_recommendation_in_window() -> None:
    down = Behavior(10.0, (Policy(PolicyType.PERCENT, 100, 1),))
    sim = Sim(spec(scale_down=down), current=1)
    sim.tick(100)
    sim.tick(60)
    sim.tick(30)
    assert sim.current == 10
    for _ in range(8):
        sim.tick(30)
    assert sim.current == 10  # rec 10 (t0) still in the window at t0+10
    sim.tick(30)  # t0+11: rec 10 has left, rec 6 (t0+1) has not
    assert sim.current == 6
    sim.tick(30)
    assert sim.current == 3


def test_scale_up_window_takes_the_lowest() -> None:
    up = Behavior(3.0, (Policy(PolicyType.PODS, 100, 1),))
    sim = Sim(spec(scale_up=up), current=1)
    sim.tick(10)  # rec 1
    assert [sim.tick(100).desired for _ in range(4)] == [1, 1, 1, 10]


def test_pods_policy_limits_change_per_period() -> None:
    up = Behavior(0.0, (Policy(PolicyType.PODS, 2, 10),))
    sim = Sim(spec(scale_up=up), current=1)
    got = [sim.tick(200).desired for _ in range(12)]
    assert got[:10] == [3] * 10  # +2 within the 10 s period, then blocked
    assert got[10] == 5


def test_percent_policy_down_and_select_min() -> None:
    down = Behavior(0.0, (Policy(PolicyType.PERCENT, 50, 60), Policy(PolicyType.PODS, 1, 60)),
                    SelectPolicy.MIN)
    d = decide(spec(scale_down=down, cooldown=1e9), obs(10, pending=10), ScalingState(), T0)
    assert d.desired == 9 and d.limit is Limit.SCALE_DOWN_LIMIT
    down_max = replace(down, select_policy=SelectPolicy.MAX)
    assert decide(spec(scale_down=down_max), obs(10, pending=10), ScalingState(), T0).desired == 5


def test_disabled_direction_never_moves() -> None:
    s = spec(scale_down=replace(DEFAULT_SCALE_DOWN, select_policy=SelectPolicy.DISABLED,
                                stabilization_window=0.0), cooldown=1e9)
    assert decide(s, obs(8, pending=10), ScalingState(), T0).desired == 8


def test_rate_policies_see_persisted_events() -> None:
    up = Behavior(0.0, (Policy(PolicyType.PODS, 4, 15),))
    state = ScalingState(events=(ScaleEvent(T0 - 5, 4),))
    assert decide(spec(scale_up=up), obs(4, pending=500), state, T0).desired == 4
    assert decide(spec(scale_up=up), obs(4, pending=500), state, T0 + 11).desired == 8


# -- busy workers ---------------------------------------------------------------------------------

def test_never_below_busy_workers() -> None:
    d = decide(spec(), obs(6, pending=0, running=4, busy=4), ScalingState(), T0)
    assert d.desired == 4 and d.limit is Limit.BUSY_WORKERS


def test_busy_workers_block_the_step_to_zero() -> None:
    # The queue stats say idle, a worker heartbeat still reports a job: keep that worker.
    d = decide(spec(cooldown=0.0), obs(3, pending=0, busy=1), ScalingState(), T0)
    assert d.desired == 1 and d.limit is Limit.BUSY_WORKERS and d.reason is Reason.SCALE_DOWN


def test_busy_workers_do_not_cause_scale_up() -> None:
    assert decide(spec(), obs(2, pending=20, busy=5), ScalingState(), T0).desired == 2


# -- metrics failures and fallback ----------------------------------------------------------------

def test_failure_holds_then_fallback_applies_after_threshold() -> None:
    sim = Sim(spec(fallback=Fallback(failure_threshold=3, replicas=6)), current=2)
    d1, d2 = sim.tick(failed=True), sim.tick(failed=True)
    assert (d1.desired, d2.desired) == (2, 2) and d1.reason is Reason.METRICS_UNAVAILABLE
    d3 = sim.tick(failed=True)
    assert d3.desired == 6 and d3.fallback and d3.state.failures == 3
    d4 = sim.tick(10)  # recovery resets the count and scales on data again
    assert d4.state.failures == 0 and not d4.fallback


def test_fallback_never_scales_down() -> None:
    sim = Sim(spec(fallback=Fallback(failure_threshold=1, replicas=2)), current=7)
    assert sim.tick(failed=True).desired == 7


def test_fallback_applies_from_zero() -> None:
    sim = Sim(spec(fallback=Fallback(failure_threshold=1, replicas=2)), current=0)
    assert sim.tick(failed=True).desired == 2


def test_fallback_current_replicas_mode_holds() -> None:
    sim = Sim(spec(fallback=Fallback(1, 9, FallbackMode.CURRENT)), current=3)
    assert sim.tick(failed=True).desired == 3


def test_failure_without_fallback_holds_forever() -> None:
    sim = Sim(spec(), current=5)
    assert all(sim.tick(failed=True).desired == 5 for _ in range(20))


def test_failures_keep_the_stabilization_history() -> None:
    sim = Sim(spec(scale_down=Behavior(60.0, NO_LIMIT_DOWN.policies)), current=1)
    sim.tick(100)
    before = sim.state.recommendations
    sim.tick(failed=True)
    assert sim.state.recommendations == before


# -- paused ---------------------------------------------------------------------------------------

def test_paused_holds_and_manual_replicas_apply() -> None:
    assert decide(spec(paused=True), obs(3, pending=500), ScalingState(), T0).desired == 3
    d = decide(spec(paused=True, manual_replicas=7), obs(3, pending=500), ScalingState(), T0)
    assert d.desired == 7 and d.reason is Reason.MANUAL


def test_manual_replicas_ignored_when_not_paused() -> None:
    assert decide(spec(manual_replicas=7), obs(1, pending=20), ScalingState(), T0).desired == 2


# -- restart --------------------------------------------------------------------------------------

def test_state_is_all_a_restart_needs() -> None:
    """Two operators given the same persisted state decide the same (no hidden memory)."""
    down = Behavior(30.0, (Policy(PolicyType.PERCENT, 100, 1),))
    s = spec(scale_down=down)
    a = Sim(s, current=1)
    a.tick(100)
    for _ in range(5):
        a.tick(0)
    b = Sim(s, current=a.current, now=a.now)
    b.state = a.state
    assert a.tick(0).desired == b.tick(0).desired == 10


# -- properties -----------------------------------------------------------------------------------

policies = st.lists(st.builds(Policy, st.sampled_from(list(PolicyType)), st.integers(1, 200),
                              st.integers(1, 60)), min_size=0, max_size=3)
behaviors = st.builds(Behavior, st.floats(0, 120), st.builds(tuple, policies),
                      st.sampled_from(list(SelectPolicy)))


@st.composite
def specs(draw: st.DrawFn) -> ScalingSpec:
    lo = draw(st.integers(0, 5))
    hi = draw(st.integers(max(lo, 1), 50))
    fb = draw(st.none() | st.builds(Fallback, st.integers(1, 5), st.integers(0, hi),
                                    st.sampled_from(list(FallbackMode))))
    return ScalingSpec(max_replicas=hi, min_replicas=lo, jobs_per_replica=draw(st.integers(1, 100)),
                       activation_backlog=draw(st.integers(1, 50)), tolerance=draw(st.floats(0, 0.5)),
                       cooldown=draw(st.floats(0, 600)), scale_up=draw(behaviors),
                       scale_down=draw(behaviors), fallback=fb)


ticks = st.lists(st.tuples(st.none() | st.tuples(st.integers(0, 3000), st.integers(0, 50)),
                           st.integers(0, 10), st.floats(0.1, 30)), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(specs(), st.integers(0, 60), ticks)
def test_properties_over_random_histories(s: ScalingSpec, start: int, seq: list) -> None:  # type: ignore[type-arg]
    sim = Sim(s, current=start)
    for reading, busy, step in seq:
        current = sim.current
        failed = reading is None
        pending, running = reading or (0, 0)
        d = sim.tick(pending, running=running, busy=busy, failed=failed, step=step)
        assert d.desired >= 0
        within = s.min_replicas <= current <= s.max_replicas
        if within:
            assert s.min_replicas <= d.desired <= s.max_replicas, d
        assert d.desired <= max(s.max_replicas, 0) or d.desired <= current
        if failed:
            assert d.desired >= min(current, s.max_replicas), "never scale down on failure"
            continue
        total = pending + running
        if d.desired < current:
            assert d.desired >= min(busy, current), "never below the busy workers"
        if d.desired == 0 and current > 0:
            assert total == 0 and s.min_replicas == 0, "zero only when idle"
        if current == 0 and total < s.activation_backlog and within:
            assert d.desired == s.min_replicas, "no activation below threshold"
        if current == 0 and total >= s.activation_backlog and within:
            assert d.desired >= 1, "activation"
        assert d.desired <= max(current, math.ceil(total / s.jobs_per_replica), s.min_replicas, 1) \
            or not within, "never above what the backlog asks"
        assert len(d.state.recommendations) <= len(seq) + 1


@settings(max_examples=100, deadline=None)
@given(specs(), st.integers(0, 60), ticks)
def test_decide_is_deterministic(s: ScalingSpec, start: int, seq: list) -> None:  # type: ignore[type-arg]
    a, b = Sim(s, current=start), Sim(s, current=start)
    for reading, busy, step in seq:
        failed = reading is None
        pending, running = reading or (0, 0)
        assert a.tick(pending, running=running, busy=busy, failed=failed, step=step) == \
            b.tick(pending, running=running, busy=busy, failed=failed, step=step)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 5000), st.integers(1, 100), st.integers(1, 100))
def test_steady_backlog_converges_to_the_formula(total: int, per: int, hi: int) -> None:
    s = spec(max_replicas=hi, jobs_per_replica=per)
    sim = Sim(s, current=1)
    for _ in range(3):
        sim.tick(total)
    assert sim.current == min(max(math.ceil(total / per), 1), hi)
