"""Pure builders of the bodies the operator sends: owned Deployment, status, conditions, Events."""

from __future__ import annotations

import copy
import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from swell_operator.jobqueue import GROUP, KIND, VERSION
from swell_operator.scaling import Recommendation, ScaleEvent, ScalingState

JOBQUEUE_LABEL = "swell.dev/jobqueue"
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
IDLE_COST = -100  # below unannotated pods (0): idle workers go first
BUSY_COST = 1000  # plus the number of running jobs: the busiest go last
CONDITION_TYPES = ("Ready", "Active", "MetricsAvailable", "ScalingLimited", "Paused", "TargetConflict")


def rfc3339(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(s: str | None) -> float | None:
    if not s:
        return None
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def owner_reference(name: str, uid: str) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND, "name": name, "uid": uid,
            "controller": True, "blockOwnerDeletion": True}


def selector_labels(jobqueue: str) -> dict[str, str]:
    return {JOBQUEUE_LABEL: jobqueue}


def owned_deployment(namespace: str, name: str, uid: str, template: Mapping[str, Any],
                     replicas: int) -> dict[str, Any]:
    """The Deployment a JobQueue with ``spec.template`` owns (garbage-collected with it)."""
    labels = {"app.kubernetes.io/name": "swell-worker", "app.kubernetes.io/instance": name,
              "app.kubernetes.io/managed-by": "swell-operator", **selector_labels(name)}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels,
                     "ownerReferences": [owner_reference(name, uid)]},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector_labels(name)},
            "template": pod_template(name, template),
        },
    }


def pod_template(jobqueue: str, template: Mapping[str, Any]) -> dict[str, Any]:
    """The user's template plus the selector labels and $POD_NAME (workers report it, so the
    operator can match busy workers to pods)."""
    t = copy.deepcopy(dict(template))
    meta = t.setdefault("metadata", {})
    meta["labels"] = {**(meta.get("labels") or {}), **selector_labels(jobqueue)}
    for c in (t.get("spec") or {}).get("containers") or []:
        env = c.setdefault("env", [])
        if not any(e.get("name") == "POD_NAME" for e in env):
            env.append({"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})
    return t


def template_patch(existing: Mapping[str, Any], jobqueue: str, template: Mapping[str, Any]) \
        -> dict[str, Any] | None:
    """A merge patch that brings an owned Deployment's pod template up to date, or None.

    Never touches spec.replicas: that is the autoscaler's."""
    wanted = pod_template(jobqueue, template)
    if (existing.get("spec") or {}).get("template") == wanted:
        return None
    return {"spec": {"template": wanted}}


def label_selector(match_labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(match_labels.items()))


def deletion_costs(pods: Sequence[Mapping[str, Any]], running_by_pod: Mapping[str, int]) \
        -> dict[str, int]:
    """pod name -> deletion cost: idle pods low, busy pods high (more jobs, higher)."""
    costs = {}
    for pod in pods:
        name = pod["metadata"]["name"]
        running = running_by_pod.get(name, 0)
        costs[name] = BUSY_COST + running if running else IDLE_COST
    return costs


def cost_patches(pods: Sequence[Mapping[str, Any]], costs: Mapping[str, int]) -> dict[str, dict[str, Any]]:
    """Only the pods whose annotation differs (the docs ask not to update it needlessly)."""
    out = {}
    for pod in pods:
        name = pod["metadata"]["name"]
        have = ((pod["metadata"].get("annotations")) or {}).get(DELETION_COST)
        if name in costs and have != str(costs[name]):
            out[name] = {"metadata": {"annotations": {DELETION_COST: str(costs[name])}}}
    return out


def condition(type_: str, status: bool | None, reason: str, message: str) -> dict[str, Any]:
    return {"type": type_, "status": "Unknown" if status is None else ("True" if status else "False"),
            "reason": reason, "message": message}


def merge_conditions(old: Sequence[Mapping[str, Any]] | None, new: Sequence[Mapping[str, Any]],
                     now: float, generation: int | None) -> list[dict[str, Any]]:
    """New conditions, keeping lastTransitionTime when a condition's status did not change."""
    before = {c.get("type"): c for c in old or ()}
    out = []
    for c in new:
        prev = before.get(c["type"])
        changed = prev is None or prev.get("status") != c["status"]
        ltt = rfc3339(now) if changed or not prev or not prev.get("lastTransitionTime") \
            else prev["lastTransitionTime"]
        item = {**c, "lastTransitionTime": ltt}
        if generation is not None:
            item["observedGeneration"] = generation
        out.append(item)
    return out


def state_to_status(state: ScalingState) -> dict[str, Any]:
    return {
        "recommendations": [{"replicas": r.replicas, "since": rfc3339(r.since), "until": rfc3339(r.until)}
                            for r in state.recommendations],
        "scaleEvents": [{"time": rfc3339(e.at), "change": e.change} for e in state.events],
        "lastActiveTime": rfc3339(state.last_active) if state.last_active is not None else None,
        "lastScaleTime": rfc3339(state.last_scale) if state.last_scale is not None else None,
        "metricsFailures": state.failures,
    }


def state_from_status(status: Mapping[str, Any] | None) -> ScalingState:
    """The scaling state persisted by a previous operator (or an empty one)."""
    s = status or {}
    recs = []
    for r in s.get("recommendations") or ():
        since, until = parse_time(r.get("since")), parse_time(r.get("until"))
        if since is not None and until is not None:
            recs.append(Recommendation(int(r["replicas"]), since, until))
    events = []
    for e in s.get("scaleEvents") or ():
        at = parse_time(e.get("time"))
        if at is not None:
            events.append(ScaleEvent(at, int(e["change"])))
    return ScalingState(tuple(recs), tuple(events), parse_time(s.get("lastActiveTime")),
                        parse_time(s.get("lastScaleTime")), int(s.get("metricsFailures") or 0))


def event(namespace: str, involved: Mapping[str, Any], type_: str, reason: str, message: str, *,
          now: float, suffix: str) -> dict[str, Any]:
    """A core/v1 Event about a JobQueue (what `kubectl describe jq` shows)."""
    meta = involved["metadata"]
    ts = rfc3339(now).split(".")[0] + "Z"
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta['name']}.{suffix}", "namespace": namespace},
        "involvedObject": {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND, "name": meta["name"],
                           "namespace": namespace, "uid": meta.get("uid"),
                           "resourceVersion": meta.get("resourceVersion")},
        "type": type_,
        "reason": reason,
        "message": message[:1024],
        "source": {"component": "swell-operator"},
        "reportingComponent": "swell.dev/operator",
        "reportingInstance": "swell-operator",
        "firstTimestamp": ts,
        "lastTimestamp": ts,
        "count": 1,
    }
