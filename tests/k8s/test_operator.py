"""The real operator (kopf run) against kmock and a real private Redis, with short intervals."""

from __future__ import annotations

import asyncio
import time
import types
from typing import Any

import httpx
import kmock

from swell.job import new_job
from swell.settings import Settings
from swell.stats import WorkerInfo
from swell.store.base import Outcome, OutcomeKind
from swell.store.redis import RedisStore

from .conftest import DEPLOY, JQ, JQ_URL, PODS
from .emulator import deployment, eventually, pod

TEMPLATE = {"metadata": {"labels": {"app": "worker"}},
            "spec": {"containers": [{"name": "worker", "image": "swell:test",
                                     "command": ["swell", "worker"]}]}}


def jobqueue(name: str, redis: dict[str, Any], **scaling: Any) -> dict[str, Any]:
    target = scaling.pop("target", {"template": TEMPLATE})
    base = {"minReplicas": 0, "maxReplicas": 10, "jobsPerReplica": 50, "pollIntervalSeconds": 1,
            "cooldownSeconds": 4,
            "scaleUp": {"policies": [{"type": "Pods", "value": 100, "periodSeconds": 1}]},
            "scaleDown": {"stabilizationWindowSeconds": 2,
                          "policies": [{"type": "Percent", "value": 100, "periodSeconds": 1}]}}
    return {"apiVersion": "swell.dev/v1alpha1", "kind": "JobQueue", "metadata": {"name": name},
            "spec": {"queues": ["emails"], "redis": redis, **target, "scaling": {**base, **scaling}}}


def replicas(kmock: Any, name: str) -> int:
    return int(kmock.objects[DEPLOY, "default", name]["spec"]["replicas"])


def status(kmock: Any, name: str) -> dict[str, Any]:
    return dict(kmock.objects[JQ, "default", name].get("status") or {})


def cond(kmock: Any, name: str, type_: str) -> dict[str, Any]:
    return next(c for c in status(kmock, name)["conditions"] if c["type"] == type_)


def events(kmock: Any, reason: str | None = None) -> list[dict[str, Any]]:
    out = []
    for (res, _ns, _name), obj in kmock.objects.items():
        if str(res).startswith("v1/events") or "events" in str(res):
            body = dict(obj)
            if reason is None or body.get("reason") == reason:
                out.append(body)
    return out


async def enqueue(store: RedisStore, n: int, queue: str = "emails") -> None:
    now = time.time()
    await store.enqueue_many([new_job("noop", {"i": i}, now=now, queue=queue) for i in range(n)])


async def drain(store: RedisStore, queue: str = "emails") -> None:
    while jobs := await store.claim(queue, "test-worker", 200):
        await store.settle([Outcome(j, OutcomeKind.COMPLETE) for j in jobs])


async def post(kmock: Any, body: dict[str, Any]) -> None:
    resp = await kmock.post(JQ_URL, json=body)
    assert resp.status == 200, await resp.text()


def deployment_gets(kmock: Any, name: str) -> int:
    return len(kmock[f"get /apis/apps/v1/namespaces/default/deployments/{name}"])


