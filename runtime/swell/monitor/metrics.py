"""Prometheus metrics: a collector over the stats port, per-process worker metrics, and an exporter.

Two sources, so that no number is counted twice:

* ``StoreCollector`` reads ``Store.stats()`` (one round trip) and reports what the whole
  deployment looks like: depth by priority, running, scheduled, dead, the age of the oldest
  pending job, live workers, and the stores' own counters (enqueued, completed, ...). Every
  worker and the dashboard report the same values; aggregate them with ``max``.
* ``WorkerMetrics`` is fed by one worker process (``on_complete(job, duration)``, ...) and holds
  what only the process sees: the duration histogram and per-type outcome counters. Sum them.

``MetricsExporter`` renders both; ``MetricsServer`` serves it on the worker's ``--metrics-port``
from the worker's own event loop (the store's client is bound to that loop, so a thread-based
``start_http_server`` could not await it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector

from swell.errors import SwellError
from swell.job import Job
from swell.stats import PRIORITY_NAMES, Stats
from swell.store.base import Outcome, OutcomeKind, ReapReport, Store

log = logging.getLogger(__name__)

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                    120.0, 300.0, 600.0, 1800.0, 3600.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class StoreCollector:
    """Gauges and counters from the last ``refresh()`` of ``Store.stats()``.

    ``collect`` is synchronous (prometheus-client calls it), so the async read happens first in
    ``refresh``; a failed read is reported as ``swell_up 0`` instead of stale numbers.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.stats: Stats | None = None

    async def refresh(self) -> None:
        try:
            self.stats = await self.store.stats()
        except (SwellError, OSError) as exc:
            log.warning("metrics: cannot read store stats: %s", exc)
            self.stats = None

    def describe(self) -> Iterable[Metric]:
        return ()  # names are dynamic; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("swell_up", "1 when the last read of the store's stats succeeded")
        up.add_metric([], 1.0 if self.stats is not None else 0.0)
        yield up
        if self.stats is not None:
            yield from _stats_metrics(self.stats)


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def _counter(name: str, doc: str, labels: list[str]) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, labels=labels)


def _stats_metrics(stats: Stats) -> Iterator[Metric]:
    q = ["queue"]
    pending = _gauge("swell_queue_pending", "Jobs ready to run, by priority", ["queue", "priority"])
    gauges = {
        "scheduled": _gauge("swell_queue_scheduled", "Delayed or retrying jobs not yet due", q),
        "scheduled_due": _gauge("swell_queue_scheduled_due", "Delayed or retrying jobs now due", q),
        "running": _gauge("swell_queue_running", "Jobs running under a lease", q),
        "dead": _gauge("swell_queue_dead", "Jobs in the dead-letter queue", q),
        "backlog": _gauge("swell_queue_backlog", "Pending + due + running jobs (what autoscaling uses)", q),
        "oldest_pending_age": _gauge("swell_queue_oldest_pending_age_seconds",
                                     "Age of the oldest pending job", q),
        "throughput_last_minute": _gauge("swell_queue_throughput_last_minute",
                                         "Jobs finished in the last 60 seconds", q),
    }
    counters = {
        "enqueued": _counter("swell_jobs_enqueued", "Jobs enqueued", q),
        "completed": _counter("swell_jobs_completed", "Jobs completed", q),
        "failed_attempts": _counter("swell_jobs_failed", "Failed attempts (retried or dead-lettered)", q),
        "retried": _counter("swell_jobs_retried", "Failed attempts scheduled for a retry", q),
        "dead_lettered": _counter("swell_jobs_dead_lettered",
                                  "Jobs moved to the dead-letter queue (status failed)", q),
        "cancelled": _counter("swell_jobs_cancelled", "Jobs cancelled", q),
        "redelivered": _counter("swell_lease_reaps",
                                "Expired leases reaped (crash recoveries: the job was handed out again)", q),
    }
    by_type = _counter("swell_jobs_completed_by_type", "Jobs completed, by type", ["queue", "type"])
    run_time = _gauge("swell_job_run_seconds", "Run time of completed attempts (min, avg, max), by type",
                      ["queue", "type", "stat"])
    for name in sorted(stats.queues):
        qs = stats.queues[name]
        for prio in PRIORITY_NAMES:
            pending.add_metric([name, prio], float(qs.pending.get(prio, 0)))
        for field, family in gauges.items():
            family.add_metric([name], float(getattr(qs, field) if field != "backlog" else qs.backlog))
        values = {"enqueued": qs.enqueued, "completed": qs.completed, "retried": qs.retried,
                  "failed_attempts": qs.retried + qs.failed, "dead_lettered": qs.failed,
                  "cancelled": qs.cancelled, "redelivered": qs.redelivered}
        for field, cfamily in counters.items():
            cfamily.add_metric([name], float(values[field]))
        for type_, d in sorted(qs.durations.items()):
            by_type.add_metric([name, type_], float(d.count))
            for stat in ("min", "avg", "max"):
                run_time.add_metric([name, type_, stat], float(getattr(d, stat)))
    yield pending
    yield from gauges.values()
    yield from counters.values()
    yield by_type
    yield run_time
    yield from _worker_metrics(stats)


