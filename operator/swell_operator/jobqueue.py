"""The JobQueue resource as typed values: parse a spec dict, applying the CRD's defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from swell_operator.scaling import (
    DEFAULT_SCALE_DOWN,
    DEFAULT_SCALE_UP,
    Behavior,
    Fallback,
    FallbackMode,
    Policy,
    PolicyType,
    ScalingSpec,
    SelectPolicy,
)

GROUP = "swell.dev"
VERSION = "v1alpha1"
PLURAL = "jobqueues"
KIND = "JobQueue"

# Defaults: the same values as the CRD's `default:`s (a test checks they agree), applied here
# too because objects may be read before the apiserver defaulted them (tests, old versions).
DEFAULTS: dict[str, Any] = {
    "redis.port": 6379,
    "redis.database": 0,
    "redis.keyPrefix": "swell",
    "redis.passwordSecretRef.key": "password",
    "redis.tls.enabled": False,
    "redis.tls.caSecretRef.key": "ca.crt",
    "redis.tls.insecureSkipVerify": False,
    "scaling.minReplicas": 0,
    "scaling.maxReplicas": 10,
    "scaling.jobsPerReplica": 10,
    "scaling.activationBacklog": 1,
    "scaling.pollIntervalSeconds": 5,
    "scaling.tolerancePercent": 10,
    "scaling.cooldownSeconds": 300,
    "scaling.scaleUp.selectPolicy": "Max",
    "scaling.scaleDown.selectPolicy": "Max",
    "scaling.fallback.failureThreshold": 3,
    "scaling.fallback.mode": "static",
    "scaling.paused": False,
}


class InvalidSpec(ValueError):
    """The JobQueue's spec cannot be used (what the CRD schema would have rejected)."""


@dataclass(frozen=True, slots=True)
class SecretKeyRef:
    name: str
    key: str


@dataclass(frozen=True, slots=True)
class RedisConnection:
    url: str | None
    host: str | None
    port: int
    database: int
    username: str | None
    password: SecretKeyRef | None
    tls: bool
    ca: SecretKeyRef | None
    insecure_skip_verify: bool
    key_prefix: str

    def address(self) -> str:
        """The URL to connect to (never with a password in it)."""
        if self.url:
            if self.tls and self.url.startswith("redis://"):
                return "rediss://" + self.url.removeprefix("redis://")
            return self.url
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True, slots=True)
class JobQueueSpec:
    queues: tuple[str, ...]
    redis: RedisConnection
    deployment_ref: str | None
    template: Mapping[str, Any] | None
    scaling: ScalingSpec
    poll_interval: float


def _get(d: Mapping[str, Any], path: str) -> Any:
    cur: Any = d
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return DEFAULTS.get(path)
        cur = cur[part]
    return cur


def _secret_ref(raw: Any, default_key: str) -> SecretKeyRef | None:
    if not raw:
        return None
    return SecretKeyRef(str(raw["name"]), str(raw.get("key") or default_key))


def _behavior(raw: Mapping[str, Any] | None, default: Behavior) -> Behavior:
    if not raw:
        return default
    window = raw.get("stabilizationWindowSeconds")
    policies = raw.get("policies")
    return Behavior(
        stabilization_window=float(default.stabilization_window if window is None else window),
        policies=default.policies if policies is None else tuple(
            Policy(PolicyType(p["type"]), int(p["value"]), int(p["periodSeconds"])) for p in policies),
        select_policy=SelectPolicy(raw.get("selectPolicy") or "Max"),
    )


def parse_spec(spec: Mapping[str, Any]) -> JobQueueSpec:
    """Typed view of ``.spec``; raises InvalidSpec for what the CRD's rules forbid."""
    try:
        return _parse(spec)
    except (KeyError, TypeError, ValueError) as e:
        raise InvalidSpec(f"invalid JobQueue spec: {e}") from e


def _parse(spec: Mapping[str, Any]) -> JobQueueSpec:
    queues = tuple(str(q) for q in spec.get("queues") or ())
    if not queues:
        raise InvalidSpec("spec.queues needs at least one queue")
    if ("deploymentRef" in spec) == ("template" in spec):
        raise InvalidSpec("set exactly one of deploymentRef and template")
    r = spec.get("redis") or {}
    if bool(r.get("url")) == bool(r.get("host")):
        raise InvalidSpec("set exactly one of redis.url and redis.host")
    tls = r.get("tls") or {}
    redis = RedisConnection(
        url=r.get("url"), host=r.get("host"),
        port=int(_get(spec, "redis.port")), database=int(_get(spec, "redis.database")),
        username=r.get("username"),
        password=_secret_ref(r.get("passwordSecretRef"), "password"),
        tls=bool(tls.get("enabled", False)) or str(r.get("url", "")).startswith("rediss://"),
        ca=_secret_ref(tls.get("caSecretRef"), "ca.crt"),
        insecure_skip_verify=bool(tls.get("insecureSkipVerify", False)),
        key_prefix=str(_get(spec, "redis.keyPrefix")),
    )
    s = spec.get("scaling") or {}
    fb = s.get("fallback")
    fallback = None if not fb else Fallback(
        failure_threshold=int(fb.get("failureThreshold", DEFAULTS["scaling.fallback.failureThreshold"])),
        replicas=int(fb["replicas"]),
        mode=FallbackMode(fb.get("mode", DEFAULTS["scaling.fallback.mode"])),
    )
    paused = bool(_get(spec, "scaling.paused"))
    manual = spec.get("replicas")
    scaling = ScalingSpec(
        min_replicas=int(_get(spec, "scaling.minReplicas")),
        max_replicas=int(_get(spec, "scaling.maxReplicas")),
        jobs_per_replica=int(_get(spec, "scaling.jobsPerReplica")),
        activation_backlog=int(_get(spec, "scaling.activationBacklog")),
        tolerance=int(_get(spec, "scaling.tolerancePercent")) / 100,
        cooldown=float(_get(spec, "scaling.cooldownSeconds")),
        scale_up=_behavior(s.get("scaleUp"), DEFAULT_SCALE_UP),
        scale_down=_behavior(s.get("scaleDown"), DEFAULT_SCALE_DOWN),
        fallback=fallback,
        paused=paused,
        manual_replicas=None if manual is None else int(manual),
    )
    if scaling.min_replicas > scaling.max_replicas:
        raise InvalidSpec("scaling.minReplicas must be <= scaling.maxReplicas")
    if scaling.jobs_per_replica < 1:
        raise InvalidSpec("scaling.jobsPerReplica must be >= 1")
    ref = spec.get("deploymentRef")
    return JobQueueSpec(
        queues=queues, redis=redis,
        deployment_ref=str(ref["name"]) if ref else None,
        template=spec.get("template"),
        scaling=scaling,
        poll_interval=float(_get(spec, "scaling.pollIntervalSeconds")),
    )
