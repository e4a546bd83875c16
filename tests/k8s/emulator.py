"""kmock made realistic enough for the real operator (adapted from shared/reference/k8s-harness).

Adds to kmock 0.8: metadata stamping (uid, namespace, generation, resourceVersion bumped on every
write), 422 on a failed JSON-patch test, CRD structural defaults, openAPIV3Schema validation AND
the CRD's CEL rules (x-kubernetes-validations, evaluated with cel-python) on create, list kinds,
and helpers: CRD registration, kubeconfig, polling with a deadline, RBAC needs from the log.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import itertools
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import celpy
import jsonpatch
import jsonschema
import kmock
import yaml

ALL_VERBS = frozenset({"get", "list", "watch", "create", "patch", "update", "delete"})
REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / "crds" / "jobqueue.yaml"
CHART = REPO / "charts" / "swell"


def apply_defaults(schema: dict[str, Any], data: Any) -> None:
    """Structural defaulting, as the apiserver does before validation."""
    if isinstance(data, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key not in data and "default" in sub:
                data[key] = copy.deepcopy(sub["default"])
            if key in data:
                apply_defaults(sub, data[key])
    elif isinstance(data, list) and "items" in schema:
        for item in data:
            apply_defaults(schema["items"], item)


_CEL = celpy.Environment()
_PROGRAMS: dict[str, Any] = {}


def cel_errors(schema: dict[str, Any], data: Any, path: str = "") -> list[str]:
    """Every failed x-kubernetes-validations rule as 'path: message' (apiserver style)."""
    out = []
    for rule in schema.get("x-kubernetes-validations") or ():
        prog = _PROGRAMS.get(rule["rule"])
        if prog is None:
            prog = _PROGRAMS[rule["rule"]] = _CEL.program(_CEL.compile(rule["rule"]))
        message = rule.get("message") or rule["rule"]
        try:
            ok = bool(prog.evaluate({"self": celpy.json_to_cel(data)}))
        except Exception as e:  # an evaluation error rejects, as in the apiserver
            ok, message = False, f"{message} ({e})"
        if not ok:
            out.append(f"{path or '<root>'}: Invalid value: {message}")
    if isinstance(data, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key in data:
                out += cel_errors(sub, data[key], f"{path}.{key}" if path else key)
    elif isinstance(data, list) and "items" in schema:
        for i, item in enumerate(data):
            out += cel_errors(schema["items"], item, f"{path}[{i}]")
    return out


class RealisticEmulator(kmock.KubernetesEmulator):  # type: ignore[misc]
    _versions = itertools.count(1000)
    schemas: dict[Any, dict[str, Any]] = {}  # {kmock.resource: openAPIV3Schema}

    async def _handle(self, request: Any) -> Any:
        data = request.data
        if request.resource is not None and isinstance(data, dict | list):
            rv = str(next(self._versions))
            if request.action == kmock.action.CREATE and isinstance(data, dict):
                schema = self.schemas.get(request.resource)
                if schema is not None:
                    apply_defaults(schema, data)
                    errors = [f"{'.'.join(map(str, e.path))}: {e.message}"
                              for e in sorted(jsonschema.Draft7Validator(schema).iter_errors(data),
                                              key=lambda e: list(e.path))]
                    errors += cel_errors(schema, data)
                    if errors:
                        kind = data.get("kind", "object")
                        name = (data.get("metadata") or {}).get("name")
                        raise kmock.KubernetesError(
                            status=422, reason="Invalid",
                            message=f'{kind}.swell.dev "{name}" is invalid: ' + "; ".join(errors))
                md = data.setdefault("metadata", {})
                md.setdefault("uid", str(uuid.uuid4()))
                md.setdefault("creationTimestamp",
                              datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
                md.setdefault("generation", 1)
                if request.namespace:
                    md.setdefault("namespace", request.namespace)
                md["resourceVersion"] = rv
            elif request.action == kmock.action.UPDATE and isinstance(data, dict):
                data.setdefault("metadata", {})["resourceVersion"] = rv
            elif request.action == kmock.action.UPDATE and isinstance(data, list):
                data.append({"op": "add", "path": "/metadata/resourceVersion", "value": rv})
        try:
            return await super()._handle(request)
        except jsonpatch.JsonPatchTestFailed as e:
            raise kmock.KubernetesError(status=422, reason="Invalid", message=str(e)) from e

    async def _serve_list(self, request: Any) -> Any:
        result = await super()._serve_list(request)
        kind = self.resources[request.resource].kind or request.resource.plural.capitalize()
        group_version = f"{request.resource.group}/{request.resource.version}".lstrip("/")
        return {"apiVersion": group_version, "kind": f"{kind}List", **result}


def load_crd() -> dict[str, Any]:
    return yaml.safe_load(CRD_FILE.read_text())  # type: ignore[no-any-return]


def crd_schema(crd: dict[str, Any] | None = None) -> dict[str, Any]:
    crd = crd or load_crd()
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]


def register_crd(k: kmock.KubernetesEmulator, crd: dict[str, Any]) -> None:
    spec, names = crd["spec"], crd["spec"]["names"]
    for ver in spec["versions"]:
        key = f"{spec['group']}/{ver['name']}/{names['plural']}"
        k.resources[key] = kmock.ResourceInfo(
            kind=names["kind"], singular=names["singular"], shortnames=set(names.get("shortNames", [])),
            categories=set(names.get("categories", [])), namespaced=spec["scope"] == "Namespaced",
            verbs=set(ALL_VERBS), subresources=set((ver.get("subresources") or {}).keys()))
        if isinstance(k, RealisticEmulator):
            k.schemas = {**k.schemas, kmock.resource(key): ver["schema"]["openAPIV3Schema"]}
    k.objects["apiextensions.k8s.io/v1/customresourcedefinitions", None, crd["metadata"]["name"]] = crd


def add_builtin_resources(k: kmock.KubernetesEmulator) -> None:
    def info(kind: str, singular: str, verbs: Iterable[str] = ALL_VERBS, **kw: Any) -> Any:
        return kmock.ResourceInfo(kind=kind, singular=singular, namespaced=kw.pop("namespaced", True),
                                  verbs=set(verbs), **kw)

    k.resources["v1/namespaces"] = info("Namespace", "namespace", {"get", "list", "watch"}, namespaced=False)
    k.resources["v1/events"] = info("Event", "event", {"create", "list"})
    k.resources["v1/pods"] = info("Pod", "pod")
    k.resources["v1/secrets"] = info("Secret", "secret")
    k.resources["apps/v1/deployments"] = info("Deployment", "deployment", subresources={"status", "scale"})
    k.resources["autoscaling/v2/horizontalpodautoscalers"] = info("HorizontalPodAutoscaler",
                                                                  "horizontalpodautoscaler")


def deployment(name: str, replicas: int = 1, namespace: str = "default") -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": "1", "uid": str(uuid.uuid4()),
                     "generation": 1},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "worker", "image": "worker:test"}]}}},
    }


def pod(name: str, labels: dict[str, str], namespace: str = "default") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels, "resourceVersion": "1",
                         "uid": str(uuid.uuid4())},
            "spec": {"containers": [{"name": "worker", "image": "worker:test"}]}}


def write_kubeconfig(path: Path, server: str, namespace: str = "default") -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "kmock", "cluster": {"server": server.rstrip("/")}}],
        "users": [{"name": "kmock", "user": {"token": "test-token"}}],
        "contexts": [{"name": "kmock",
                      "context": {"cluster": "kmock", "user": "kmock", "namespace": namespace}}],
        "current-context": "kmock",
    }))
    return path


async def eventually(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05,
                     what: str = "condition") -> Any:
    """Poll ``check`` until truthy (KeyError/TypeError/IndexError mean 'not yet')."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
            if last:
                return last
        except (KeyError, TypeError, IndexError, AttributeError) as e:
            last = e
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s (last: {last!r})")
        await asyncio.sleep(interval)


