"""examples/: every JobQueue passes the CRD schema and its CEL rules, every other manifest passes
strict Kubernetes validation, the demo app and load generator work on the in-memory store."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from .cel import apply_defaults, cel_errors
from .render import REPO, jobqueue_schema, of_kind, one, render_chart
from .test_chart import K8S_NEWEST, K8S_OLDEST

EXAMPLES = REPO / "examples"


def example_docs() -> list[tuple[str, dict[str, Any]]]:
    docs: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        docs.extend((path.name, d) for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def ids(docs: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [f"{name}:{d['kind']}/{d['metadata']['name']}" for name, d in docs]


JOBQUEUES = [(n, d) for n, d in example_docs() if d["kind"] == "JobQueue"]
BUILTINS = [(n, d) for n, d in example_docs() if d["kind"] != "JobQueue"]


def test_examples_cover_both_ways_to_name_the_workers() -> None:
    assert {"jobqueue.yaml", "jobqueue-ref.yaml", "worker-deployment.yaml", "load-job.yaml"} <= {
        p.name for p in EXAMPLES.glob("*.yaml")}
    specs = [d["spec"] for _, d in JOBQUEUES]
    assert any("template" in s for s in specs) and any("deploymentRef" in s for s in specs)


@pytest.mark.parametrize(("source", "jq"), JOBQUEUES, ids=ids(JOBQUEUES))
def test_example_jobqueue_matches_the_crd(source: str, jq: dict[str, Any], crd: dict[str, Any],
                                          jobqueue_validator: jsonschema.Draft7Validator) -> None:
    assert jq["apiVersion"] == f"{crd['spec']['group']}/v1alpha1"
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in jobqueue_validator.iter_errors(jq)]
    assert errors == []
    schema = jobqueue_schema(crd)
    assert cel_errors(schema, apply_defaults(schema, jq)) == []


def test_schema_and_cel_checks_catch_mistakes(crd: dict[str, Any],
                                              jobqueue_validator: jsonschema.Draft7Validator) -> None:
    """The checks above can fail: a JobQueue with both targets, an inline password, bad bounds."""
    schema = jobqueue_schema(crd)
    bad = {"apiVersion": "swell.dev/v1alpha1", "kind": "JobQueue", "metadata": {"name": "x"},
           "spec": {"queues": ["q"], "deploymentRef": {"name": "w"}, "template": {"spec": {}},
                    "redis": {"url": "redis://:hunter2@r:6379/0"},
                    "scaling": {"minReplicas": 5, "maxReplicas": 2}}}
    assert list(jobqueue_validator.iter_errors(bad)) == []  # types are fine: only CEL catches these
    messages = " | ".join(cel_errors(schema, apply_defaults(schema, bad)))
    assert "exactly one of deploymentRef and template" in messages
    assert "never inline" in messages
    assert "minReplicas must be <= scaling.maxReplicas" in messages
    typo = {"spec": {"queues": [], "redis": {"url": "http://r"}, "scaling": {"jobsPerReplica": 0}}}
    found = {e.message for e in jobqueue_validator.iter_errors(typo)}
    assert "[] should be non-empty" in found
    assert "0 is less than the minimum of 1" in found


@pytest.mark.parametrize("version", [K8S_OLDEST, K8S_NEWEST])
@pytest.mark.parametrize(("source", "doc"), BUILTINS, ids=ids(BUILTINS))
def test_example_manifest_is_valid_kubernetes(source: str, doc: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(doc, version, strict=True)


def example_pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    for source, doc in example_docs():
        if doc["kind"] == "JobQueue":
            if "template" in doc["spec"]:
                yield source, doc["spec"]["template"]["spec"]
        else:
            yield source, doc["spec"]["template"]["spec"]


def test_example_pods_are_locked_down_and_use_the_quick_start_redis() -> None:
    redis_docs = render_chart({"redis": {"enabled": True}})  # release "swell", as the examples assume
    secret = one(redis_docs, "Secret")["metadata"]["name"]
    service = one(redis_docs, "Service", secret)["metadata"]["name"]
    specs = list(example_pod_specs())
    assert len(specs) == 3
    for source, spec in specs:
        assert spec["securityContext"]["runAsNonRoot"] is True, source
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, source
        (c,) = spec["containers"]
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False, source
        assert sc["capabilities"] == {"drop": ["ALL"]}, source
        assert c["image"] == "swell:0.1.0", source  # what the quick start builds and kind-loads
        env = {e["name"]: e for e in c["env"]}
        assert env["SWELL_REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": "password"}
        assert env["SWELL_REDIS_URL"]["value"] == f"redis://:$(SWELL_REDIS_PASSWORD)@{service}:6379/0"
    for _, jq in JOBQUEUES:
        assert jq["spec"]["redis"].get("url", f"redis://{service}:6379/0") == f"redis://{service}:6379/0"
        assert jq["spec"]["redis"]["passwordSecretRef"]["name"] == secret


def test_example_worker_matches_the_charts_demo_worker() -> None:
    """examples/jobqueue.yaml spells out by hand what the chart's example.enabled renders."""
    chart_jq = one(of_kind(render_chart({"redis": {"enabled": True}, "example": {"enabled": True}}),
                           "JobQueue"), "JobQueue")
    (_, example), = [(n, d) for n, d in JOBQUEUES if n == "jobqueue.yaml"]
    for field in ("queues", "redis", "scaling"):
        assert example["spec"][field] == chart_jq["spec"][field], field
    mine, theirs = (jq["spec"]["template"]["spec"] for jq in (example, chart_jq))
    assert mine == theirs
    assert {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in (
        mine["containers"][0]["env"])  # workers report their pod, for pod-deletion-cost


# -- the demo app and the load generator ---------------------------------------------------------
@pytest.fixture
def demo(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ModuleType, ModuleType]]:
    """Fresh swell_demo (in-memory store, no simulated work time) and swell_load modules."""
    monkeypatch.delenv("SWELL_REDIS_URL", raising=False)
    monkeypatch.setenv("SWELL_DEMO_WORK_SECONDS", "0")
    monkeypatch.syspath_prepend(str(EXAMPLES))
    for name in ("swell_demo", "swell_load"):
        sys.modules.pop(name, None)
    yield importlib.import_module("swell_demo"), importlib.import_module("swell_load")
    for name in ("swell_demo", "swell_load"):
        sys.modules.pop(name, None)


