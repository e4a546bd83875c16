"""Render charts/swell offline with the real Helm engine, for the delivery and RBAC contract tests.

    from delivery.render import render_chart, rbac_rules
    docs = render_chart({"clusterWide": True})

(`tests/` is on sys.path because tests/conftest.py sits there without an __init__.py.)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml
from helm_python import _native

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "swell"
CRD_SOURCE = REPO / "crds" / "jobqueue.yaml"
CRD_CHART_COPY = CHART / "files" / "jobqueue.yaml"

RELEASE = "swell"
NAMESPACE = "swell-system"
MONITORING_API = "monitoring.coreos.com/v1"


def render_templates(
    values: dict[str, Any] | None = None,
    *,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
    api_versions: Sequence[str] = (),
    kube_version: str | None = None,
) -> dict[str, str]:
    """Template path -> rendered text, like `helm template` (schema enforced, hooks included).

    `api_versions` and `kube_version` fill `.Capabilities` (`helm template --api-versions
    --kube-version`). helm-python-sdk's public `Chart.render` does not expose them yet, but its
    native `helm_render` call accepts them, so the options are passed through directly.
    """
    opts: dict[str, Any] = {"name": release, "namespace": namespace, "is_install": True}
    if api_versions:
        opts["api_versions"] = list(api_versions)
    if kube_version:
        opts["kube_version"] = kube_version
    with helm.Chart.load(CHART) as chart:
        rendered = _native.call_string(
            "helm_render", chart._raw(), json.dumps(values or {}), json.dumps(opts)
        )
    manifests: dict[str, str] = json.loads(rendered)
    return manifests


def render_chart(
    values: dict[str, Any] | None = None,
    *,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
    api_versions: Sequence[str] = (),
    kube_version: str | None = None,
) -> list[dict[str, Any]]:
    """Every Kubernetes object the chart renders for `values` (NOTES.txt left out), in file order."""
    out = render_templates(
        values, release=release, namespace=namespace, api_versions=api_versions, kube_version=kube_version
    )
    docs: list[dict[str, Any]] = []
    for path in sorted(out):
        if path.endswith("NOTES.txt"):
            continue
        docs.extend(d for d in yaml.safe_load_all(out[path]) if d)
    return docs


def of_kind(docs: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d.get("kind") == kind]


def one(docs: Iterable[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in of_kind(docs, kind) if name is None or d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {[d['metadata']['name'] for d in found]}"
    return found[0]


def is_hook(doc: dict[str, Any]) -> bool:
    return "helm.sh/hook" in (doc.get("metadata", {}).get("annotations") or {})


def rbac_rules(values: dict[str, Any] | None = None, **render_kwargs: Any) -> list[dict[str, Any]]:
    """The operator's rendered RBAC rules: the ClusterRole's when clusterWide, else the Roles'
    (all watched namespaces get the same rules, so the first Role is returned)."""
    docs = render_chart(values, **render_kwargs)
    roles = of_kind(docs, "ClusterRole") or of_kind(docs, "Role")
    assert roles, "the chart rendered no Role or ClusterRole (rbac.create false?)"
    rules: list[dict[str, Any]] = roles[0]["rules"]
    return rules


def allows(rules: Iterable[dict[str, Any]], group: str, resource: str, verb: str) -> bool:
    """Whether RBAC `rules` grant `verb` on `group`/`resource` (subresources as "pods/log")."""
    for rule in rules:
        if group not in rule.get("apiGroups", []) and "*" not in rule.get("apiGroups", []):
            continue
        if resource not in rule.get("resources", []) and "*" not in rule.get("resources", []):
            continue
        if verb in rule.get("verbs", []) or "*" in rule.get("verbs", []):
            return True
    return False


def load_crd(path: Path = CRD_SOURCE) -> dict[str, Any]:
    crd: dict[str, Any] = yaml.safe_load(path.read_text())
    return crd


def jobqueue_schema(crd: dict[str, Any], version: str = "v1alpha1") -> dict[str, Any]:
    served = next(v for v in crd["spec"]["versions"] if v["name"] == version)
    schema: dict[str, Any] = served["schema"]["openAPIV3Schema"]
    return schema