async def test_template_lifecycle_scale_up_down_and_to_zero(
        cluster: types.SimpleNamespace, operator: Any, store: RedisStore, redis_url: str,
        key_prefix: str) -> None:
    k = cluster.kmock
    await post(k, jobqueue("mail", {"url": redis_url, "keyPrefix": key_prefix}))

    # The Deployment appears, owned by the JobQueue, at minReplicas.
    dep = await eventually(lambda: k.objects[DEPLOY, "default", "mail"], what="Deployment created")
    owner = dep["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("JobQueue", "mail", True)
    assert owner["uid"] == k.objects[JQ, "default", "mail"]["metadata"]["uid"]
    assert dep["spec"]["replicas"] == 0
    assert dep["spec"]["selector"]["matchLabels"] == {"swell.dev/jobqueue": "mail"}
    env = dep["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in env
    await eventually(lambda: cond(k, "mail", "Ready")["status"] == "True", what="Ready")
    jq = k.objects[JQ, "default", "mail"]
    assert jq["metadata"]["finalizers"] == ["swell.dev/operator"]
    assert {c["type"] for c in jq["status"]["conditions"]} == {
        "Ready", "Active", "MetricsAvailable", "ScalingLimited", "Paused", "TargetConflict"}
    async with httpx.AsyncClient() as http:
        assert (await http.get(operator.liveness)).status_code == 200

    # A template change updates the owned Deployment's pods, not its replicas.
    new_template = {**TEMPLATE, "metadata": {"labels": {"app": "worker", "rev": "2"}}}
    resp = await k.patch(f"{JQ_URL}/mail", json={"spec": {"template": new_template}},
                         headers={"Content-Type": "application/merge-patch+json"})
    assert resp.status == 200, await resp.text()
    await eventually(lambda: k.objects[DEPLOY, "default", "mail"]["spec"]["template"]["metadata"]["labels"]
                     .get("rev") == "2", what="template updated")
    assert replicas(k, "mail") == 0

    # 500 jobs: ceil(500 / 50) = 10 replicas within two polls (counted in polls, not seconds).
    polls_before = deployment_gets(k, "mail")
    await enqueue(store, 500)
    await eventually(lambda: replicas(k, "mail") == 10, what="scaled to 10")
    assert deployment_gets(k, "mail") - polls_before <= 2
    await eventually(lambda: status(k, "mail")["backlog"]["total"] == 500)
    st = status(k, "mail")
    assert st["backlog"]["pending"]["normal"] == 500 and st["desiredReplicas"] == 10
    assert st["queues"] == "emails" and st["selector"] == "swell.dev/jobqueue=mail"
    assert cond(k, "mail", "Active")["status"] == "True"
    up = await eventually(lambda: events(k, "Activated") or events(k, "ScaleUp"), what="scale event")
    assert "from 0 to 10" in up[0]["message"] and "backlog 500" in up[0]["message"]

    # Run them: down after the stabilization window (2 s), to zero after the cooldown (4 s).
    # Both run from the last poll that saw the backlog, up to one poll (1 s) before the drain.
    await drain(store)
    drained = time.monotonic()
    await eventually(lambda: replicas(k, "mail") == 1, what="scaled down to 1")
    assert time.monotonic() - drained >= 2 - 1.1  # not before the window
    await eventually(lambda: replicas(k, "mail") == 0, what="scaled to zero")
    assert time.monotonic() - drained >= 4 - 1.1  # not before the cooldown
    history = [v["spec"]["replicas"] for v in k.objects[DEPLOY, "default", "mail"].history if v]
    assert history[-3:] == [10, 1, 0]
    await eventually(lambda: events(k, "ScaledToZero"), what="ScaledToZero event")
    st = status(k, "mail")
    assert st["lastScaleTime"] and st["lastActiveTime"] and st["recommendations"]
    await eventually(lambda: cond(k, "mail", "Active")["status"] == "False", what="inactive")


async def test_invalid_jobqueue_is_rejected_with_the_schema_message(
        cluster: types.SimpleNamespace, redis_url: str) -> None:
    k = cluster.kmock
    redis = {"url": redis_url}
    cases = [
        (jobqueue("a", redis, maxReplicas=0), "maxReplicas: 0 is less than the minimum of 1"),
        (jobqueue("b", redis, minReplicas=5, maxReplicas=2), "minReplicas must be <= scaling.maxReplicas"),
        (jobqueue("c", redis, target={"deploymentRef": {"name": "w"}, "template": TEMPLATE}),
         "set exactly one of deploymentRef and template"),
        (jobqueue("d", {"url": "redis://user:hunter2@redis:6379/0"}), "never inline"),
        (jobqueue("e", redis, scaleDown={"selectPolicy": "Sometimes"}), "'Sometimes' is not one of"),
        (jobqueue("f", redis, fallback={"replicas": 3, "mode": "random"}), "'random' is not one of"),
    ]
    for body, message in cases:
        resp = await k.post(JQ_URL, json=body)
        text = await resp.text()
        assert resp.status == 422, (body["metadata"]["name"], text)
        assert message in text, text
    resp = await k.post(JQ_URL, json=jobqueue("ok", redis))
    assert resp.status == 200
    stored = k.objects[JQ, "default", "ok"]
    assert stored["spec"]["scaling"]["activationBacklog"] == 1  # CRD defaults applied
    assert stored["spec"]["redis"]["keyPrefix"] == "swell"


async def test_hpa_on_the_same_deployment_gives_target_conflict(
        cluster: types.SimpleNamespace, operator: Any, store: RedisStore, redis_url: str,
        key_prefix: str) -> None:
    k = cluster.kmock
    k.objects[DEPLOY, "default", "workers"] = deployment("workers", replicas=2)
    k.objects["autoscaling/v2/horizontalpodautoscalers", "default", "workers-hpa"] = {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "workers-hpa", "namespace": "default", "resourceVersion": "1"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "workers"},
                 "minReplicas": 1, "maxReplicas": 5}}
    await enqueue(store, 300)
    await post(k, jobqueue("ref", {"url": redis_url, "keyPrefix": key_prefix},
                           target={"deploymentRef": {"name": "workers"}}))
    c = await eventually(lambda: cond(k, "ref", "TargetConflict"), what="TargetConflict set")
    assert c["status"] == "True" and "HorizontalPodAutoscaler/workers-hpa" in c["message"]
    assert cond(k, "ref", "Ready")["status"] == "False"
    await eventually(lambda: events(k, "OtherAutoscaler"), what="conflict event")
    # Several polls later the replicas are untouched (the backlog would ask for 6).
    polls = deployment_gets(k, "workers")
    await eventually(lambda: deployment_gets(k, "workers") >= polls + 2, what="more polls")
    assert replicas(k, "workers") == 2
    assert not k["patch /apis/apps/v1/namespaces/default/deployments/workers/scale"]

    # The HPA goes away: the JobQueue takes over.
    del k.objects["autoscaling/v2/horizontalpodautoscalers", "default", "workers-hpa"]
    await eventually(lambda: replicas(k, "workers") == 6, what="scaled once the conflict is gone")
    await eventually(lambda: cond(k, "ref", "TargetConflict")["status"] == "False", what="no conflict")

    # A KEDA ScaledObject on it is a conflict too.
    k.resources["keda.sh/v1alpha1/scaledobjects"] = kmock.ResourceInfo(
        kind="ScaledObject", singular="scaledobject", namespaced=True, verbs={"get", "list", "watch"})
    k.objects["keda.sh/v1alpha1/scaledobjects", "default", "so"] = {
        "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
        "metadata": {"name": "so", "namespace": "default", "resourceVersion": "1"},
        "spec": {"scaleTargetRef": {"name": "workers"}}}
    c = await eventually(lambda: cond(k, "ref", "TargetConflict")["status"] == "True"
                         and cond(k, "ref", "TargetConflict"), what="ScaledObject conflict")
    assert "ScaledObject/so" in c["message"]


