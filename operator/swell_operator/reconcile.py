"""Reconciliation: the owned Deployment (idempotent) and one autoscaling tick per poll.

``ensure_target`` runs on create/update/resume; ``Autoscaler.tick`` runs in the per-JobQueue
daemon: read the target and the stats port, ``scaling.decide``, apply the difference (pod
deletion costs first when scaling down), post an Event, persist status + scaling state.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from swell.stats import Stats
from swell_operator import manifests
from swell_operator.jobqueue import InvalidSpec, JobQueueSpec, parse_spec
from swell_operator.kube import Kube, KubeError
from swell_operator.scaling import Backlog, Decision, Observation, Reason, ScalingState, decide
from swell_operator.stats_source import MetricsError, StatsSource

log = logging.getLogger(__name__)


def target_name(name: str, spec: JobQueueSpec) -> str:
    return spec.deployment_ref or name


async def ensure_target(kube: Kube, body: Mapping[str, Any]) -> str:
    """Create or update the Deployment a templated JobQueue owns; check a referenced one exists.

    Idempotent: calling it again with the same spec makes no change."""
    meta, namespace = body["metadata"], body["metadata"]["namespace"]
    spec = parse_spec(body["spec"])
    name = target_name(meta["name"], spec)
    existing = await kube.get_deployment(namespace, name)
    if spec.template is None:
        if existing is None:
            raise LookupError(f"Deployment {namespace}/{name} (spec.deploymentRef) does not exist")
        return name
    if existing is None:
        wanted = manifests.owned_deployment(namespace, name, meta["uid"], spec.template,
                                            replicas=spec.scaling.min_replicas)
        try:
            await kube.create_deployment(namespace, wanted)
            log.info("created Deployment %s/%s for JobQueue %s", namespace, name, meta["name"])
        except KubeError as e:
            if e.status != 409:  # created meanwhile by a concurrent call: fine
                raise
        return name
    patch = manifests.template_patch(existing, meta["name"], spec.template)
    if patch is not None:
        await kube.patch_deployment(namespace, name, patch)
        log.info("updated the pod template of Deployment %s/%s", namespace, name)
    return name


@dataclass(frozen=True, slots=True)
class Reading:
    """What one poll of the stats port says about this JobQueue's queues."""

    backlog: Backlog
    scheduled: int
    pending_by_priority: dict[str, int]
    busy_workers: int
    running_by_pod: dict[str, int]


def reading_from(stats: Stats, queues: tuple[str, ...]) -> Reading:
    pending, due, running, scheduled = 0, 0, 0, 0
    by_priority: dict[str, int] = {}
    for q in queues:
        qs = stats.queues.get(q)
        if qs is None:  # a queue that never held a job
            continue
        pending += qs.pending_total
        due += qs.scheduled_due
        running += qs.running
        scheduled += qs.scheduled
        for prio, n in qs.pending.items():
            by_priority[prio] = by_priority.get(prio, 0) + n
    ours = [w for w in stats.workers if set(w.queues) & set(queues)]
    running_by_pod: dict[str, int] = {}
    for w in ours:
        if w.pod and w.running:
            running_by_pod[w.pod] = running_by_pod.get(w.pod, 0) + len(w.running)
    return Reading(Backlog(pending, due, running), scheduled, by_priority,
                   busy_workers=sum(1 for w in ours if w.busy), running_by_pod=running_by_pod)


