"""charts/swell rendered with the real Helm engine: objects, security defaults, RBAC, variants,
strict Kubernetes schemas for the oldest and newest supported versions, the values schema, lint."""

from __future__ import annotations

import ast
import base64
import copy
import functools
import json
import re
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import yaml

from .cel import apply_defaults, cel_errors
from .render import (
    CHART,
    CRD_CHART_COPY,
    CRD_SOURCE,
    MONITORING_API,
    NAMESPACE,
    RELEASE,
    REPO,
    allows,
    is_hook,
    jobqueue_schema,
    of_kind,
    one,
    rbac_rules,
    render_chart,
    render_templates,
)

# Oldest: CEL validation rules (used by the CRD) are GA since 1.29; Chart.yaml says >=1.29.0-0.
# Newest: the newest release kubernetes-validate ships schemas for (and the kind node image).
K8S_OLDEST, K8S_NEWEST = "1.29.0", "1.37.0"
CUSTOM_KINDS = {"JobQueue", "ServiceMonitor"}  # no bundled schema; JobQueue is checked vs the CRD

VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "cluster-wide": {"clusterWide": True},
    "watch-namespaces": {"watchNamespaces": ["team-a", "team-b"]},
    "redis": {"redis": {"enabled": True}},
    "redis-no-persistence": {"redis": {"enabled": True, "persistence": {"enabled": False}}},
    "servicemonitor": {"metrics": {"enabled": True, "serviceMonitor": {"enabled": True}}},
    "example": {"redis": {"enabled": True}, "example": {"enabled": True}},
    "no-crds-no-rbac": {"crds": {"install": False}, "rbac": {"create": False},
                        "serviceAccount": {"create": False, "name": "ops"}},
}
LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by",
          "app.kubernetes.io/version", "helm.sh/chart")

KUBE_PY = REPO / "operator" / "swell_operator" / "kube.py"


def declared_rbac_needs() -> dict[str, set[tuple[str, str, str]]]:
    """The (group, resource, verb) table in kube.py's docstring: "namespaced" (every mode) and
    "cluster" (cluster-wide mode only). The operator's traffic test checks the table is complete."""
    doc = ast.get_docstring(ast.parse(KUBE_PY.read_text())) or ""
    needs: dict[str, set[tuple[str, str, str]]] = {"namespaced": set(), "cluster": set()}
    mode = "namespaced"
    for line in doc.splitlines():
        if "cluster-wide mode only" in line:
            mode = "cluster"
            continue
        cols = re.split(r"\s{2,}", line.strip())
        if len(cols) < 3 or cols[0] == "group":  # not a row, or the header row
            continue
        if re.fullmatch(r'""|[a-z0-9.-]+', cols[0]) and re.fullmatch(r"[a-z/]+", cols[1]) \
                and re.fullmatch(r"[a-z]+( [a-z]+)*", cols[2]):
            group = "" if cols[0] == '""' else cols[0]
            needs[mode] |= {(group, cols[1], verb) for verb in cols[2].split()}
    return needs


OPERATOR_NEEDS = sorted(declared_rbac_needs()["namespaced"])


@functools.cache
def _render_variant(name: str) -> list[dict[str, Any]]:
    api = [MONITORING_API] if name == "servicemonitor" else []
    return render_chart(VARIANTS[name], api_versions=api)


def render(name: str) -> list[dict[str, Any]]:
    """The objects of a named variant (rendered once per session, copied for each caller)."""
    return copy.deepcopy(_render_variant(name))


_VALID: set[tuple[str, str]] = set()


def validate_strict(doc: dict[str, Any], version: str) -> None:
    """kubernetes-validate --strict, skipping objects identical to one already validated."""
    key = (json.dumps(doc, sort_keys=True), version)
    if key not in _VALID:
        kubernetes_validate.validate(doc, version, strict=True)
        _VALID.add(key)


def pod_specs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every pod spec the chart renders, by object name (the JobQueue's worker template too)."""
    specs: dict[str, dict[str, Any]] = {}
    for doc in docs:
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] == "Pod":
            specs[name] = doc["spec"]
        elif doc["kind"] in ("Deployment", "Job", "JobQueue") and "template" in doc["spec"]:
            specs[name] = doc["spec"]["template"]["spec"]
    return specs


# -- the default install -------------------------------------------------------------------------
def test_defaults_render_the_operator_and_nothing_optional() -> None:
    docs = render("defaults")
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == ["CustomResourceDefinition", "Deployment", "Pod", "Role", "RoleBinding",
                     "Service", "ServiceAccount"]
    for doc in docs:
        assert doc["metadata"].get("namespace", NAMESPACE) == NAMESPACE
        labels = doc["metadata"]["labels"]
        assert all(k in labels for k in LABELS), (doc["kind"], labels)
        assert labels["app.kubernetes.io/instance"] == RELEASE