async def test_idle_pods_get_a_low_deletion_cost_before_scale_down(
        cluster: types.SimpleNamespace, operator: Any, store: RedisStore, redis_url: str,
        key_prefix: str) -> None:
    k = cluster.kmock
    k.objects[DEPLOY, "default", "workers"] = deployment("workers", replicas=3)
    labels = {"app.kubernetes.io/name": "workers"}
    for name in ("w-busy", "w-idle1", "w-idle2"):
        k.objects[PODS, "default", name] = pod(name, labels)
    k.objects[PODS, "default", "other"] = pod("other", {"app": "else"})
    await enqueue(store, 1)
    job, = await store.claim("emails", "wb", 1)
    now = time.time()
    await store.register_worker(WorkerInfo(id="wb", host="h", pid=1, queues=("emails",), concurrency=1,
                                           running=(job.id,), pod="w-busy", started_at=now,
                                           last_heartbeat=now))
    await store.register_worker(WorkerInfo(id="wi", host="h", pid=2, queues=("emails",), concurrency=1,
                                           pod="w-idle1", started_at=now, last_heartbeat=now))
    await post(k, jobqueue("ref", {"url": redis_url, "keyPrefix": key_prefix},
                           target={"deploymentRef": {"name": "workers"}}, jobsPerReplica=10,
                           scaleDown={"stabilizationWindowSeconds": 0}, cooldownSeconds=600))
    await eventually(lambda: replicas(k, "workers") == 1, what="scaled down to the busy worker")

    cost = "controller.kubernetes.io/pod-deletion-cost"
    ann = {n: (k.objects[PODS, "default", n]["metadata"].get("annotations") or {}).get(cost)
           for n in ("w-busy", "w-idle1", "w-idle2", "other")}
    assert ann == {"w-busy": "1001", "w-idle1": "-100", "w-idle2": "-100", "other": None}
    # Order: every cost annotation was patched before the replicas were.
    log = [(r.method, str(r.url.path)) for r in k if str(getattr(r.method, "value", r.method)) == "PATCH"]
    paths = [p for _, p in log]
    scale_at = paths.index("/apis/apps/v1/namespaces/default/deployments/workers/scale")
    pod_patches = [i for i, p in enumerate(paths) if "/pods/" in p]
    assert pod_patches and max(pod_patches) < scale_at


