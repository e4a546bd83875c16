"""Prometheus metrics: the store collector, per-process worker metrics, /metrics and the worker server."""

from __future__ import annotations

import httpx
from monitor_support import Seeded, seed
from prometheus_client.parser import text_string_to_metric_families

from swell.clock import ManualClock
from swell.errors import StoreUnavailable
from swell.job import new_job
from swell.monitor.metrics import MetricsExporter, WorkerMetrics, start_metrics_server
from swell.stats import Stats
from swell.store.base import ReapReport, Store
from swell.store.memory import MemoryStore


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse exposition text into {(sample name, sorted labels): value}."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def at(values: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return values[(name, tuple(sorted(labels.items())))]


async def test_dashboard_metrics_report_depth_counters_and_workers(client: httpx.AsyncClient,
                                                                   seeded: Seeded) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    m = samples(response.text)
    assert at(m, "swell_up") == 1
    assert at(m, "swell_queue_pending", queue="mail", priority="normal") == 4
    assert at(m, "swell_queue_pending", queue="reports", priority="high") == 1
    assert at(m, "swell_queue_pending", queue="reports", priority="low") == 0
    assert at(m, "swell_queue_running", queue="reports") == 1
    assert at(m, "swell_queue_scheduled", queue="maintenance") == 1
    assert at(m, "swell_queue_dead", queue="reports") == 1
    assert at(m, "swell_queue_backlog", queue="mail") == 4
    assert at(m, "swell_queue_oldest_pending_age_seconds", queue="mail") > 0
    assert at(m, "swell_jobs_enqueued_total", queue="mail") == 5
    assert at(m, "swell_jobs_completed_total", queue="mail") == 1
    assert at(m, "swell_jobs_dead_lettered_total", queue="reports") == 1
    assert at(m, "swell_jobs_failed_total", queue="reports") == 1
    assert at(m, "swell_jobs_retried_total", queue="reports") == 0
    assert at(m, "swell_lease_reaps_total", queue="reports") == 0
    assert at(m, "swell_jobs_completed_by_type_total", queue="mail", type="email.send") == 1
    assert at(m, "swell_job_run_seconds", queue="mail", type="email.send", stat="max") == 0.25
    assert at(m, "swell_workers_live") == 1
    assert at(m, "swell_workers_busy") == 1
    assert at(m, "swell_worker_slots") == 4


async def test_lease_reaps_are_counted(memory_store: Store, clock: ManualClock) -> None:
    await memory_store.enqueue(new_job("t", now=clock(), queue="q"))
    await memory_store.claim("q", "crashed-worker", 1)
    clock.advance(3600)  # the worker died: its lease runs out
    report = await memory_store.reap_expired("q")
    assert len(report.requeued) == 1
    m = samples((await MetricsExporter(memory_store).render()).decode())
    assert at(m, "swell_lease_reaps_total", queue="q") == 1
    assert at(m, "swell_queue_pending", queue="q", priority="normal") == 1


class DownStore(MemoryStore):
    async def stats(self) -> Stats:
        raise StoreUnavailable("redis is down")


async def test_an_unreachable_store_reports_swell_up_zero() -> None:
    m = samples((await MetricsExporter(DownStore()).render()).decode())
    assert at(m, "swell_up") == 0
    assert not any(name.startswith("swell_queue") for name, _ in m)


async def test_worker_metrics_histogram_and_outcomes(memory_store: Store, clock: ManualClock) -> None:
    metrics = WorkerMetrics()
    jobs = [new_job("resize", {"i": i}, now=clock(), queue="images") for i in range(4)]
    for job in jobs:
        metrics.on_enqueue(job)
        metrics.on_start(job)
    metrics.on_complete(jobs[0], 0.02)
    metrics.on_complete(jobs[1], 3.0)
    metrics.on_retry(jobs[2], 0.5)
    metrics.on_fail(jobs[3], 0.1, reason="permanent error")
    metrics.on_complete(jobs[0], None)  # a duplicate report must not push in-progress below zero
    metrics.on_reap("images", ReapReport(requeued=("a", "b"), dead=("c",)))
    m = samples((await MetricsExporter(None, metrics).render()).decode())
    labels = {"queue": "images", "type": "resize"}
    assert at(m, "swell_job_duration_seconds_count", outcome="completed", **labels) == 2
    assert at(m, "swell_job_duration_seconds_sum", outcome="completed", **labels) == 3.02
    assert at(m, "swell_job_duration_seconds_bucket", outcome="completed", le="0.025", **labels) == 1
    assert at(m, "swell_job_duration_seconds_count", outcome="failed", **labels) == 1
    assert at(m, "swell_worker_jobs_total", outcome="completed", **labels) == 3
    assert at(m, "swell_worker_jobs_total", outcome="retried", **labels) == 1
    assert at(m, "swell_client_jobs_enqueued_total", **labels) == 4
    assert at(m, "swell_worker_jobs_in_progress", queue="images") == 0
    assert at(m, "swell_worker_lease_reaps_total", queue="images", result="requeued") == 2
    assert at(m, "swell_worker_lease_reaps_total", queue="images", result="dead") == 1