def test_operator_deployment() -> None:
    docs = render("defaults")
    dep = one(docs, "Deployment")
    assert dep["metadata"]["name"] == "swell"  # release name already contains the chart name
    assert dep["spec"]["replicas"] == 1
    assert dep["spec"]["strategy"] == {"type": "Recreate"}  # kopf: never two operators at once
    # Selectors are immutable: only name and instance, never version/chart labels.
    assert dep["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "swell", "app.kubernetes.io/instance": RELEASE}
    pod = dep["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == one(docs, "ServiceAccount")["metadata"]["name"]
    (c,) = pod["containers"]
    assert c["image"] == "swell:0.1.0"  # the appVersion when image.tag is empty
    assert c["command"] == ["swell-operator"]
    assert c["args"] == [f"--namespace={NAMESPACE}"]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {"name": "health", "containerPort": 8080, "protocol": "TCP"} in c["ports"]
    assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
    assert "readinessProbe" not in c


def test_image_digest_wins_over_tag() -> None:
    digest = "sha256:" + "ab" * 32
    docs = render_chart({"image": {"repository": "ghcr.io/x/swell", "tag": "1.2.3", "digest": digest}})
    assert one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"] == (
        f"ghcr.io/x/swell@{digest}")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_pod_is_locked_down(variant: str) -> None:
    specs = pod_specs(render(variant))
    assert specs
    for name, spec in specs.items():
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True, name
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert psc.get("runAsUser", 1) != 0, name
        mounts_tmp = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["capabilities"] == {"drop": ["ALL"]}, name
            assert sc.get("privileged") is not True, name
            if c["name"] != "check":  # the short helm-test script writes nothing
                tmp = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
                assert tmp and tmp[0]["name"] in mounts_tmp, f"{name}: read-only root needs an emptyDir /tmp"


# -- RBAC ------------------------------------------------------------------------------------------
def test_kube_py_declares_the_operators_needs() -> None:
    needs = declared_rbac_needs()
    assert ("swell.dev", "jobqueues", "watch") in needs["namespaced"]
    assert ("apps", "deployments/scale", "patch") in needs["namespaced"]
    assert len(needs["namespaced"]) >= 10


def test_namespaced_rbac_by_default_covers_the_operator() -> None:
    docs = render("defaults")
    assert not of_kind(docs, "ClusterRole") and not of_kind(docs, "ClusterRoleBinding")
    role, binding = one(docs, "Role"), one(docs, "RoleBinding")
    assert role["metadata"]["namespace"] == NAMESPACE
    missing = [need for need in OPERATOR_NEEDS if not allows(role["rules"], *need)]
    assert missing == []
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "swell", "namespace": NAMESPACE}]


@pytest.mark.parametrize("variant", ["defaults", "cluster-wide"])
def test_rbac_is_least_privilege(variant: str) -> None:
    rules = rbac_rules(VARIANTS[variant])
    for rule in rules:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], rule
        assert not {"delete", "deletecollection", "escalate", "bind", "impersonate"} & set(rule["verbs"])
    assert not allows(rules, "", "secrets", "list") and not allows(rules, "", "secrets", "watch")
    assert not allows(rules, "", "pods", "delete")
    # Every granted (group, resource, verb) is one the operator declares, plus (cluster-wide) kopf's
    # CRD watch. kube.py also lists namespaces list/watch for cluster-wide mode, but kopf only lists
    # namespaces for namespace globs, never with --all-namespaces, and the chart passes no globs.
    granted = {(g, r, v) for rule in rules for g in rule["apiGroups"] for r in rule["resources"]
               for v in rule["verbs"]}
    kopf_scan = {("apiextensions.k8s.io", "customresourcedefinitions", v) for v in ("list", "watch")}
    assert granted - set(OPERATOR_NEEDS) == (kopf_scan if variant == "cluster-wide" else set())
    assert kopf_scan <= declared_rbac_needs()["cluster"]


def test_cluster_wide_uses_one_cluster_role() -> None:
    docs = render("cluster-wide")
    assert not of_kind(docs, "Role") and not of_kind(docs, "RoleBinding")
    role, binding = one(docs, "ClusterRole"), one(docs, "ClusterRoleBinding")
    assert all(allows(role["rules"], *need) for need in OPERATOR_NEEDS)
    assert allows(role["rules"], "apiextensions.k8s.io", "customresourcedefinitions", "watch")
    # kopf never lists namespaces with --all-namespaces, so no namespace rule is granted.
    assert not allows(role["rules"], "", "namespaces", "list")
    assert binding["roleRef"]["kind"] == "ClusterRole"
    assert binding["subjects"][0]["namespace"] == NAMESPACE
    args = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args == ["--all-namespaces"]