class Autoscaler:
    """The loop body of one JobQueue's daemon. Holds its Redis connection between polls."""

    def __init__(self, kube: Kube, namespace: str, name: str) -> None:
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.source = StatsSource(self._read_secret)
        self._secret_cache: dict[tuple[str, str], tuple[float, str]] = {}
        # Kept in memory between polls (the watch may deliver our own status patch late);
        # read from the status only on the first poll, i.e. after an operator restart.
        self.state: ScalingState | None = None
        self.conditions: list[dict[str, Any]] | None = None
        self._last_failure: str | None = None

    async def _read_secret(self, ref: Any) -> str:
        # Cached a minute: reading it every poll would be an API call per JobQueue per second.
        key = (ref.name, ref.key)
        hit = self._secret_cache.get(key)
        if hit and time.monotonic() - hit[0] < 60:
            return hit[1]
        value = await self.kube.secret_value(self.namespace, ref.name, ref.key)
        self._secret_cache[key] = (time.monotonic(), value)
        return value

    async def close(self) -> None:
        await self.source.close()

    async def tick(self, body: Mapping[str, Any], now: float) -> Decision | None:
        """One poll. Returns the decision applied (None when nothing could be decided)."""
        meta = body["metadata"]
        status: Mapping[str, Any] = body.get("status") or {}
        generation = meta.get("generation")
        try:
            spec = parse_spec(body["spec"])
        except InvalidSpec as e:
            await self._write_status(body, now, {}, [
                manifests.condition("Ready", False, "InvalidSpec", str(e))])
            return None
        name = target_name(meta["name"], spec)
        base: dict[str, Any] = {"observedGeneration": generation, "queues": ",".join(spec.queues),
                                "target": f"Deployment/{name}"}

        deployment = await self.kube.get_deployment(self.namespace, name)
        reading: Reading | None = None
        failure: MetricsError | None = None
        try:
            reading = reading_from(await self.source.read(spec.redis), spec.queues)
        except MetricsError as e:
            failure = e
            # Warn when the failure starts or changes; every poll of an outage would flood the log.
            level = logging.DEBUG if e.message == self._last_failure else logging.WARNING
            log.log(level, "JobQueue %s/%s: %s", self.namespace, self.name, e.message)
            self._secret_cache.clear()  # a rotated password is re-read next time
        if failure is None and self._last_failure is not None:
            log.info("JobQueue %s/%s: the stats port is readable again", self.namespace, self.name)
        self._last_failure = None if failure is None else failure.message
        if reading is not None:
            base["backlog"] = {
                "pending": reading.pending_by_priority, "pendingTotal": reading.backlog.pending,
                "due": reading.backlog.due, "scheduled": reading.scheduled,
                "running": reading.backlog.running, "total": reading.backlog.total,
                "busyWorkers": reading.busy_workers}
        if failure is None:
            metrics_cond = manifests.condition("MetricsAvailable", True, "StatsRead", "read the stats port")
        else:
            metrics_cond = manifests.condition("MetricsAvailable", False, failure.kind, failure.message)
        paused_cond = manifests.condition("Paused", spec.scaling.paused,
                                          "Paused" if spec.scaling.paused else "NotPaused",
                                          "spec.scaling.paused is true" if spec.scaling.paused else "")

        if deployment is None:
            await self._write_status(body, now, base, [
                manifests.condition("Ready", False, "TargetNotFound", f"Deployment {name} not found"),
                metrics_cond, paused_cond])
            return None

        selector = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        base["selector"] = manifests.label_selector(selector)
        current = int((deployment.get("spec") or {}).get("replicas", 1))
        state = self.state if self.state is not None else manifests.state_from_status(status)
        obs = Observation(current, None if reading is None else reading.backlog,
                          0 if reading is None else reading.busy_workers)
        decision = decide(spec.scaling, obs, state, now)
        try:
            conflicts = await self.kube.scalers_targeting(self.namespace, name)
        except KubeError as e:  # e.g. RBAC without HPA access: scale, but say why we could not check
            log.warning("JobQueue %s/%s: cannot check for other autoscalers: %s",
                        self.namespace, self.name, e)
            conflicts = []

        if conflicts:
            # Another controller owns the replicas: report and keep out of its way.
            kept = replace(decision.state, events=state.events, last_scale=state.last_scale)
            decision = replace(decision, desired=current, state=kept)
        elif decision.desired != current:
            await self._apply(body, name, decision, current=current, selector=selector, reading=reading,
                              now=now)
        self.state = decision.state  # applied: the rate policies must see this scale event

        pods = (deployment.get("status") or {}).get("replicas")
        base.update(desiredReplicas=decision.desired,
                    currentReplicas=int(pods) if pods is not None else decision.desired,
                    **manifests.state_to_status(decision.state))
        conds = self._conditions(decision, failure, conflicts, paused=spec.scaling.paused,
                                 metrics_cond=metrics_cond, paused_cond=paused_cond)
        old = {str(c.get("type")): c.get("status") for c in self._old_conditions(status)}
        await self._write_status(body, now, base, conds)
        await self._post_transitions(body, now, old, conds)
        return decision

    async def _apply(self, body: Mapping[str, Any], name: str, decision: Decision, *, current: int,
                     selector: Mapping[str, str], reading: Reading | None, now: float) -> None:
        if decision.desired < current and reading is not None:
            await self._mark_idle_pods(selector, reading)
        await self.kube.scale_deployment(self.namespace, name, decision.desired)
        backlog = decision.details.get("backlog")
        msg = (f"scaled Deployment {name} from {current} to {decision.desired}"
               f" (backlog {backlog if backlog is not None else 'unknown'}): {decision.message}")
        log.info("JobQueue %s/%s: %s", self.namespace, self.name, msg)
        event_type = "Warning" if decision.reason is Reason.FALLBACK else "Normal"
        await self.kube.post_event(self.namespace, manifests.event(
            self.namespace, body, event_type, str(decision.reason), msg, now=now, suffix=_suffix()))

    async def _mark_idle_pods(self, selector: Mapping[str, str], reading: Reading) -> None:
        """Idle pods get a low deletion cost, busy ones a high one, before replicas drop.

        Best effort (the cost is a hint to the ReplicaSet controller): failures are logged."""
        try:
            pods = await self.kube.list_pods(self.namespace, selector)
            costs = manifests.deletion_costs(pods, reading.running_by_pod)
            patches = manifests.cost_patches(pods, costs)
            await asyncio.gather(*(self.kube.annotate_pod(self.namespace, pod, patch)
                                   for pod, patch in patches.items()))
        except KubeError as e:
            log.warning("JobQueue %s/%s: could not set pod deletion costs: %s", self.namespace, self.name, e)

    def _conditions(self, decision: Decision, failure: MetricsError | None, conflicts: list[str], *,
                    paused: bool, metrics_cond: dict[str, Any],
                    paused_cond: dict[str, Any]) -> list[dict[str, Any]]:
        c = manifests.condition
        if conflicts:
            ready = c("Ready", False, "TargetConflict", "another autoscaler targets the Deployment")
        elif failure is not None:
            ready = c("Ready", False, "MetricsUnavailable", decision.message)
        else:
            ready = c("Ready", True, "Paused" if paused else "Scaling", decision.message)
        if failure is not None:
            active = c("Active", None, "MetricsUnavailable", "backlog unknown")
        else:
            active = c("Active", decision.active, "BacklogPresent" if decision.active else "NoBacklog",
                       f"backlog {decision.details.get('backlog', 0)}")
        limited = c("ScalingLimited", decision.limit is not None, str(decision.limit or "DesiredWithinRange"),
                    decision.message if decision.limit else "")
        conflict = c("TargetConflict", bool(conflicts), "OtherAutoscaler" if conflicts else "NoConflict",
                     f"also scaled by {', '.join(conflicts)}; leaving replicas alone" if conflicts else "")
        return [ready, active, metrics_cond, limited, paused_cond, conflict]

    async def _post_transitions(self, body: Mapping[str, Any], now: float, old: Mapping[str, Any],
                                conds: list[dict[str, Any]]) -> None:
        """Warning Events when metrics fail or a conflict appears (once, on the transition)."""
        for cond in conds:
            bad = (cond["type"] == "MetricsAvailable" and cond["status"] == "False") \
                or (cond["type"] == "TargetConflict" and cond["status"] == "True")
            if bad and old.get(cond["type"]) != cond["status"]:
                await self.kube.post_event(self.namespace, manifests.event(
                    self.namespace, body, "Warning", cond["reason"], cond["message"], now=now,
                    suffix=_suffix()))

    async def _write_status(self, body: Mapping[str, Any], now: float, fields: dict[str, Any],
                            conds: list[dict[str, Any]]) -> None:
        old = self._old_conditions(body.get("status") or {})
        generation = body["metadata"].get("generation")
        # Conditions not re-evaluated this time stay as they were.
        given = {x["type"] for x in conds}
        kept = [x for x in old or () if x.get("type") not in given and x.get("type")]
        merged = manifests.merge_conditions(old, [*conds], now, generation)
        status = {**fields, "conditions": sorted(
            [*merged, *kept], key=lambda x: manifests.CONDITION_TYPES.index(x["type"])
            if x["type"] in manifests.CONDITION_TYPES else 99)}
        await self.kube.patch_jobqueue_status(self.namespace, self.name, status)
        self.conditions = status["conditions"]

    def _old_conditions(self, status: Mapping[str, Any]) -> list[dict[str, Any]]:
        if self.conditions is not None:
            return self.conditions
        return list(status.get("conditions") or ())


def _suffix() -> str:
    return uuid.uuid4().hex[:12]

