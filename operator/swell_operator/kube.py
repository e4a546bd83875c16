"""The only module that calls the Kubernetes API (kubernetes client, run in threads).

RBAC the operator needs (charts/swell/templates/rbac.yaml mirrors this list; the test
tests/k8s/test_operator.py::test_chart_rbac_covers_every_call checks it from real traffic):

    group          resource                  verbs             who / why
    swell.dev      jobqueues                 list watch patch  kopf: watch; finalizer, progress
    swell.dev      jobqueues/status          patch             status, conditions, scaling state
    apps           deployments               get create patch  read the target; create/update owned
    apps           deployments/scale         patch             set replicas
    ""             pods                      list patch        pod-deletion-cost before scale-down
    ""             secrets                   get               redis passwordSecretRef/caSecretRef
    autoscaling    horizontalpodautoscalers  list              TargetConflict detection
    keda.sh        scaledobjects             list              TargetConflict (404 = no KEDA)
    ""             events                    create            scale decisions, kopf's warnings
    events.k8s.io  events                    create            kopf may use the new Events API
  cluster-wide mode only (kopf --all-namespaces watches CRDs; it never lists namespaces):
    apiextensions.k8s.io  customresourcedefinitions  list watch
  optional: core namespaces list/watch lets kopf resolve namespace globs in namespaced mode;
  without it kopf logs a warning and uses the exact names given (what the chart relies on).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Mapping
from typing import Any

import kubernetes

from swell_operator.jobqueue import GROUP, PLURAL, VERSION

log = logging.getLogger(__name__)

MERGE_PATCH = "application/merge-patch+json"


class KubeError(Exception):
    """A Kubernetes API call failed (status 0 when no HTTP answer came)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class Kube:
    """Async facade over the sync kubernetes client; every call returns plain dicts."""

    def __init__(self, client: kubernetes.client.ApiClient) -> None:
        self.client = client
        self.core = kubernetes.client.CoreV1Api(client)
        self.apps = kubernetes.client.AppsV1Api(client)
        self.custom = kubernetes.client.CustomObjectsApi(client)
        self.autoscaling = kubernetes.client.AutoscalingV2Api(client)

    @classmethod
    def connect(cls) -> Kube:
        """In-cluster config, else the kubeconfig ($KUBECONFIG or ~/.kube/config)."""
        config = kubernetes.client.Configuration()
        try:
            kubernetes.config.load_incluster_config(client_configuration=config)  # type: ignore[no-untyped-call]
        except kubernetes.config.ConfigException:
            kubernetes.config.load_kube_config(client_configuration=config)  # type: ignore[no-untyped-call]
        return cls(kubernetes.client.ApiClient(configuration=config))

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        def run() -> Any:
            try:
                resp = fn(*args, _preload_content=False, **kwargs)
            except kubernetes.client.ApiException as e:
                raise KubeError(int(e.status or 0), _api_message(e)) from None
            data = resp.data
            return json.loads(data) if data else None

        return await asyncio.to_thread(run)

    # -- Deployments --------------------------------------------------------------------------
    async def get_deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = await self._call(self.apps.read_namespaced_deployment, name, namespace)
        except KubeError as e:
            if e.status == 404:
                return None
            raise
        return result

    async def create_deployment(self, namespace: str, body: Mapping[str, Any]) -> None:
        await self._call(self.apps.create_namespaced_deployment, namespace, body)

    async def patch_deployment(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        await self._call(self.apps.patch_namespaced_deployment, name, namespace, patch,
                         _content_type=MERGE_PATCH)

    async def scale_deployment(self, namespace: str, name: str, replicas: int) -> None:
        await self._call(self.apps.patch_namespaced_deployment_scale, name, namespace,
                         {"spec": {"replicas": replicas}}, _content_type=MERGE_PATCH)

    # -- Pods ---------------------------------------------------------------------------------
    async def list_pods(self, namespace: str, match_labels: Mapping[str, str]) -> list[dict[str, Any]]:
        selector = ",".join(f"{k}={v}" for k, v in sorted(match_labels.items()))
        result = await self._call(self.core.list_namespaced_pod, namespace, label_selector=selector)
        items = (result or {}).get("items") or []
        # Filter here too: the selector is the server's job, but costs nothing to re-check.
        return [p for p in items
                if all(((p.get("metadata") or {}).get("labels") or {}).get(k) == v
                       for k, v in match_labels.items())]

    async def annotate_pod(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        await self._call(self.core.patch_namespaced_pod, name, namespace, patch, _content_type=MERGE_PATCH)

    # -- Secrets ------------------------------------------------------------------------------
    async def secret_value(self, namespace: str, name: str, key: str) -> str:
        secret = await self._call(self.core.read_namespaced_secret, name, namespace)
        data = (secret or {}).get("data") or {}
        if key not in data:
            raise KubeError(404, f"secret {namespace}/{name} has no key {key!r}")
        return base64.b64decode(data[key]).decode()

    # -- other scalers of the same Deployment -------------------------------------------------
    async def scalers_targeting(self, namespace: str, deployment: str) -> list[str]:
        """"HorizontalPodAutoscaler/x" and "ScaledObject/y" objects that scale this Deployment."""
        found = []
        hpas = await self._call(self.autoscaling.list_namespaced_horizontal_pod_autoscaler, namespace)
        for h in (hpas or {}).get("items") or []:
            ref = (h.get("spec") or {}).get("scaleTargetRef") or {}
            if ref.get("kind") == "Deployment" and ref.get("name") == deployment:
                found.append(f"HorizontalPodAutoscaler/{h['metadata']['name']}")
        try:
            sos = await self._call(self.custom.list_namespaced_custom_object,
                                   "keda.sh", "v1alpha1", namespace, "scaledobjects")
        except KubeError as e:
            if e.status != 404:  # 404: KEDA is not installed
                raise
            sos = None
        for so in (sos or {}).get("items") or []:
            ref = (so.get("spec") or {}).get("scaleTargetRef") or {}
            if ref.get("kind", "Deployment") == "Deployment" and ref.get("name") == deployment:
                found.append(f"ScaledObject/{so['metadata']['name']}")
        return found

    # -- the JobQueue itself ------------------------------------------------------------------
    async def patch_jobqueue_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        await self._call(self.custom.patch_namespaced_custom_object_status, GROUP, VERSION, namespace,
                         PLURAL, name, {"status": status}, _content_type=MERGE_PATCH)

    async def post_event(self, namespace: str, body: Mapping[str, Any]) -> None:
        """Best effort: an Event that cannot be posted is logged, never fatal."""
        try:
            await self._call(self.core.create_namespaced_event, namespace, body)
        except KubeError as e:
            log.warning("could not post event %s: %s", body.get("reason"), e)

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]


def _api_message(e: kubernetes.client.ApiException) -> str:
    try:
        body = json.loads(e.body or "{}")
        return str(body.get("message") or e.reason)
    except (ValueError, AttributeError):
        return str(e.reason)
