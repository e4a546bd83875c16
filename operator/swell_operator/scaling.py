"""The autoscaling algorithm: one pure function from (spec, observation, state, now) to a decision.

Semantics (the README's "how scaling decides" section mirrors this):

* The recommendation is ``ceil((pending + due + running) / jobsPerReplica)``: delayed jobs
  not yet due do not count, in-flight jobs do (an empty queue with busy workers is not idle).
* A tolerance band (HPA's ``|ratio - 1| <= tolerance``) keeps the current count for small
  deviations.
* Stabilization and rate policies follow the HorizontalPodAutoscaler: scale up to the *lowest*
  recommendation of the up-window, down to the *highest* of the down-window; Pods/Percent
  policies limit the change per ``periodSeconds`` looking back at recent scale events, and
  ``selectPolicy`` picks the largest change (Max), the smallest (Min) or none (Disabled).
* From zero: the workload wakes when backlog >= ``activationBacklog`` (">=", not KEDA's ">"),
  to at least ``max(minReplicas, 1)`` whatever the up-window says.
* To zero: only with nothing pending, due or running, and ``cooldown`` seconds after the last
  activity. This step is governed by the cooldown alone (like KEDA), not by the down-window.
* Never below the number of busy workers: a scale-down removes at most the idle replicas.
* Metrics failed: never scale down. After ``failureThreshold`` consecutive failures the
  fallback applies (``static``: raise to ``replicas``; ``currentReplicas``: hold).
* Paused: hold the current count, or apply ``spec.replicas`` as a manual setting.

State that must survive an operator restart (recommendations, scale events, last activity,
failure count) is in ``ScalingState``, which the reconciler persists in the JobQueue status.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import StrEnum

INT32_MAX = 2**31 - 1


class PolicyType(StrEnum):
    PODS = "Pods"
    PERCENT = "Percent"


class SelectPolicy(StrEnum):
    MAX = "Max"
    MIN = "Min"
    DISABLED = "Disabled"


class FallbackMode(StrEnum):
    STATIC = "static"  # raise to fallback.replicas (never lower than current)
    CURRENT = "currentReplicas"  # hold the current count


@dataclass(frozen=True, slots=True)
class Policy:
    type: PolicyType
    value: int
    period_seconds: int


@dataclass(frozen=True, slots=True)
class Behavior:
    """One direction's stabilization window and rate policies (HPA ``behavior.scaleUp|Down``)."""

    stabilization_window: float
    policies: tuple[Policy, ...]
    select_policy: SelectPolicy = SelectPolicy.MAX


# The HPA's defaults (kubernetes/website horizontal-pod-autoscale.md, "Default Behavior").
DEFAULT_SCALE_UP = Behavior(
    0.0, (Policy(PolicyType.PERCENT, 100, 15), Policy(PolicyType.PODS, 4, 15)), SelectPolicy.MAX
)
DEFAULT_SCALE_DOWN = Behavior(300.0, (Policy(PolicyType.PERCENT, 100, 15),), SelectPolicy.MAX)


@dataclass(frozen=True, slots=True)
class Fallback:
    failure_threshold: int = 3
    replicas: int = 1
    mode: FallbackMode = FallbackMode.STATIC


@dataclass(frozen=True, slots=True)
class ScalingSpec:
    max_replicas: int
    min_replicas: int = 0
    jobs_per_replica: int = 10
    activation_backlog: int = 1
    tolerance: float = 0.1
    cooldown: float = 300.0
    scale_up: Behavior = DEFAULT_SCALE_UP
    scale_down: Behavior = DEFAULT_SCALE_DOWN
    fallback: Fallback | None = None
    paused: bool = False
    manual_replicas: int | None = None  # spec.replicas; applies only while paused