def _worker_metrics(stats: Stats) -> Iterator[Metric]:
    live = GaugeMetricFamily("swell_workers_live", "Workers with a recent heartbeat")
    live.add_metric([], float(len(stats.workers)))
    busy = GaugeMetricFamily("swell_workers_busy", "Live workers running at least one job")
    busy.add_metric([], float(sum(1 for w in stats.workers if w.busy)))
    slots = GaugeMetricFamily("swell_worker_slots", "Total concurrency of live workers")
    slots.add_metric([], float(sum(w.concurrency for w in stats.workers)))
    tenant_pending = _gauge("swell_tenant_pending", "Pending jobs by tenant", ["tenant"])
    tenant_running = _gauge("swell_tenant_running", "Running jobs by tenant", ["tenant"])
    for tenant, ts in sorted(stats.tenants.items()):
        tenant_pending.add_metric([tenant], float(ts.pending))
        tenant_running.add_metric([tenant], float(ts.running))
    yield from (live, busy, slots, tenant_pending, tenant_running)


class WorkerMetrics:
    """What one worker process observed; implements ``swell.monitor.observer.JobObserver``.

    The worker calls ``on_start(job)`` when an attempt begins, ``on_outcome(outcome)`` when it
    ends (or ``on_lost(job)`` when its lease went elsewhere) and ``on_reap(queue, report)`` after
    sweeping leases. None of them blocks or raises (metrics must never break job processing)."""

    def __init__(self, registry: CollectorRegistry | None = None, *, process: bool = False) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.duration = Histogram(
            "swell_job_duration_seconds", "Run time of attempts seen by this worker process",
            ["queue", "type", "outcome"], buckets=DURATION_BUCKETS, registry=self.registry)
        self.outcomes = Counter(
            "swell_worker_jobs", "Attempts finished by this worker process, by outcome",
            ["queue", "type", "outcome"], registry=self.registry)
        self.enqueued = Counter(
            "swell_client_jobs_enqueued", "Jobs enqueued by this process, by type",
            ["queue", "type"], registry=self.registry)
        self.reaps = Counter(
            "swell_worker_lease_reaps", "Expired leases this process reaped, by result",
            ["queue", "result"], registry=self.registry)
        self.in_progress = Gauge(
            "swell_worker_jobs_in_progress", "Jobs this worker process is running",
            ["queue"], registry=self.registry)
        self._running: dict[str, str] = {}  # job id -> queue, so a missed on_start never goes negative
        if process:
            ProcessCollector(registry=self.registry)

    def on_enqueue(self, job: Job) -> None:
        self.enqueued.labels(job.queue, job.type).inc()

    def on_start(self, job: Job) -> None:
        if job.id not in self._running:
            self._running[job.id] = job.queue
            self.in_progress.labels(job.queue).inc()

    def on_complete(self, job: Job, duration: float | None = None) -> None:
        self._finish(job, "completed", duration)

    def on_retry(self, job: Job, duration: float | None = None) -> None:
        self._finish(job, "retried", duration)

    def on_fail(self, job: Job, duration: float | None = None, reason: str | None = None) -> None:
        self._finish(job, "failed", duration)

    def on_release(self, job: Job) -> None:
        self._finish(job, "released", None)

    def on_outcome(self, outcome: Outcome) -> None:
        """One call per ended attempt, straight from the worker's ``Outcome``."""
        if outcome.kind is OutcomeKind.COMPLETE:
            self.on_complete(outcome.job, outcome.duration)
        elif outcome.kind is OutcomeKind.RETRY:
            self.on_retry(outcome.job, outcome.duration)
        elif outcome.kind is OutcomeKind.FAIL:
            self.on_fail(outcome.job, outcome.duration, outcome.reason)
        else:
            self.on_release(outcome.job)

    def on_lost(self, job: Job) -> None:
        self._finish(job, "lost", None)

    def on_reap(self, queue: str, report: ReapReport) -> None:
        if report.requeued:
            self.reaps.labels(queue, "requeued").inc(len(report.requeued))
        if report.dead:
            self.reaps.labels(queue, "dead").inc(len(report.dead))

    def _finish(self, job: Job, outcome: str, duration: float | None) -> None:
        queue = self._running.pop(job.id, None)
        if queue is not None:
            self.in_progress.labels(queue).dec()
        self.outcomes.labels(job.queue, job.type, outcome).inc()
        if duration is not None and duration >= 0:
            self.duration.labels(job.queue, job.type, outcome).observe(duration)