async def test_worker_metrics_server_serves_store_and_process_metrics(memory_store: Store,
                                                                      clock: ManualClock) -> None:
    await seed(memory_store, clock)
    metrics = WorkerMetrics(process=True)
    job = new_job("email.send", now=clock(), queue="mail")
    metrics.on_start(job)
    metrics.on_complete(job, 0.3)
    server = await start_metrics_server(memory_store, 0, "127.0.0.1", metrics)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
            response = await http.get("/metrics")
            assert response.status_code == 200
            m = samples(response.text)
            assert at(m, "swell_queue_pending", queue="mail", priority="normal") == 4
            assert at(m, "swell_job_duration_seconds_count", queue="mail", type="email.send",
                      outcome="completed") == 1
            assert any(name == "process_cpu_seconds_total" for name, _ in m)
            assert (await http.get("/elsewhere")).status_code == 404
            assert (await http.post("/metrics")).status_code == 405
    finally:
        await server.close()


async def test_worker_metrics_follow_outcomes(clock: ManualClock) -> None:
    from swell.job import JobError
    from swell.monitor.observer import JobObserver
    from swell.store.base import Outcome, OutcomeKind

    metrics: JobObserver = WorkerMetrics()
    jobs = [new_job("sync", now=clock(), queue="q") for _ in range(5)]
    for job in jobs:
        metrics.on_start(job)
    error = JobError("E", "x")
    metrics.on_outcome(Outcome(jobs[0], OutcomeKind.COMPLETE, duration=0.2))
    metrics.on_outcome(Outcome(jobs[1], OutcomeKind.RETRY, error=error, delay=1.0, duration=0.1))
    metrics.on_outcome(Outcome(jobs[2], OutcomeKind.FAIL, error=error, reason="x", duration=0.3))
    metrics.on_outcome(Outcome(jobs[3], OutcomeKind.RELEASE))
    metrics.on_lost(jobs[4])
    assert isinstance(metrics, WorkerMetrics)
    m = samples((await MetricsExporter(None, metrics).render()).decode())
    for outcome in ("completed", "retried", "failed", "released", "lost"):
        assert at(m, "swell_worker_jobs_total", queue="q", type="sync", outcome=outcome) == 1
    assert at(m, "swell_job_duration_seconds_count", queue="q", type="sync", outcome="failed") == 1
    assert at(m, "swell_worker_jobs_in_progress", queue="q") == 0


async def test_metrics_after_a_real_worker_ran_jobs() -> None:
    """Jobs run by a burst Worker show up in /metrics and in the API as an on-call would see them."""
    import asyncio

    from swell.app import App
    from swell.errors import PermanentError
    from swell.monitor.api import create_app
    from swell.worker import Worker

    app = App(MemoryStore())

    @app.job("add", queue="math")
    async def add(args: dict[str, int]) -> int:
        return args["a"] + args["b"]

    @app.job("explode", queue="math", max_retries=0)
    async def explode(args: dict[str, int]) -> None:
        raise PermanentError("no way")

    for i in range(6):
        await app.enqueue("add", {"a": i, "b": 1})
    await app.enqueue("explode")
    await asyncio.wait_for(Worker(app, handle_signals=False, scheduler=False).run(burst=True), 30)

    admin = create_app(app.store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=admin), base_url="http://a") as client:
        m = samples((await client.get("/metrics")).text)
        dead = (await client.get("/api/dead?queue=math")).json()["jobs"]
    assert at(m, "swell_jobs_enqueued_total", queue="math") == 7
    assert at(m, "swell_jobs_completed_total", queue="math") == 6
    assert at(m, "swell_jobs_dead_lettered_total", queue="math") == 1
    assert at(m, "swell_queue_pending", queue="math", priority="normal") == 0
    assert at(m, "swell_jobs_completed_by_type_total", queue="math", type="add") == 6
    assert [j["type"] for j in dead] == ["explode"] and dead[0]["error"]["message"] == "no way"