async def test_redis_outage_holds_sets_condition_falls_back_and_recovers(
        cluster: types.SimpleNamespace, operator: Any, redis_server: Any) -> None:
    k = cluster.kmock
    prefix = "outage"
    s = RedisStore.from_url(redis_server.url, settings=Settings(key_prefix=prefix))
    try:
        await enqueue(s, 100)
        await post(k, jobqueue("out", {"url": redis_server.url, "keyPrefix": prefix},
                               fallback={"failureThreshold": 3, "replicas": 5}))
        await eventually(lambda: replicas(k, "out") == 2, what="scaled on backlog")

        await s.close()
        await asyncio.to_thread(redis_server.stop)
        c = await eventually(lambda: cond(k, "out", "MetricsAvailable")["status"] == "False"
                             and cond(k, "out", "MetricsAvailable"), what="MetricsAvailable=False")
        assert c["reason"] == "Unreachable" and "cannot reach Redis" in c["message"]
        assert replicas(k, "out") in (2, 5)  # held (or already fell back), never lowered
        await eventually(lambda: replicas(k, "out") == 5, what="fallback applied")
        await eventually(lambda: status(k, "out")["metricsFailures"] >= 3, what="failures counted")
        history = [v["spec"]["replicas"] for v in k.objects[DEPLOY, "default", "out"].history if v]
        assert history[-2:] == [2, 5], "no scale-down while metrics were unavailable"
        await eventually(lambda: events(k, "Unreachable") and events(k, "Fallback"), what="events")

        await asyncio.to_thread(redis_server.start)  # empty now (no persistence)
        s = RedisStore.from_url(redis_server.url, settings=Settings(key_prefix=prefix))
        await enqueue(s, 400)
        await eventually(lambda: cond(k, "out", "MetricsAvailable")["status"] == "True", what="recovered")
        await eventually(lambda: replicas(k, "out") == 8, what="scaling on data again")
        await eventually(lambda: status(k, "out")["metricsFailures"] == 0, what="failures reset")
    finally:
        await s.close()


async def test_restarted_operator_keeps_its_stabilization_window(
        cluster: types.SimpleNamespace, operator: Any, store: RedisStore, redis_url: str,
        key_prefix: str) -> None:
    k = cluster.kmock
    window = 5
    await enqueue(store, 400)
    await post(k, jobqueue("rs", {"url": redis_url, "keyPrefix": key_prefix}, cooldownSeconds=600,
                           scaleDown={"stabilizationWindowSeconds": window,
                                      "policies": [{"type": "Percent", "value": 100, "periodSeconds": 1}]}))
    await eventually(lambda: replicas(k, "rs") == 8, what="scaled to 8")
    await drain(store)
    drained = time.monotonic()
    await eventually(lambda: status(k, "rs")["backlog"]["total"] == 0, what="saw the empty queue")

    await operator.stop()  # mid-window
    assert replicas(k, "rs") == 8
    assert any(r["replicas"] == 8 for r in status(k, "rs")["recommendations"])
    await operator.start()
    await eventually(lambda: replicas(k, "rs") == 1, what="scaled down after the window")
    # A fresh operator without the persisted window would have scaled down at once.
    assert time.monotonic() - drained >= window - 1.1  # the window runs from the last busy poll


async def test_paused_applies_spec_replicas_as_a_manual_setting(
        cluster: types.SimpleNamespace, operator: Any, store: RedisStore, redis_url: str,
        key_prefix: str) -> None:
    k = cluster.kmock
    k.objects[DEPLOY, "default", "workers"] = deployment("workers", replicas=2)
    await enqueue(store, 200)
    body = jobqueue("p", {"url": redis_url, "keyPrefix": key_prefix},
                    target={"deploymentRef": {"name": "workers"}}, paused=True)
    await post(k, body)
    await eventually(lambda: cond(k, "p", "Paused")["status"] == "True", what="Paused")
    assert replicas(k, "workers") == 2  # paused without spec.replicas: left alone
    resp = await k.patch(f"{JQ_URL}/p", json={"spec": {"replicas": 3}},
                         headers={"Content-Type": "application/merge-patch+json"})
    assert resp.status == 200
    await eventually(lambda: replicas(k, "workers") == 3, what="manual replicas applied")
    resp = await k.patch(f"{JQ_URL}/p", json={"spec": {"scaling": {"paused": False}}},
                         headers={"Content-Type": "application/merge-patch+json"})
    await eventually(lambda: replicas(k, "workers") == 4, what="autoscaling again (200 / 50)")
    await eventually(lambda: cond(k, "p", "Paused")["status"] == "False", what="not paused")