def rbac_needs(requests: Iterable[Any], skip_user_agents: tuple[str, ...] = ("kmock/",)) \
        -> set[tuple[str, str, str]]:
    """(apiGroup, resource[/subresource], verb) actually used, from kmock's request log."""
    verbs = {kmock.action.LIST: "list", kmock.action.WATCH: "watch", kmock.action.FETCH: "get",
             kmock.action.CREATE: "create", kmock.action.DELETE: "delete"}
    needs = set()
    for r in requests:
        if r.resource is None or not r.resource.plural:
            continue  # discovery
        if r.headers.get("User-Agent", "").startswith(skip_user_agents):
            continue  # the test's own client
        method = str(getattr(r.method, "value", r.method)).upper()
        verb = "patch" if method == "PATCH" else "update" if method == "PUT" else verbs.get(r.action)
        if verb is None:
            continue
        res = r.resource.plural + (f"/{r.subresource}" if r.subresource else "")
        needs.add((r.resource.group or "", res, verb))
    return needs


def rbac_allows(role: dict[str, Any], group: str, resource: str, verb: str) -> bool:
    for rule in role.get("rules", []):
        if (group in rule.get("apiGroups", []) or "*" in rule.get("apiGroups", [])) \
                and (resource in rule.get("resources", []) or "*" in rule.get("resources", [])) \
                and (verb in rule.get("verbs", []) or "*" in rule.get("verbs", [])):
            return True
    return False
