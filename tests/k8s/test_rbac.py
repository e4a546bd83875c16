"""RBAC contract: every call the real operator made (kmock's request log) is granted by the chart.

The flow below touches every code path that calls the API: owned Deployment creation, scaling up
and down, pod deletion costs, the Redis password Secret, conflict detection, Events, status, and
deletion (kopf's finalizer).
"""

from __future__ import annotations

import base64
import re
import types
from collections.abc import Iterator
from typing import Any

import helm_python as helm
import pytest
import yaml

from redis_support import RedisServer
from swell.settings import Settings
from swell.store.redis import RedisStore
from swell_operator import kube

from .conftest import DEPLOY, JQ, JQ_URL, PODS
from .emulator import CHART, eventually, pod, rbac_allows, rbac_needs
from .test_operator import TEMPLATE, drain, enqueue, events, replicas

PASSWORD = "rbac-pw"


def documented_needs() -> tuple[set[tuple[str, str, str]], set[tuple[str, str, str]]]:
    """The table at the top of swell_operator/kube.py: (namespaced needs, cluster-wide extras)."""
    namespaced: set[tuple[str, str, str]] = set()
    cluster: set[tuple[str, str, str]] = set()
    target = namespaced
    for line in (kube.__doc__ or "").splitlines():
        if "cluster-wide mode only" in line:
            target = cluster
        parts = re.split(r"\s{2,}", line.strip())
        if len(parts) >= 3 and parts[0] != "group" and re.fullmatch(r'""|[a-z0-9.-]+', parts[0]) \
                and re.fullmatch(r"[a-z]+(/[a-z]+)?", parts[1]):
            group = "" if parts[0] == '""' else parts[0]
            target |= {(group, parts[1], verb) for verb in parts[2].split()}
    return namespaced, cluster


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    with helm.Chart.load(CHART) as chart:
        out = chart.render(values, name="swell", namespace="default")
    return [d for path, text in out.items() if not path.endswith("NOTES.txt")
            for d in yaml.safe_load_all(text) if d]


@pytest.fixture
def password_redis() -> Iterator[RedisServer]:
    server = RedisServer(password=PASSWORD)
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


def test_the_documented_table_parses() -> None:
    namespaced, cluster = documented_needs()
    assert ("apps", "deployments/scale", "patch") in namespaced
    assert ("", "pods", "patch") in namespaced
    assert ("apiextensions.k8s.io", "customresourcedefinitions", "watch") in cluster


async def test_chart_rbac_covers_every_call(cluster: types.SimpleNamespace, operator: Any,
                                            password_redis: RedisServer) -> None:
    k = cluster.kmock
    k.objects["v1/secrets", "default", "redis-auth"] = {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "redis-auth", "namespace": "default", "resourceVersion": "1"},
        "data": {"password": base64.b64encode(PASSWORD.encode()).decode()}}
    store = RedisStore.from_url(password_redis.url, settings=Settings(key_prefix="rbac"))
    try:
        await enqueue(store, 30)
        body = {"apiVersion": "swell.dev/v1alpha1", "kind": "JobQueue", "metadata": {"name": "rb"},
                "spec": {"queues": ["emails"], "template": TEMPLATE,
                         "redis": {"host": "127.0.0.1", "port": password_redis.port, "keyPrefix": "rbac",
                                   "passwordSecretRef": {"name": "redis-auth"}},
                         "scaling": {"jobsPerReplica": 10, "pollIntervalSeconds": 1, "cooldownSeconds": 600,
                                     "scaleUp": {"policies": [{"type": "Pods", "value": 10,
                                                               "periodSeconds": 1}]},
                                     "scaleDown": {"stabilizationWindowSeconds": 0}}}}
        resp = await k.post(JQ_URL, json=body)
        assert resp.status == 200, await resp.text()
        await eventually(lambda: replicas(k, "rb") == 3, what="scaled up")
        for name in ("rb-1", "rb-2", "rb-3"):
            k.objects[PODS, "default", name] = pod(name, {"swell.dev/jobqueue": "rb"})
        await drain(store)
        await eventually(lambda: replicas(k, "rb") == 1, what="scaled down")
        await eventually(lambda: events(k, "ScaleDown"), what="ScaleDown event")
    finally:
        await store.close()
    resp = await k.delete(JQ_URL + "/rb")
    assert resp.status == 200
    await eventually(lambda: k.objects[JQ, "default", "rb"].deleted, what="JobQueue deleted")
    assert k.objects[DEPLOY, "default", "rb"]  # kmock has no GC; the ownerReference is the cleanup

    needs = rbac_needs(list(k))
    namespaced, cluster_wide = documented_needs()
    for call in [("apps", "deployments", "create"), ("apps", "deployments/scale", "patch"),
                 ("", "pods", "list"), ("", "pods", "patch"), ("", "secrets", "get"),
                 ("autoscaling", "horizontalpodautoscalers", "list"), ("", "events", "create"),
                 ("swell.dev", "jobqueues/status", "patch"), ("swell.dev", "jobqueues", "watch")]:
        assert call in needs, call
    undocumented = sorted(needs - namespaced)
    assert not undocumented, f"calls missing from the table in swell_operator/kube.py: {undocumented}"

    docs = render({})
    roles = [d for d in docs if d["kind"] == "Role"]
    assert roles, "the chart renders no Role by default"
    missing = sorted(n for n in namespaced if not any(rbac_allows(r, *n) for r in roles))
    assert not missing, f"charts/swell Role lacks: {missing}"

    cluster_role = [d for d in render({"clusterWide": True}) if d["kind"] == "ClusterRole"]
    assert cluster_role
    missing = sorted(n for n in namespaced | cluster_wide if not rbac_allows(cluster_role[0], *n))
    assert not missing, f"charts/swell ClusterRole lacks: {missing}"