def test_demo_handlers_serve_the_example_queues(demo: tuple[ModuleType, ModuleType]) -> None:
    swell_demo, _ = demo
    handlers = swell_demo.app.handlers()
    assert set(handlers) == {"resize_image", "send_email", "crunch"}
    queues = {h.queue for h in handlers.values()}
    for source, jq in JOBQUEUES:
        assert queues <= set(jq["spec"]["queues"]), source


async def test_load_generator_enqueues_the_mix(demo: tuple[ModuleType, ModuleType]) -> None:
    swell_demo, swell_load = demo
    counts = await swell_load.enqueue_load(swell_demo.app, 120, batch=50)
    assert sum(counts.values()) == 120 and set(counts) == {"resize_image", "send_email", "crunch"}
    stats = await swell_demo.app.store.stats()
    assert {q: s.pending_total for q, s in stats.queues.items()} == {
        "default": counts["resize_image"] + counts["crunch"], "emails": counts["send_email"]}
    assert swell_load.job_specs(30) == swell_load.job_specs(30)  # a fixed seed: the same mix each run


def test_load_generator_cli(demo: tuple[ModuleType, ModuleType], capsys: pytest.CaptureFixture[str]) -> None:
    _, swell_load = demo
    assert swell_load.main(["--count", "25", "--batch", "10"]) == 0
    assert capsys.readouterr().out.startswith("enqueued 25 jobs: ")
    with pytest.raises(SystemExit):
        swell_load.main(["--batch", "0"])


async def test_demo_jobs_run_to_completion_in_a_burst_worker(demo: tuple[ModuleType, ModuleType]) -> None:
    swell_demo, swell_load = demo
    from swell.worker import Worker

    specs = swell_load.job_specs(40)
    for spec in specs:  # no simulated mail-server flakiness: every job completes on the first try
        if spec["type"] == "send_email":
            spec["args"]["flakiness"] = 0.0
    await swell_demo.app.enqueue_many(specs)
    worker = Worker(swell_demo.app, queues=["default", "emails"], concurrency=8, handle_signals=False,
                    scheduler=False)
    await worker.run(burst=True)
    stats = await swell_demo.app.store.stats()
    assert sum(q.completed for q in stats.queues.values()) == 40
    assert sum(q.failed + q.dead for q in stats.queues.values()) == 0


def test_examples_dir_has_only_what_the_image_copies() -> None:
    py = sorted(p.name for p in EXAMPLES.glob("*.py"))
    assert py == ["swell_demo.py", "swell_load.py"]
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "COPY examples/swell_demo.py examples/swell_load.py /app/examples/" in dockerfile
    assert Path(EXAMPLES / "swell_demo.py").read_text().startswith('"""Demo worker app')


def all_jobqueues() -> list[tuple[str, dict[str, Any]]]:
    chart = render_chart({"redis": {"enabled": True}, "example": {"enabled": True}})
    return [*JOBQUEUES, *(("charts/swell example", jq) for jq in of_kind(chart, "JobQueue"))]


@pytest.mark.parametrize("version", [K8S_OLDEST, K8S_NEWEST])
def test_the_operator_accepts_the_examples_and_builds_valid_workers(version: str) -> None:
    """Each example goes through the operator's own parser; a template becomes a Deployment that
    passes strict validation (the operator adds selector labels and POD_NAME to it)."""
    from swell_operator.jobqueue import parse_spec
    from swell_operator.manifests import owned_deployment

    for source, jq in all_jobqueues():
        spec = parse_spec(jq["spec"])
        assert spec.queues == tuple(jq["spec"]["queues"]), source
        assert spec.redis.password is not None and spec.redis.password.key == "password", source
        assert "@" not in spec.redis.address(), source
        if spec.template is None:
            assert spec.deployment_ref == "demo-worker", source
            continue
        dep = owned_deployment("swell", jq["metadata"]["name"], "0000-uid", spec.template, 1)
        kubernetes_validate.validate(dep, version, strict=True)
        env = [e["name"] for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]]
        assert env.count("POD_NAME") == 1, source
