"""Monitoring: the admin HTTP API, Prometheus metrics and the web dashboard (the `monitoring` extra).

    from swell.monitor import create_app, WorkerMetrics
    app.mount("/swell", create_app(store, token=os.environ["SWELL_DASHBOARD_TOKEN"]))

Names load lazily, so a worker that only exports metrics never imports Starlette.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "create_app": "swell.monitor.api",
    "serve": "swell.monitor.server",
    "InsecureBind": "swell.monitor.server",
    "WorkerMetrics": "swell.monitor.metrics",
    "MetricsExporter": "swell.monitor.metrics",
    "start_metrics_server": "swell.monitor.metrics",
    "JobObserver": "swell.monitor.observer",
}

__all__ = ["InsecureBind", "JobObserver", "MetricsExporter", "WorkerMetrics", "create_app", "serve",
           "start_metrics_server"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'swell.monitor' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