class MetricsExporter:
    """Renders the store's metrics and (optionally) one process's ``WorkerMetrics`` as text."""

    def __init__(self, store: Store | None, worker: WorkerMetrics | None = None) -> None:
        self.registry = CollectorRegistry()
        self.store_collector = StoreCollector(store) if store is not None else None
        if self.store_collector is not None:
            self.registry.register(self.store_collector)  # type: ignore[arg-type]
        if worker is not None:
            self.registry.register(worker.registry)  # type: ignore[arg-type]

    async def render(self) -> bytes:
        if self.store_collector is not None:
            await self.store_collector.refresh()
        return bytes(generate_latest(self.registry))


class MetricsServer:
    """A minimal HTTP server for ``GET /metrics`` in the caller's event loop."""

    def __init__(self, exporter: MetricsExporter, host: str = "0.0.0.0", port: int = 9090) -> None:
        self.exporter = exporter
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> MetricsServer:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])  # the real one when port was 0
        log.info("metrics on http://%s:%d/metrics", self.host, self.port)
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
            method, path = [*request.split(b"\r\n", 1)[0].split(b" "), b"", b""][:2]
            if method not in (b"GET", b"HEAD"):
                status, body, ctype = "405 Method Not Allowed", b"use GET /metrics\n", "text/plain"
            elif path.split(b"?")[0] in (b"/metrics", b"/"):
                status, body, ctype = "200 OK", await self.exporter.render(), CONTENT_TYPE
            else:
                status, body, ctype = "404 Not Found", b"metrics are at /metrics\n", "text/plain"
            head = (f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                    f"Connection: close\r\n\r\n").encode()
            writer.write(head if method == b"HEAD" else head + body)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass  # a scraper that hung up or sent garbage: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def start_metrics_server(store: Store | None, port: int, host: str = "0.0.0.0",
                               worker: WorkerMetrics | None = None) -> MetricsServer:
    """Serve ``/metrics`` for a worker: the store's view plus this process's ``WorkerMetrics``."""
    return await MetricsServer(MetricsExporter(store, worker), host, port).start()
