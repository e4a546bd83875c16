"""Pure builders and conversions: owned Deployment, pod costs, conditions, persisted state, readings."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from swell.stats import QueueStats, Stats, WorkerInfo
from swell_operator import manifests
from swell_operator.jobqueue import parse_spec
from swell_operator.reconcile import reading_from
from swell_operator.scaling import Backlog, Recommendation, ScaleEvent, ScalingState

TEMPLATE = {"metadata": {"labels": {"app": "w"}},
            "spec": {"containers": [{"name": "w", "image": "i", "env": [{"name": "A", "value": "1"}]}]}}


def test_owned_deployment() -> None:
    d = manifests.owned_deployment("ns", "mail", "uid-1", TEMPLATE, replicas=2)
    assert d["metadata"]["ownerReferences"] == [{
        "apiVersion": "swell.dev/v1alpha1", "kind": "JobQueue", "name": "mail", "uid": "uid-1",
        "controller": True, "blockOwnerDeletion": True}]
    assert d["spec"]["replicas"] == 2
    labels = d["spec"]["template"]["metadata"]["labels"]
    assert labels == {"app": "w", "swell.dev/jobqueue": "mail"}
    assert d["spec"]["selector"]["matchLabels"].items() <= labels.items()
    env = d["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e["name"] for e in env] == ["A", "POD_NAME"]
    assert TEMPLATE["spec"]["containers"][0]["env"] == [{"name": "A", "value": "1"}]  # not mutated


def test_template_patch_is_idempotent_and_leaves_replicas() -> None:
    d = manifests.owned_deployment("ns", "mail", "u", TEMPLATE, replicas=7)
    assert manifests.template_patch(d, "mail", TEMPLATE) is None
    changed = {**TEMPLATE, "metadata": {"labels": {"app": "w2"}}}
    patch = manifests.template_patch(d, "mail", changed)
    assert patch is not None and "replicas" not in patch["spec"]
    assert patch["spec"]["template"]["metadata"]["labels"]["app"] == "w2"


def test_deletion_costs_and_only_changed_pods_patched() -> None:
    pods = [{"metadata": {"name": n, "annotations": a}} for n, a in [
        ("busy", {}), ("idle", {manifests.DELETION_COST: "-100"}), ("new", None)]]
    costs = manifests.deletion_costs(pods, {"busy": 3})
    assert costs == {"busy": 1003, "idle": -100, "new": -100}
    assert set(manifests.cost_patches(pods, costs)) == {"busy", "new"}


def test_conditions_keep_transition_time_when_status_unchanged() -> None:
    first = manifests.merge_conditions(None, [manifests.condition("Ready", True, "Scaling", "")], 100.0, 1)
    again = manifests.merge_conditions(first, [manifests.condition("Ready", True, "Scaling", "x")], 200.0, 2)
    assert again[0]["lastTransitionTime"] == first[0]["lastTransitionTime"]
    assert again[0]["observedGeneration"] == 2
    flipped = manifests.merge_conditions(again, [manifests.condition("Ready", False, "X", "")], 300.0, 2)
    assert flipped[0]["lastTransitionTime"] == manifests.rfc3339(300.0)


times = st.floats(1e9, 2e9).map(lambda t: round(t, 3))


@given(st.lists(st.builds(Recommendation, st.integers(0, 100), times, times), max_size=5),
       st.lists(st.builds(ScaleEvent, times, st.integers(-50, 50)), max_size=5),
       st.none() | times, st.none() | times, st.integers(0, 10))
def test_state_survives_the_status_round_trip(recs: list[Recommendation], events: list[ScaleEvent],
                                              active: float | None, scaled: float | None,
                                              failures: int) -> None:
    state = ScalingState(tuple(recs), tuple(events), active, scaled, failures)
    back = manifests.state_from_status(manifests.state_to_status(state))
    assert back.failures == failures and len(back.recommendations) == len(recs)
    for a, b in zip(back.recommendations, recs, strict=True):
        assert a.replicas == b.replicas and abs(a.since - b.since) < 1e-3 and abs(a.until - b.until) < 1e-3
    for x, y in zip(back.events, events, strict=True):
        assert x.change == y.change and abs(x.at - y.at) < 1e-3
    assert (back.last_active is None) == (active is None)


def test_reading_sums_our_queues_and_counts_our_busy_workers() -> None:
    stats = Stats(at=0.0, queues={
        "a": QueueStats("a", pending={"critical": 1, "high": 0, "normal": 5, "low": 0}, scheduled=7,
                        scheduled_due=2, running=3),
        "b": QueueStats("b", pending={"critical": 0, "high": 0, "normal": 4, "low": 1}, running=1),
        "other": QueueStats("other", pending={"critical": 0, "high": 0, "normal": 100, "low": 0}, running=9),
    }, workers=[
        WorkerInfo("w1", "h", 1, ("a",), 4, running=("j1", "j2"), pod="p1"),
        WorkerInfo("w2", "h", 2, ("b", "other"), 4, running=("j3",), pod="p2"),
        WorkerInfo("w3", "h", 3, ("a",), 4, pod="p3"),
        WorkerInfo("w4", "h", 4, ("other",), 4, running=("j9",), pod="p4"),
    ])
    r = reading_from(stats, ("a", "b", "missing"))
    assert r.backlog == Backlog(pending=11, due=2, running=4)
    assert r.scheduled == 7  # reported, not counted
    assert r.pending_by_priority == {"critical": 1, "high": 0, "normal": 9, "low": 1}
    assert r.busy_workers == 2 and r.running_by_pod == {"p1": 2, "p2": 1}


def test_redis_address_never_carries_a_password() -> None:
    def addr(**r: object) -> str:
        return parse_spec({"queues": ["q"], "redis": r, "deploymentRef": {"name": "w"}}).redis.address()
    assert addr(host="r", port=6380, database=2) == "redis://r:6380/2"
    assert addr(host="r", tls={"enabled": True}) == "rediss://r:6379/0"
    assert addr(url="redis://r:1/0", tls={"enabled": True}) == "rediss://r:1/0"
    assert addr(url="rediss://r:1/0") == "rediss://r:1/0"