@dataclass(frozen=True, slots=True)
class Backlog:
    """The work one JobQueue's replicas must carry, summed over its queues."""

    pending: int = 0
    due: int = 0  # scheduled jobs whose time has come (about to be promoted)
    running: int = 0

    @property
    def total(self) -> int:
        return self.pending + self.due + self.running


@dataclass(frozen=True, slots=True)
class Observation:
    current: int  # the target's spec.replicas
    backlog: Backlog | None  # None: reading the stats port failed
    busy: int = 0  # workers of this target that run at least one job


@dataclass(frozen=True, slots=True)
class Recommendation:
    """A run of equal consecutive recommendations, seen from ``since`` to ``until``.

    Storing runs rather than every poll keeps the persisted window small and is exact: a run
    lies in a window iff its last sighting does."""

    replicas: int
    since: float
    until: float


@dataclass(frozen=True, slots=True)
class ScaleEvent:
    at: float
    change: int  # > 0 scale-up, < 0 scale-down


@dataclass(frozen=True, slots=True)
class ScalingState:
    recommendations: tuple[Recommendation, ...] = ()
    events: tuple[ScaleEvent, ...] = ()
    last_active: float | None = None
    last_scale: float | None = None
    failures: int = 0  # consecutive failed reads of the stats port


class Reason(StrEnum):
    PAUSED = "Paused"
    MANUAL = "ManualReplicas"
    METRICS_UNAVAILABLE = "MetricsUnavailable"
    FALLBACK = "Fallback"
    ACTIVATED = "Activated"
    SCALE_UP = "ScaleUp"
    SCALE_DOWN = "ScaleDown"
    SCALED_TO_ZERO = "ScaledToZero"
    COOLDOWN = "CooldownPending"
    IDLE = "Idle"
    STEADY = "Steady"


class Limit(StrEnum):
    """Why the decision is not the recommendation (the HPA's ScalingLimited reasons)."""

    TOO_FEW = "TooFewReplicas"
    TOO_MANY = "TooManyReplicas"
    SCALE_UP_LIMIT = "ScaleUpLimit"
    SCALE_DOWN_LIMIT = "ScaleDownLimit"
    BUSY_WORKERS = "BusyWorkers"
    DOWN_STABILIZED = "ScaleDownStabilized"
    UP_STABILIZED = "ScaleUpStabilized"


@dataclass(frozen=True, slots=True)
class Decision:
    desired: int
    reason: Reason
    message: str
    state: ScalingState
    recommendation: int | None = None  # before stabilization and limits; None if not computed
    active: bool = False
    limit: Limit | None = None
    fallback: bool = False
    details: dict[str, int] = field(default_factory=dict)


def decide(spec: ScalingSpec, obs: Observation, state: ScalingState, now: float) -> Decision:
    """What the target's replica count should be now. Pure: same inputs, same answer."""
    state = _prune(spec, state, now)
    current = obs.current
    if spec.paused:
        if spec.manual_replicas is not None:
            return Decision(spec.manual_replicas, Reason.MANUAL,
                            f"paused; spec.replicas={spec.manual_replicas} applies", state)
        return Decision(current, Reason.PAUSED, "paused; replicas left as they are", state)
    if obs.backlog is None:
        return _on_metrics_failure(spec, current, state, now)
    return _on_backlog(spec, obs, obs.backlog, replace(state, failures=0), now)


def _on_metrics_failure(spec: ScalingSpec, current: int, state: ScalingState, now: float) -> Decision:
    failures = state.failures + 1
    fb = spec.fallback
    # Never scale down on failure; min/maxReplicas still bound (they are spec, not a metric).
    hold = min(max(current, spec.min_replicas), spec.max_replicas)
    if fb is None or failures < fb.failure_threshold:
        left = "no fallback" if fb is None else f"fallback after {fb.failure_threshold}"
        return Decision(hold, Reason.METRICS_UNAVAILABLE,
                        f"metrics unavailable ({failures} consecutive, {left}); holding {hold}",
                        _scaled(replace(state, failures=failures), current, hold, now))
    target = fb.replicas if fb.mode is FallbackMode.STATIC else current
    desired = min(max(target, hold), spec.max_replicas)
    return Decision(desired, Reason.FALLBACK,
                    f"metrics unavailable ({failures} consecutive); fallback {fb.mode} -> {desired}",
                    _scaled(replace(state, failures=failures), current, desired, now), fallback=True)