def test_watch_namespaces_get_a_role_each() -> None:
    docs = render("watch-namespaces")
    roles, bindings = of_kind(docs, "Role"), of_kind(docs, "RoleBinding")
    assert [r["metadata"]["namespace"] for r in roles] == ["team-a", "team-b"]
    assert [b["metadata"]["namespace"] for b in bindings] == ["team-a", "team-b"]
    assert all(b["subjects"][0]["namespace"] == NAMESPACE for b in bindings)  # the operator's SA
    assert not of_kind(docs, "ClusterRole")
    args = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args == ["--namespace=team-a", "--namespace=team-b"]


def test_no_rbac_and_existing_service_account() -> None:
    docs = render("no-crds-no-rbac")
    assert sorted(d["kind"] for d in docs) == ["Deployment", "Pod", "Service"]
    assert one(docs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "ops"
    with pytest.raises(helm.HelmRenderError, match=r"serviceAccount\.name is required"):
        render_chart({"serviceAccount": {"create": False}})


# -- the CRD ---------------------------------------------------------------------------------------
def test_chart_crd_copy_is_byte_identical() -> None:
    assert CRD_CHART_COPY.read_bytes() == CRD_SOURCE.read_bytes(), (
        "charts/swell/files/jobqueue.yaml differs from crds/jobqueue.yaml (the one source): "
        "cp crds/jobqueue.yaml charts/swell/files/jobqueue.yaml")


def test_rendered_crd_is_the_source_plus_keep_and_labels(crd: dict[str, Any]) -> None:
    rendered = one(render("defaults"), "CustomResourceDefinition")
    meta = rendered["metadata"]
    assert meta["annotations"]["helm.sh/resource-policy"] == "keep"
    assert meta["labels"]["app.kubernetes.io/instance"] == RELEASE
    assert {k: v for k, v in rendered.items() if k != "metadata"} == {
        k: v for k, v in crd.items() if k != "metadata"}
    assert meta["name"] == crd["metadata"]["name"] == "jobqueues.swell.dev"


def test_crd_toggles() -> None:
    kept = one(render_chart({"crds": {"keep": False, "annotations": {"a.example/x": "y"}}}),
               "CustomResourceDefinition")
    assert kept["metadata"]["annotations"] == {"a.example/x": "y"}
    assert not of_kind(render_chart({"crds": {"install": False}}), "CustomResourceDefinition")


# -- Redis quick start --------------------------------------------------------------------------
def test_quick_start_redis() -> None:
    docs = render("redis")
    secret = one(docs, "Secret", "swell-redis")
    password = base64.b64decode(secret["data"]["password"]).decode()
    assert re.fullmatch(r"[A-Za-z0-9]{32}", password)  # alphanumeric: safe inside a redis:// URL
    pvc = one(docs, "PersistentVolumeClaim", "swell-redis")
    assert pvc["spec"]["resources"]["requests"]["storage"] == "1Gi"
    dep = one(docs, "Deployment", "swell-redis")
    assert dep["spec"]["strategy"] == {"type": "Recreate"}
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["image"] == "redis:7.4"
    script = " ".join(c["command"] + c["args"])
    assert "--appendonly yes" in script and "--dir /data" in script
    assert password not in yaml.safe_dump(dep)  # only a secretKeyRef, never the value
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in c["env"]}
    assert env["REDIS_PASSWORD"] == {"name": "swell-redis", "key": "password"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": "swell-redis"}
    svc = one(docs, "Service", "swell-redis")
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    assert svc["spec"]["selector"] != one(docs, "Deployment", "swell")["spec"]["selector"]["matchLabels"]


def test_redis_without_persistence_and_with_existing_secret() -> None:
    docs = render_chart({"redis": {"enabled": True, "persistence": {"enabled": False},
                                   "auth": {"existingSecret": "mine"}}})
    assert not of_kind(docs, "PersistentVolumeClaim") and not of_kind(docs, "Secret")
    pod = one(docs, "Deployment", "swell-redis")["spec"]["template"]["spec"]
    assert {v["name"]: v for v in pod["volumes"]}["data"] == {"name": "data", "emptyDir": {}}
    assert pod["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "mine"


# -- optional monitoring -------------------------------------------------------------------------
def test_service_monitor_only_when_the_api_is_served() -> None:
    values = VARIANTS["servicemonitor"]
    assert not of_kind(render_chart(values), "ServiceMonitor")  # asked for, but no prometheus-operator
    assert not of_kind(render("defaults"), "ServiceMonitor") and not of_kind(
        render_chart(api_versions=[MONITORING_API]), "ServiceMonitor")  # API served, not asked for
    docs = render_chart(values, api_versions=[MONITORING_API])
    sm = one(docs, "ServiceMonitor")
    assert sm["spec"]["endpoints"][0]["port"] == "metrics"
    svc = one(docs, "Service", "swell")
    metrics_port = {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}
    assert metrics_port in svc["spec"]["ports"]
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    c = one(docs, "Deployment", "swell")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "SWELL_METRICS_PORT", "value": "9090"} in c["env"]
    notes = render_templates(values)["swell/templates/NOTES.txt"]
    assert "does not serve\nmonitoring.coreos.com/v1" in notes


# -- example JobQueue ----------------------------------------------------------------------------
def test_example_jobqueue_is_a_valid_hook(jobqueue_validator: jsonschema.Draft7Validator,
                                          crd: dict[str, Any]) -> None:
    docs = render("example")
    jq = one(docs, "JobQueue", "swell-demo")
    assert is_hook(jq)  # the CRD of this very release must exist before a JobQueue can be created
    assert set(jq["metadata"]["annotations"]["helm.sh/hook"].split(",")) == {"post-install", "post-upgrade"}
    assert list(jobqueue_validator.iter_errors(jq)) == []
    schema = jobqueue_schema(crd)
    assert cel_errors(schema, apply_defaults(schema, jq)) == []
    assert jq["spec"]["redis"] == {"url": "redis://swell-redis:6379/0",
                                   "passwordSecretRef": {"name": "swell-redis", "key": "password"}}
    worker = jq["spec"]["template"]["spec"]["containers"][0]
    assert worker["command"] == ["swell", "worker", "swell_demo:app"]
    assert worker["args"] == ["--queue=default", "--queue=emails", "--concurrency=4"]


def test_example_needs_a_redis() -> None:
    with pytest.raises(helm.HelmRenderError, match=r"example\.enabled needs redis\.enabled=true"):
        render_chart({"example": {"enabled": True}})
    docs = render_chart({"example": {"enabled": True, "redisUrl": "rediss://cache.example:6380/2"}})
    jq = one(docs, "JobQueue")
    assert jq["spec"]["redis"] == {"url": "rediss://cache.example:6380/2"}


# -- helm test and NOTES -------------------------------------------------------------------------
def test_helm_test_pod_checks_health_and_crd() -> None:
    pod = one(render("defaults"), "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["restartPolicy"] == "Never"
    (c,) = pod["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["HEALTH_URL"] == f"http://swell.{NAMESPACE}.svc:8080/healthz"
    script = c["args"][0]
    assert "/apis/swell.dev/v1alpha1" in script and '"jobqueues"' in script
    compile(script, "helm-test", "exec")  # the embedded Python at least parses
    svc = one(render("defaults"), "Service", "swell")
    assert svc["spec"]["ports"][0]["targetPort"] == "health"
    assert not of_kind(render_chart({"tests": {"enabled": False}}), "Pod")


def test_notes_print_the_next_commands() -> None:
    notes = render_templates(VARIANTS["example"])["swell/templates/NOTES.txt"]
    assert f"helm test {RELEASE} -n {NAMESPACE}" in notes
    assert "get jq -w" in notes and "examples/load-job.yaml" in notes
    assert "kubectl delete crd jobqueues.swell.dev" in notes


# -- Kubernetes schemas --------------------------------------------------------------------------
@pytest.mark.parametrize("version", [K8S_OLDEST, K8S_NEWEST])
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_manifests_pass_strict_kubernetes_validation(variant: str, version: str) -> None:
    docs = render(variant)
    checked = 0
    for doc in docs:
        if doc["kind"] in CUSTOM_KINDS:
            continue
        validate_strict(doc, version)
        checked += 1
    assert checked >= 3


def test_strict_validation_catches_a_typo() -> None:
    dep = one(render("defaults"), "Deployment")
    dep["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="securityContxt"):
        kubernetes_validate.validate(dep, K8S_NEWEST, strict=True)


def test_kube_version_floor_is_enforced() -> None:
    render_chart(kube_version="v1.29.0")
    with pytest.raises(helm.HelmError, match="kubeVersion"):
        render_chart(kube_version="v1.28.9")


# -- values schema and lint ----------------------------------------------------------------------
@pytest.mark.parametrize(("bad", "message"), [
    ({"replicaCount": 2}, "at '': additional properties 'replicaCount' not allowed"),
    ({"image": {"tagg": "1"}}, "at '/image': additional properties 'tagg' not allowed"),
    ({"image": {"tag": 1}}, "at '/image/tag': got number, want string"),
    ({"clusterWide": "yes"}, "at '/clusterWide': got string, want boolean"),
    ({"watchNamespaces": "team-a"}, "at '/watchNamespaces': got string, want array"),
    ({"watchNamespaces": ["Team_A"]}, "at '/watchNamespaces/0': 'Team_A' does not match pattern"),
    ({"crds": {"install": "true"}}, "at '/crds/install': got string, want boolean"),
    ({"redis": {"enabled": True, "persistance": {}}}, "at '/redis': additional properties 'persistance'"),
    ({"redis": {"persistence": {"size": 5}}}, "at '/redis/persistence/size': got number, want string"),
    ({"metrics": {"port": 70000}}, "at '/metrics/port': maximum: got 70,000, want 65,535"),
    ({"example": {"scaling": {"minReplicas": -1}}}, "at '/example/scaling/minReplicas': minimum"),
    ({"example": {"redisUrl": "http://x"}}, "at '/example/redisUrl': 'http://x' does not match pattern"),
    ({"operator": {"logLevel": "LOUD"}}, "at '/operator/logLevel': value must be one of"),
    ({"image": {"pullPolicy": "Sometimes"}}, "at '/image/pullPolicy': value must be one of"),
])
def test_values_schema_rejects_bad_values_naming_the_key(bad: dict[str, Any], message: str) -> None:
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmValuesError, match=re.escape(message)):
        chart.validate_schema(bad)
    with pytest.raises(helm.HelmValuesError, match=re.escape(message)):
        render_chart(bad)  # install/upgrade/template enforce it too


def test_default_values_satisfy_the_schema() -> None:
    with helm.Chart.load(CHART) as chart:
        defaults = chart.values
        chart.validate_schema(defaults)
        schema = chart.schema
    assert schema is not None
    assert set(defaults) <= set(schema["properties"])


@pytest.mark.parametrize("kube_version", [f"v{K8S_OLDEST}", f"v{K8S_NEWEST}"])
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_helm_lint_is_clean(variant: str, kube_version: str) -> None:
    report = helm.lint(CHART, VARIANTS[variant], strict=True, kube_version=kube_version)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []
    assert {m["error"] for m in report["messages"]} <= {"icon is recommended"}


def test_helm_lint_reports_bad_values() -> None:
    report = helm.lint(CHART, {"clusterWide": "yes"})
    assert any("/clusterWide" in e and "want boolean" in e for e in report["errors"])


def test_packaged_chart_renders_the_same(tmp_path: Path) -> None:
    """`helm package` keeps files/jobqueue.yaml (the CRD) and the schema: what users install."""
    archive = helm.package(CHART, destination=tmp_path)
    assert Path(archive).name == "swell-0.1.0.tgz"
    with helm.Chart.load(archive) as chart:
        packaged = chart.render({"redis": {"enabled": True}}, name=RELEASE, namespace=NAMESPACE)
        assert chart.schema is not None
    docs = [d for path in sorted(packaged) if not path.endswith("NOTES.txt")
            for d in yaml.safe_load_all(packaged[path]) if d]

    def stable(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [o for o in objs if o["kind"] != "Secret"]  # the generated password differs per render

    assert stable(docs) == stable(render_chart({"redis": {"enabled": True}}))


def test_every_value_is_documented_in_the_chart_readme() -> None:
    readme = (CHART / "README.md").read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    undocumented = [key for key in values if key not in ("nameOverride", "fullnameOverride")
                    and f"`{key}" not in readme]
    assert undocumented == []


def test_client_dry_run_install_keeps_hooks_out_of_the_release_manifest() -> None:
    """Helm's install pipeline (offline, --dry-run=client): the CRD is a regular resource and the
    JobQueue that needs it, like the test Pod, is a hook applied after it."""
    values = {"redis": {"enabled": True}, "example": {"enabled": True}}
    config = helm.Config(namespace=NAMESPACE)
    try:
        with helm.Chart.load(CHART) as chart:
            release = config.install(chart, RELEASE, values, namespace=NAMESPACE, dry_run="client")
    finally:
        config.close()
    assert release["status"] == "pending-install"
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(release["manifest"]) if d)
    assert "CustomResourceDefinition" in kinds
    assert "JobQueue" not in kinds and "Pod" not in kinds
    assert f'release "{RELEASE}" in namespace "{NAMESPACE}"' in release["notes"]
