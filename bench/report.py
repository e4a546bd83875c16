"""Turn raw runs into the results: medians, swell-vs-best-peer ratios, targets, JSON and Markdown."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Metric:
    key: str  # field of a result row
    scenario: str
    field: str  # "value" or a key of the run's "extra"
    higher_is_better: bool
    title: str
    unit: str


METRICS = (
    Metric("enqueue_single_jobs_per_s", "enqueue_single", "value", True, "enqueue, single call", "jobs/s"),
    Metric("enqueue_batch_jobs_per_s", "enqueue_batch", "value", True, "enqueue, batched", "jobs/s"),
    Metric("processing_jobs_per_s", "process", "value", True, "processing, 1 worker process", "jobs/s"),
    Metric("latency_p50_ms", "latency", "p50_ms", False, "pickup latency p50", "ms"),
    Metric("latency_p99_ms", "latency", "p99_ms", False, "pickup latency p99", "ms"),
    Metric("bytes_per_job", "memory", "value", False, "Redis memory per queued job", "bytes"),
    Metric("recovery_s", "recovery", "value", False, "crash recovery", "s"),
    Metric("io_bound_jobs_per_s", "io_bound", "value", True, "I/O-bound, concurrency 100", "jobs/s"),
)

# Context for the processing figure: CPU per job barely depends on other load on the machine.
CPU_METRICS = (
    Metric("worker_cpu_us_per_job", "process", "worker_cpu_us_per_job", False, "worker CPU per job", "µs"),
    Metric("redis_cpu_us_per_job", "process", "redis_cpu_us_per_job", False, "redis-server CPU per job",
           "µs"),
)


def _run_value(run: dict[str, Any], metric: Metric) -> float | None:
    if metric.field == "value":
        value = run.get("value")
    else:
        value = (run.get("extra") or {}).get(metric.field) if run.get("value") is not None else None
    return None if value is None else float(value)


def summarize(runs: list[dict[str, Any]], metric: Metric) -> tuple[float | None, str | None]:
    """Median over runs. A capped recovery run counts as infinitely slow."""
    values: list[float] = []
    notes: list[str] = []
    for run in runs:
        value = _run_value(run, metric)
        if value is None and (run.get("extra") or {}).get("capped"):
            value = math.inf
        if value is None:
            if run.get("note"):
                notes.append(str(run["note"]))
            continue
        values.append(value)
    if not values:
        return None, notes[0] if notes else None
    median = statistics.median(values)
    failed = len(runs) - len(values)
    note = f"{failed} of {len(runs)} runs failed: {notes[0]}" if failed and notes else None
    if math.isinf(median):
        cap = max(float((r.get("extra") or {}).get("cap_s", 0)) for r in runs)
        return None, f"not run again within {cap:.0f} s" + (f" ({len(runs)} run(s))" if runs else "")
    return median, note


def compare(results: list[dict[str, Any]]) -> dict[str, Any]:
    """swell against the best peer, per metric. ``swell_advantage`` > 1 means swell is better
    (swell/best for rates, best/swell for latency, memory and recovery time)."""
    out: dict[str, Any] = {}
    swell = next((r for r in results if r["library"] == "swell"), None)
    for metric in METRICS:
        peers = [(r["library"], r[metric.key]) for r in results
                 if r["library"] != "swell" and r[metric.key] is not None]
        best = (max if metric.higher_is_better else min)(peers, key=lambda p: p[1]) if peers else None
        mine = swell[metric.key] if swell else None
        advantage = None
        if best is not None and mine is not None and best[1] > 0 and mine > 0:
            advantage = mine / best[1] if metric.higher_is_better else best[1] / mine
        out[metric.key] = {
            "best_peer": best[0] if best else None,
            "best_peer_value": best[1] if best else None,
            "swell": mine,
            "swell_advantage": advantage,
            "higher_is_better": metric.higher_is_better,
        }
    return out


def targets(results: list[dict[str, Any]], comparison: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, checked against this run."""
    swell = next((r for r in results if r["library"] == "swell"), None)
    if swell is None:
        return []

    def val(key: str) -> float | None:
        v = swell.get(key)
        return None if v is None else float(v)

    def best(key: str) -> float | None:
        v = comparison[key]["best_peer_value"]
        return None if v is None else float(v)

    def check(name: str, value: float | None, goal: float | None, higher: bool) -> dict[str, Any]:
        met = None if value is None or goal is None else (value >= goal if higher else value <= goal)
        return {"target": name, "value": value, "goal": goal, "met": met}

    proc = val("processing_jobs_per_s")
    best_proc = best("processing_jobs_per_s")
    return [
        check("processing >= 20,000 no-op jobs/s (1 process)", proc, 20_000, True),
        check("processing >= 5x the best peer", proc, None if best_proc is None else 5 * best_proc, True),
        check("batched enqueue >= 50,000 jobs/s", val("enqueue_batch_jobs_per_s"), 50_000, True),
        check("single-call enqueue >= the best peer's", val("enqueue_single_jobs_per_s"),
              best("enqueue_single_jobs_per_s"), True),
        check("p99 pickup latency <= 2 ms", val("latency_p99_ms"), 2.0, False),
        check("<= 250 bytes of Redis memory per queued job", val("bytes_per_job"), 250, False),
        check("crash recovery <= 10 s (default settings)", val("recovery_s"), 10.0, False),
    ]


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit in ("jobs/s", "bytes"):
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def markdown(doc: dict[str, Any]) -> str:
    """The results as Markdown: main table, comparison, targets, ceiling, settings and notes."""
    results = doc["results"]
    lines = ["| library | " + " | ".join(f"{m.title} ({m.unit})" for m in METRICS) + " |",
             "|---|" + "---:|" * len(METRICS)]
    for r in results:
        cells = [_fmt(r[m.key], m.unit) for m in METRICS]
        name = f"**{r['library']}**" if r["library"] == "swell" else r["library"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "— = the library cannot do it, or did not within the cap (see notes).", "",
              "**swell against the best peer** (advantage > 1 means swell is better: swell/best for "
              "rates, best/swell for latency, memory and recovery time):", "",
              "| metric | best peer | best peer value | swell | swell advantage |",
              "|---|---|---:|---:|---:|"]
    for m in METRICS:
        c = doc["comparison"][m.key]
        adv = "—" if c["swell_advantage"] is None else f"{c['swell_advantage']:.2f}x"
        best = _fmt(c["best_peer_value"], m.unit)
        lines.append(f"| {m.title} ({m.unit}) | {c['best_peer'] or '—'} | {best} "
                     f"| {_fmt(c['swell'], m.unit)} | {adv} |")
    if doc.get("targets"):
        lines += ["", "**Targets** (from the issue):", "", "| target | goal | swell | met |",
                  "|---|---:|---:|---|"]
        for t in doc["targets"]:
            met = {True: "yes", False: "**no**", None: "n/a"}[t["met"]]
            goal = "—" if t["goal"] is None else f"{t['goal']:,.6g}"
            value = "—" if t["value"] is None else f"{t['value']:,.6g}"
            lines.append(f"| {t['target']} | {goal} | {value} | {met} |")
    lines += ["", "**CPU per no-op job** in the processing scenario (user+system CPU of the worker "
              "process tree and of redis-server between the first job's start and the last job's end, "
              "divided by the jobs; much less sensitive to other load than the rates):", "",
              "| library | worker CPU (µs/job) | redis-server CPU (µs/job) | 1e6 / worker CPU (jobs/s) |",
              "|---|---:|---:|---:|"]
    for r in results:
        w, rc = r.get("worker_cpu_us_per_job"), r.get("redis_cpu_us_per_job")
        rate = _fmt(1e6 / w if w else None, "jobs/s")
        lines.append(f"| {r['library']} | {_fmt(w, 'µs')} | {_fmt(rc, 'µs')} | {rate} |")
    ceiling = doc.get("redis_ceiling") or {}
    if ceiling:
        lines += ["", "**Raw redis-py ceiling** on the same Redis (one client, hiredis): "
                  f"pipelined LPUSH {_fmt(ceiling.get('lpush_pipelined_per_s'), 'jobs/s')} items/s "
                  f"(pipelines of {ceiling.get('pipeline')}), one LPUSH of {ceiling.get('pipeline')} values "
                  f"{_fmt(ceiling.get('lpush_variadic_per_s'), 'jobs/s')} items/s, batched pop loop "
                  f"{_fmt(ceiling.get('rpop_batched_per_s'), 'jobs/s')} items/s "
                  f"(RPOP count {ceiling.get('pop_count')})."]
    lines += ["", "**Job counts used** (smaller for slow libraries to keep the run short):", "",
              "| library | " + " | ".join(doc["scenarios"]) + " |", "|---|" + "---:|" * len(doc["scenarios"])]
    for r in results:
        counts = " | ".join(str(r["n"].get(s, "—")) for s in doc["scenarios"])
        lines.append(f"| {r['library']} | {counts} |")
    lines += ["", "**Settings** (each library at its defaults or documented recommendation):", ""]
    lines += [f"- **{r['library']}**: {r['settings']}" for r in results]
    noted = [(r["library"], k, v) for r in results for k, v in sorted(r["notes"].items()) if v]
    if noted:
        lines += ["", "**Notes**:", ""]
        lines += [f"- {lib}, {scenario}: {note}" for lib, scenario, note in noted]
    m = doc.get("machine") or {}
    if m:
        lines += ["", "**Machine**: " + ", ".join(f"{k} {v}" for k, v in m.items()), ""]
    v = doc.get("versions") or {}
    if v:
        lines += ["**Versions**: " + ", ".join(f"{k} {val}" for k, val in v.items()), ""]
    if doc.get("command"):
        lines += [f"**Command**: `{doc['command']}` ({doc.get('runs_per_figure', '?')} runs per figure)"]
    return "\n".join(lines) + "\n"
