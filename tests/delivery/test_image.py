"""Dockerfile, .dockerignore and kind-config.yaml, checked statically (no Docker engine here):
stages, non-root user, no build tools in the final image, entry points that exist, a kind
cluster of one control plane and two workers on a digest-pinned, supported node image."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field

import yaml

from .render import CHART, REPO
from .test_chart import K8S_NEWEST, K8S_OLDEST

BUILD_TOOLS = ("gcc", "g++", "build-essential", "make", "clang", "cargo", "rustc", "-dev ")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """(global ARG defaults, stages): enough of the Dockerfile grammar for these checks."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends in a line continuation"
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), words[0])
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, name))
        elif not stages:
            assert keyword == "ARG", f"only ARG may come before FROM, got {keyword}"
            key, _, default = rest.partition("=")
            args[key.strip()] = default.strip()
        else:
            stages[-1].instructions.append((keyword, rest.strip()))
    return args, stages


def dockerfile() -> tuple[dict[str, str], list[Stage]]:
    return parse_dockerfile((REPO / "Dockerfile").read_text())


def test_dockerfile_has_a_builder_and_a_slim_final_stage() -> None:
    _, stages = dockerfile()
    assert len(stages) == 2
    builder, final = stages
    assert builder.name == "builder"
    for stage in stages:
        assert re.fullmatch(r"python:3\.11-slim(-bookworm)?", stage.base), stage.base
    installs = " ".join(builder.all("RUN"))
    assert "pip install" in installs and ".[operator,monitoring]" in installs
    assert "-e " not in installs and "--editable" not in installs  # the venv must not point at /src
    copies = final.all("COPY")
    assert any(c.startswith("--from=builder /opt/venv /opt/venv") for c in copies)
    assert not any(c.split()[0] in (".", "./") for c in copies)  # no whole build context in the image


def test_final_stage_runs_as_a_fixed_non_root_user_without_build_tools() -> None:
    _, (_, final) = dockerfile()
    (user,) = final.all("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) >= 10000, user  # numeric, so runAsNonRoot can verify it
    assert not gid or (gid.isdigit() and int(gid) != 0)
    runs = " ".join(final.all("RUN"))
    assert "apt-get install" not in runs and "pip install" not in runs
    for tool in BUILD_TOOLS:
        assert tool not in runs, tool
    # The chart's pods run as this same uid.
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["podSecurityContext"]["runAsUser"] == int(uid)


def test_entry_points_exist_and_commands_use_exec_form() -> None:
    _, (_, final) = dockerfile()
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert {"swell", "swell-operator"} <= set(scripts)
    (cmd,) = final.all("CMD")
    argv = json.loads(cmd)  # exec form: the program is PID 1 and receives SIGTERM
    assert argv[0] in scripts
    assert not final.all("ENTRYPOINT")  # pods choose `swell worker ...` or `swell-operator`
    env = " ".join(final.all("ENV"))
    assert "PATH=/opt/venv/bin:$PATH" in env and "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PYTHONPATH=/app/examples" in env  # swell_demo:app and python -m swell_load resolve


def test_build_context_keeps_what_the_dockerfile_copies() -> None:
    patterns = [p.strip() for p in (REPO / ".dockerignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]
    assert {".git", ".venv", "tests"} <= set(patterns)
    _, stages = dockerfile()
    sources: list[str] = []
    for stage in stages:
        for copy in stage.all("COPY"):
            words = shlex.split(copy)
            if any(w.startswith("--from=") for w in words):
                continue
            sources.extend(w for w in words[:-1] if not w.startswith("--"))
    assert sources
    for src in sources:
        assert (REPO / src).exists(), f"COPY {src}: no such path in the repository"
        ignored = [p for p in patterns if fnmatch.fnmatch(src.rstrip("/"), p.rstrip("/"))
                   or src.startswith(p.rstrip("/") + "/")]
        assert not ignored, f"COPY {src} is excluded by .dockerignore {ignored}"


# -- kind ------------------------------------------------------------------------------------------
def test_kind_cluster_has_one_control_plane_and_two_workers_on_a_pinned_image() -> None:
    config = yaml.safe_load((REPO / "kind-config.yaml").read_text())
    assert config["kind"] == "Cluster" and config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    roles = [n["role"] for n in config["nodes"]]
    assert roles == ["control-plane", "worker", "worker"]
    images = {n["image"] for n in config["nodes"]}
    assert len(images) == 1, "every node must run the same Kubernetes version"
    (image,) = images
    match = re.fullmatch(r"kindest/node:v(\d+)\.(\d+)\.(\d+)@sha256:[0-9a-f]{64}", image)
    assert match, f"pin the node image by its full digest: {image}"
    minor = (int(match[1]), int(match[2]))
    oldest = tuple(int(x) for x in K8S_OLDEST.split(".")[:2])
    newest = tuple(int(x) for x in K8S_NEWEST.split(".")[:2])
    assert oldest <= minor <= newest, f"{image} is outside the versions the tests validate"
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["kubeVersion"] == f">={K8S_OLDEST}-0"
