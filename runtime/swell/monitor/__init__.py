"""Monitoring: the admin HTTP API, Prometheus metrics and the web dashboard (the `monitoring` extra)."""

from __future__ import annotations
