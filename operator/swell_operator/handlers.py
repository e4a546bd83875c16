"""Every kopf decorator of the operator; each one is a thin call into reconcile."""

from __future__ import annotations

import copy
import logging
import time
from typing import Any

import kopf

from swell_operator.jobqueue import GROUP, PLURAL, VERSION, InvalidSpec, parse_spec
from swell_operator.kube import Kube
from swell_operator.reconcile import Autoscaler, ensure_target

log = logging.getLogger(__name__)

FINALIZER = "swell.dev/operator"
DEFAULT_POLL = 5.0


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    # kopf's default (INFO) turns every handler log line into a Kubernetes Event.
    settings.posting.level = logging.WARNING
    # kopf adds a finalizer because of the daemon (it must stop it before the object goes);
    # the owned Deployment is cleaned up by its ownerReference, not by us.
    settings.persistence.finalizer = FINALIZER
    memo.kube = Kube.connect()


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    kube = memo.get("kube")
    if kube is not None:
        kube.close()


@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
@kopf.on.resume(GROUP, VERSION, PLURAL)
async def reconcile_target(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    try:
        await ensure_target(memo.kube, copy.deepcopy(dict(body)))
    except InvalidSpec as e:
        raise kopf.PermanentError(str(e)) from e
    except LookupError as e:  # a deploymentRef that does not exist (yet): look again later
        raise kopf.TemporaryError(str(e), delay=30) from e


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=10.0)
async def autoscale(*, body: kopf.Body, name: str, namespace: str | None, stopped: kopf.DaemonStopped,
                    memo: kopf.Memo, **_: Any) -> None:
    """One loop per JobQueue, polling its stats port at its own interval."""
    scaler = Autoscaler(memo.kube, namespace or "default", name)
    try:
        while not stopped:
            snapshot = copy.deepcopy(dict(body))  # the live body changes under our feet
            try:
                await scaler.tick(snapshot, time.time())
            except Exception as e:  # one bad poll must not end the loop; the next one retries
                # Our module logger, not kopf's `logger`: that one would post an Event per poll.
                log.warning("JobQueue %s/%s: autoscaling poll failed: %s: %s",
                            namespace, name, type(e).__name__, e)
            await stopped.wait(_interval(snapshot))
    finally:
        await scaler.close()


def _interval(body: dict[str, Any]) -> float:
    try:
        return parse_spec(body.get("spec") or {}).poll_interval
    except InvalidSpec:
        return DEFAULT_POLL