def _scaled(state: ScalingState, current: int, desired: int, now: float) -> ScalingState:
    if desired == current:
        return state
    return replace(state, events=(*state.events, ScaleEvent(now, desired - current)), last_scale=now)


def _on_backlog(spec: ScalingSpec, obs: Observation, backlog: Backlog, state: ScalingState,
                now: float) -> Decision:
    current, total = obs.current, backlog.total
    active = total > 0 and (current > 0 or total >= spec.activation_backlog)
    last_active = now if active or state.last_active is None else state.last_active
    wanted = math.ceil(total / spec.jobs_per_replica)

    if current == 0:
        rec = min(max(wanted, spec.min_replicas, 1), spec.max_replicas) if active else spec.min_replicas
    else:
        rec = max(wanted, 1)  # the step to zero is the cooldown's business, below
        ratio = total / (spec.jobs_per_replica * current)
        if abs(ratio - 1.0) <= spec.tolerance:
            rec = current
    recs = _record(state.recommendations, rec, now)
    stabilized = _stabilize(spec, current, rec, recs, now)
    limit: Limit | None = None
    if rec < current and stabilized > rec:
        limit = Limit.DOWN_STABILIZED
    elif rec > current and stabilized < rec:
        limit = Limit.UP_STABILIZED
    desired, rate_limit = _limit_rate(spec, current, stabilized, state.events, now)
    limit = rate_limit or limit
    reason = Reason.STEADY
    if current == 0 and active:
        floor = min(max(spec.min_replicas, 1), spec.max_replicas)
        desired = max(desired, floor)
        reason = Reason.ACTIVATED

    cooled = now - last_active >= spec.cooldown
    if total == 0 and current > 0 and spec.min_replicas == 0:
        if cooled:
            desired, reason, limit = 0, Reason.SCALED_TO_ZERO, None
        elif desired <= 1:
            reason = Reason.COOLDOWN

    busy = min(obs.busy, current)
    if desired < busy:  # never below the busy workers; at most the idle ones go
        desired, limit = busy, Limit.BUSY_WORKERS
        if reason is Reason.SCALED_TO_ZERO:
            reason = Reason.STEADY
    if reason in (Reason.STEADY, Reason.COOLDOWN) and desired != current:
        reason = Reason.SCALE_UP if desired > current else Reason.SCALE_DOWN
    if reason is Reason.STEADY and current == 0:
        reason = Reason.IDLE

    new_state = _scaled(ScalingState(recs, state.events, last_active, state.last_scale, 0),
                        current, desired, now)
    message = (f"backlog {total} (pending {backlog.pending}, due {backlog.due}, running {backlog.running}),"
               f" {spec.jobs_per_replica}/replica -> recommend {rec}; {current} -> {desired}")
    if limit is not None:
        message += f" (limited: {limit})"
    if reason is Reason.COOLDOWN:
        message += f"; scale to zero in {spec.cooldown - (now - last_active):.0f}s"
    return Decision(desired, reason, message, new_state, recommendation=rec, active=active, limit=limit,
                    details={"backlog": total, "busy": busy})


def _record(recs: tuple[Recommendation, ...], replicas: int, now: float) -> tuple[Recommendation, ...]:
    if recs and recs[-1].replicas == replicas:
        return (*recs[:-1], replace(recs[-1], until=now))
    return (*recs, Recommendation(replicas, now, now))


