"""The JobQueue CRD: structure, CEL rules (evaluated with cel-python), defaults agree with the code."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest

from swell_operator.jobqueue import DEFAULTS, parse_spec
from swell_operator.manifests import CONDITION_TYPES

from .emulator import apply_defaults, cel_errors, crd_schema, load_crd

CRD = load_crd()
VERSION = CRD["spec"]["versions"][0]
SCHEMA = crd_schema(CRD)
SPEC = SCHEMA["properties"]["spec"]
STATUS = SCHEMA["properties"]["status"]


def valid(**over: Any) -> dict[str, Any]:
    body = {"apiVersion": "swell.dev/v1alpha1", "kind": "JobQueue", "metadata": {"name": "q"},
            "spec": {"queues": ["emails"], "redis": {"url": "redis://redis:6379/0"},
                     "deploymentRef": {"name": "workers"}}}
    body["spec"].update(over)
    body["spec"] = {k: v for k, v in body["spec"].items() if v is not None}  # None: leave it out
    return body


def errors_of(body: dict[str, Any]) -> list[str]:
    body = copy.deepcopy(body)
    apply_defaults(SCHEMA, body)
    found = [e.message for e in jsonschema.Draft7Validator(SCHEMA).iter_errors(body)]
    return found + cel_errors(SCHEMA, body)


def test_names_and_version() -> None:
    assert CRD["metadata"]["name"] == "jobqueues.swell.dev"
    names = CRD["spec"]["names"]
    assert (CRD["spec"]["group"], names["kind"], names["plural"], names["shortNames"]) == \
        ("swell.dev", "JobQueue", "jobqueues", ["jq"])
    assert VERSION["name"] == "v1alpha1" and VERSION["served"] and VERSION["storage"]


def test_printer_columns() -> None:
    cols = [c["name"] for c in VERSION["additionalPrinterColumns"] if c.get("priority", 0) == 0]
    assert cols == ["Queues", "Backlog", "Running", "Desired", "Current", "Min", "Max", "Ready", "Age"]


def test_scale_and_status_subresources() -> None:
    sub = VERSION["subresources"]
    assert sub["status"] == {}
    assert sub["scale"] == {"specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.currentReplicas",
                            "labelSelectorPath": ".status.selector"}
    assert SPEC["properties"]["replicas"]["type"] == "integer"


def test_every_status_field_the_operator_writes_is_declared() -> None:
    props = STATUS["properties"]
    for field in ("observedGeneration", "queues", "target", "selector", "backlog", "desiredReplicas",
                  "currentReplicas", "lastScaleTime", "lastActiveTime", "metricsFailures",
                  "recommendations", "scaleEvents", "conditions"):
        assert field in props, field
    assert set(props["backlog"]["properties"]) >= {"pending", "due", "running", "total", "scheduled"}
    cond = props["conditions"]["items"]["properties"]
    assert set(cond["type"]["enum"]) == set(CONDITION_TYPES)
    assert {"reason", "message", "lastTransitionTime", "status"} <= set(cond)


def test_cel_rules_are_there() -> None:
    rules = {r["rule"]: r["message"] for r in SPEC["x-kubernetes-validations"]}
    assert rules == {"has(self.deploymentRef) != has(self.template)":
                     "set exactly one of deploymentRef and template"}
    scaling = {r["rule"] for r in SPEC["properties"]["scaling"]["x-kubernetes-validations"]}
    assert "self.minReplicas <= self.maxReplicas" in scaling


@pytest.mark.parametrize("body, message", [
    (valid(scaling={"minReplicas": 3, "maxReplicas": 2}), "minReplicas must be <= scaling.maxReplicas"),
    (valid(scaling={"minReplicas": 11}), "minReplicas must be <= scaling.maxReplicas"),  # default max 10
    (valid(template={"spec": {}}), "exactly one of deploymentRef and template"),
    (valid(deploymentRef=None), "exactly one of deploymentRef and template"),
    (valid(redis={"url": "redis://a:6379", "host": "a"}), "exactly one of redis.url and redis.host"),
    (valid(redis={"url": "redis://:pw@a:6379/0"}), "never inline"),
    (valid(redis={"url": "rediss://user:pw@a:6379/0"}), "never inline"),
    (valid(scaling={"maxReplicas": 2, "fallback": {"replicas": 3}}), "fallback.replicas must be <="),
], ids=["min>max", "min>default-max", "both-targets", "no-target", "url+host", "password-in-url",
        "user-password-in-url", "fallback>max"])
def test_cel_rules_reject(body: dict[str, Any], message: str) -> None:
    errs = errors_of(body)
    assert any(message in e for e in errs), errs


@pytest.mark.parametrize("body", [
    valid(),
    valid(redis={"url": "redis://user@a:6379/0"}),
    valid(redis={"host": "redis", "passwordSecretRef": {"name": "s"}, "tls": {"enabled": True}}),
    valid(scaling={"minReplicas": 2, "maxReplicas": 2, "fallback": {"replicas": 2}}),
    valid(deploymentRef=None, template={"spec": {"containers": []}}),
])
def test_valid_bodies_pass(body: dict[str, Any]) -> None:
    assert errors_of(body) == []


@pytest.mark.parametrize("over, message", [
    ({"queues": []}, "should be non-empty"),
    ({"scaling": {"jobsPerReplica": 0}}, "less than the minimum of 1"),
    ({"scaling": {"pollIntervalSeconds": "5"}}, "is not of type 'integer'"),
    ({"scaling": {"scaleUp": {"policies": [{"type": "Pods", "value": 1}]}}}, "'periodSeconds' is a required"),
    ({"scaling": {"fallback": {"replicas": 1, "mode": "maybe"}}}, "is not one of"),
    ({"redis": {"url": "http://redis"}}, "does not match"),
])
def test_schema_rejects(over: dict[str, Any], message: str) -> None:
    assert any(message in e for e in errors_of(valid(**over)))


def _schema_default(path: str) -> Any:
    node = SPEC
    for part in path.split("."):
        if node.get("type") == "array":
            node = node["items"]
        node = node["properties"][part]
    return node.get("default")


@pytest.mark.parametrize("path", sorted(DEFAULTS))
def test_code_defaults_equal_crd_defaults(path: str) -> None:
    assert _schema_default(path) == DEFAULTS[path]


def test_defaulted_object_parses_like_the_bare_one() -> None:
    bare = valid(scaling={"maxReplicas": 4})
    defaulted = copy.deepcopy(bare)
    apply_defaults(SCHEMA, defaulted)
    assert parse_spec(defaulted["spec"]) == parse_spec(bare["spec"])


OPENAPI_KEYWORDS = {"type", "description", "properties", "items", "required", "default", "minimum", "maximum",
                    "minLength", "maxLength", "minItems", "maxItems", "pattern", "enum", "format",
                    "x-kubernetes-validations", "x-kubernetes-preserve-unknown-fields",
                    "x-kubernetes-list-type", "x-kubernetes-list-map-keys"}


def test_schema_uses_only_known_keywords() -> None:
    """A YAML slip (a comma in a flow mapping) turns text into a stray key; catch it here."""
    def walk(node: dict[str, Any], path: str) -> list[str]:
        bad = [f"{path}: {k}" for k in node if k not in OPENAPI_KEYWORDS]
        for key, sub in (node.get("properties") or {}).items():
            bad += walk(sub, f"{path}.{key}")
        if "items" in node:
            bad += walk(node["items"], f"{path}[]")
        return bad
    assert walk(SCHEMA, "") == []


def test_crd_is_a_valid_apiextensions_object() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    assert kubernetes_validate.validate(CRD, "1.30.0", strict=True) == "1.30"