def _stabilize(spec: ScalingSpec, current: int, rec: int, recs: tuple[Recommendation, ...],
               now: float) -> int:
    """HPA's stabilizeRecommendationWithBehaviors: rolling min (up) and max (down) over the windows."""
    up, down = rec, rec
    for r in recs:
        if r.until >= now - spec.scale_up.stabilization_window:
            up = min(up, r.replicas)
        if r.until >= now - spec.scale_down.stabilization_window:
            down = max(down, r.replicas)
    if current < up:
        return up
    if current > down:
        return down
    return current


def _limit_rate(spec: ScalingSpec, current: int, desired: int, events: tuple[ScaleEvent, ...],
                now: float) -> tuple[int, Limit | None]:
    """HPA's convertDesiredReplicasWithBehaviorRate, plus the [min, max] bounds."""
    if current > spec.max_replicas:
        return spec.max_replicas, Limit.TOO_MANY
    if current < spec.min_replicas:
        return spec.min_replicas, Limit.TOO_FEW
    if desired > current:
        up_limit = max(_scale_up_limit(current, events, spec.scale_up, now), current)
        if current == 0 and spec.scale_up.select_policy is not SelectPolicy.DISABLED:
            up_limit = max(up_limit, 1)  # a Percent policy alone could never leave zero
        allowed = min(up_limit, spec.max_replicas)
        if desired > allowed:
            return allowed, Limit.SCALE_UP_LIMIT if allowed == up_limit else Limit.TOO_MANY
        return desired, None
    if desired < current:
        down_limit = min(_scale_down_limit(current, events, spec.scale_down, now), current)
        allowed = max(down_limit, spec.min_replicas)
        if desired < allowed:
            return allowed, Limit.SCALE_DOWN_LIMIT if allowed == down_limit else Limit.TOO_FEW
        return desired, None
    return desired, None


def _changed_in_period(events: tuple[ScaleEvent, ...], period: float, now: float, up: bool) -> int:
    return sum(abs(e.change) for e in events
               if e.at > now - period and (e.change > 0) == up)


def _scale_up_limit(current: int, events: tuple[ScaleEvent, ...], behavior: Behavior, now: float) -> int:
    if behavior.select_policy is SelectPolicy.DISABLED or not behavior.policies:
        return current
    proposals = []
    for p in behavior.policies:
        start = current - _changed_in_period(events, p.period_seconds, now, up=True)
        if p.type is PolicyType.PODS:
            proposals.append(start + p.value)
        else:
            proposals.append(math.ceil(start * (1 + p.value / 100)))
    pick = max if behavior.select_policy is SelectPolicy.MAX else min
    return min(pick(proposals), INT32_MAX)


def _scale_down_limit(current: int, events: tuple[ScaleEvent, ...], behavior: Behavior, now: float) -> int:
    if behavior.select_policy is SelectPolicy.DISABLED or not behavior.policies:
        return current
    proposals = []
    for p in behavior.policies:
        start = current + _changed_in_period(events, p.period_seconds, now, up=False)
        if p.type is PolicyType.PODS:
            proposals.append(start - p.value)
        else:
            proposals.append(int(start * (1 - p.value / 100)))
    # Max means "the policy allowing the biggest change", i.e. the lowest floor.
    pick = min if behavior.select_policy is SelectPolicy.MAX else max
    return max(pick(proposals), 0)


def _prune(spec: ScalingSpec, state: ScalingState, now: float) -> ScalingState:
    """Forget what no window or policy period can see any more (keeps the status small)."""
    horizon = max(spec.scale_up.stabilization_window, spec.scale_down.stabilization_window)
    period = max((p.period_seconds for b in (spec.scale_up, spec.scale_down) for p in b.policies), default=0)
    recs = tuple(r for r in state.recommendations if r.until >= now - horizon)
    events = tuple(e for e in state.events if e.at > now - period)
    if recs == state.recommendations and events == state.events:
        return state
    return replace(state, recommendations=recs, events=events)
