"""Benchmark swell against arq, saq, rq, celery, dramatiq, taskiq and huey on one private Redis.

    python bench/run.py [--libs swell,taskiq,...] [--n 20000] [--runs 3] [--json OUT] [--md OUT]

Creates bench/.venv (the pinned peers of bench/requirements.txt plus this repo, editable) and
bench/.venv/arq-env (arq pins an older redis-py) on first use, then re-runs itself inside it.
Every library runs in its own subprocesses; Redis is flushed before each measurement. Each
figure is the median of --runs runs. The crash-recovery runs of all libraries go in parallel
(one Redis database each) because most of that time is spent waiting.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENV = BENCH / ".venv"
ARQ_VENV = VENV / "arq-env"
LOGS = BENCH / "out" / "logs"
sys.path.insert(0, str(REPO))

ALL_LIBS = ("swell", "arq", "saq", "rq", "celery", "dramatiq", "taskiq", "huey")
SCENARIOS = ("enqueue_single", "enqueue_batch", "process", "latency", "memory", "recovery", "io_bound")
# Job counts are capped for libraries that are slow at a scenario, so that a full run stays
# within ~20 minutes on 2 cores; the counts used are written into the results.
N_CAP: dict[tuple[str, str], int] = {
    ("rq", "process"): 300,  # a fork per job: 20-40 jobs/s here
    ("arq", "process"): 2000,  # ~200 jobs/s (0.5 s poll loop)
    ("celery", "process"): 3000,  # ~300 jobs/s
    ("celery", "enqueue_single"): 5000,  # ~800 jobs/s
    ("celery", "memory"): 20_000,  # filling 100k jobs would take minutes; bytes/job is linear
    ("taskiq", "memory"): 20_000,
    ("arq", "memory"): 20_000,
    ("saq", "process"): 5000,  # ~600 jobs/s
    ("taskiq", "process"): 5000,  # ~1,000 jobs/s
    ("huey", "process"): 10_000,
}
MEMORY_JOBS = 100_000
IO_JOBS = 2000
LATENCY_JOBS = 200


def log(msg: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


# -- environment -----------------------------------------------------------------------------

def _pip(python: Path, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
                   check=True)


def ensure_envs() -> None:
    """Create/refresh bench/.venv and the arq env when the requirement files changed."""
    for venv, reqs, with_repo in ((VENV, BENCH / "requirements.txt", True),
                                  (ARQ_VENV, BENCH / "requirements-arq.txt", False)):
        python = venv / "bin" / "python"
        stamp = venv / ".bench-installed"
        if not python.exists():
            log(f"creating {venv.relative_to(REPO)}")
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        if stamp.exists() and stamp.stat().st_mtime >= reqs.stat().st_mtime and (
                not with_repo or stamp.stat().st_mtime >= (REPO / "pyproject.toml").stat().st_mtime):
            continue
        log(f"installing {reqs.name} into {venv.relative_to(REPO)}")
        _pip(python, "-r", str(reqs))
        if with_repo:
            _pip(python, "-e", str(REPO))
        stamp.touch()


def in_bench_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


# -- redis -----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """One private redis-server on loopback, no persistence."""

    def __init__(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            sys.exit("redis-server not found (apt-get install redis-server)")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="swell-bench-redis-")
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--daemonize", "no", "--loglevel", "warning", "--databases", "16"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        self.client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def version(self) -> str:
        return str(self.client.info("server")["redis_version"])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


# -- one measurement -------------------------------------------------------------------------

def python_for(lib: str) -> str:
    return str((ARQ_VENV if lib == "arq" else VENV) / "bin" / "python")


def measure(lib: str, scenario: str, url: str, *, n: int = 0, cap: float = 0.0) -> dict[str, Any]:
    """Run one scenario once in a subprocess of the library's environment; its JSON result."""
    logfile = LOGS / f"{lib}-{scenario}.log"
    cmd = [python_for(lib), "-m", "bench.scenarios", lib, scenario, "--url", url, "--n", str(n),
           "--cap", str(cap), "--log", str(logfile)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    try:
        out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=cap + 900,
                             check=False)
    except subprocess.TimeoutExpired:
        return {"value": None, "note": "scenario timed out", "extra": {}}
    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    try:
        result: dict[str, Any] = json.loads(line)
    except json.JSONDecodeError:
        result = {"value": None, "note": f"no result (exit {out.returncode}): {out.stderr.strip()[-300:]}",
                  "extra": {}}
    return result


def n_for(lib: str, scenario: str, n: int) -> int:
    fixed = {"memory": MEMORY_JOBS, "io_bound": IO_JOBS, "latency": LATENCY_JOBS, "recovery": 1}
    base = fixed.get(scenario, n)
    return min(base, N_CAP.get((lib, scenario), base))


def logged(lib: str, scenario: str, run: int, result: dict[str, Any]) -> None:
    note = f"  ({result['note']})" if result.get("note") else ""
    log(f"{lib:9} {scenario:15} run {run + 1}: {result.get('value')}{note}")


def run_sequential(server: RedisServer, libs: list[str], scenarios: list[str], n: int,
                   runs: int) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every scenario but recovery, Redis flushed before each run. Libraries take turns (run 1 of
    every library, then run 2, ...) so that changes in other load on the machine hit all alike."""
    raw: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for scenario in scenarios:
        if scenario == "recovery":
            continue
        for run in range(runs):
            for lib in libs:
                server.client.flushall()
                result = measure(lib, scenario, server.url(), n=n_for(lib, scenario, n))
                raw.setdefault((lib, scenario), []).append(result)
                logged(lib, scenario, run, result)
    return raw


def run_recovery(server: RedisServer, libs: list[str], runs: int,
                 cap: float) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Crash recovery of all libraries in parallel, one Redis database each: it is mostly waiting."""
    import redis

    log(f"crash recovery: all libraries in parallel, cap {cap:.0f} s")

    def one_lib(db: int, lib: str) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        for run in range(runs):
            redis.Redis(port=server.port, db=db).flushdb()
            result = measure(lib, "recovery", server.url(db), n=1, cap=cap)
            results.append(result)
            logged(lib, "recovery", run, result)
            if result.get("value") is None:
                break  # defaults do not change between runs: capped once is capped every time
        return results

    with concurrent.futures.ThreadPoolExecutor(len(libs)) as pool:
        futures = {lib: pool.submit(one_lib, db, lib) for db, lib in enumerate(libs, start=1)}
        return {(lib, "recovery"): fut.result() for lib, fut in futures.items()}


def run_ceiling(server: RedisServer, n: int, runs: int) -> dict[str, Any]:
    """The raw redis-py ceiling: pipelined LPUSH and a batched pop loop."""
    ceiling: dict[str, Any] = {"n": n, "pipeline": 1000, "pop_count": 100}
    for scenario, key in (("ceiling_push", "lpush_pipelined_per_s"),
                          ("ceiling_push_variadic", "lpush_variadic_per_s"),
                          ("ceiling_pop", "rpop_batched_per_s")):
        values = []
        for _ in range(runs):
            server.client.flushall()
            value = measure("redis", scenario, server.url(), n=n).get("value")
            if value is not None:
                values.append(float(value))
        ceiling[key] = statistics.median(values) if values else None
        log(f"redis     {scenario:15} {ceiling[key]}")
    return ceiling


# -- machine and versions --------------------------------------------------------------------

def machine(redis_version: str) -> dict[str, Any]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_kb / 2**20, 1),
        "os": platform.platform(), "python": platform.python_version(), "redis_server": redis_version,
        "redis_config": "private redis-server on 127.0.0.1, no persistence (--save '' --appendonly no)",
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "started_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def versions() -> dict[str, str]:
    from importlib import metadata

    out: dict[str, str] = {}
    for dist in ("swell", "saq", "rq", "celery", "kombu", "dramatiq", "taskiq", "taskiq-redis", "huey",
                 "redis", "hiredis"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    try:
        arq = subprocess.run(
            [python_for("arq"), "-c",
             "from importlib import metadata as m; print(m.version('arq'), m.version('redis'))"],
            capture_output=True, text=True, check=True).stdout.split()
        out["arq"] = f"{arq[0]} (own env: redis-py {arq[1]})"
    except (subprocess.CalledProcessError, IndexError, FileNotFoundError):
        out["arq"] = "not installed"
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "runtime"],
                               capture_output=True, text=True, check=True).stdout.strip()
        out["swell_commit"] = commit + (" (runtime/ has uncommitted changes)" if dirty else "")
    except (subprocess.CalledProcessError, FileNotFoundError):
        pass
    return out


def code_state() -> str:
    """HEAD plus a digest of uncommitted changes under runtime/ (to notice edits during a run)."""
    import hashlib

    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        diff = subprocess.run(["git", "-C", str(REPO), "diff", "HEAD", "--", "runtime"],
                              capture_output=True, check=True).stdout
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "unknown"
    return head + (f"+{hashlib.sha1(diff).hexdigest()[:8]}" if diff else "")


# -- the run ---------------------------------------------------------------------------------

def build_rows(libs: list[str], scenarios: list[str], n: int, info: dict[str, dict[str, Any]],
               raw: dict[tuple[str, str], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    from bench import report

    results = []
    for lib in libs:
        row: dict[str, Any] = {"library": lib, "settings": info[lib].get("settings", "")}
        notes: dict[str, str] = dict(info[lib].get("notes") or {})
        for metric in report.METRICS + report.CPU_METRICS:
            runs = raw.get((lib, metric.scenario), [])
            value, note = report.summarize(runs, metric) if runs else (None, None)
            row[metric.key] = value
            if note and metric.field in ("value", "p50_ms"):
                known = notes.get(metric.scenario)
                notes[metric.scenario] = note + (f"; {known}" if known and known != note else "")
        row["n"] = {s: n_for(lib, s, n) for s in scenarios}
        missing = {m.scenario for m in report.METRICS if row[m.key] is None}
        # A note about a scenario that produced a figure is context only for these three.
        row["notes"] = {s: v for s, v in notes.items()
                        if s in missing or s in ("recovery", "enqueue_batch", "io_bound")}
        row["runs"] = {s: raw.get((lib, s), []) for s in scenarios}
        results.append(row)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--libs", default=",".join(ALL_LIBS), help="comma-separated subset")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated subset")
    parser.add_argument("--n", type=int, default=20_000, help="jobs for enqueue and processing runs")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (the median is kept)")
    parser.add_argument("--cap", type=float, default=120.0, help="longest wait for crash recovery, s")
    parser.add_argument("--json", default=str(BENCH / "out" / "results.json"), help="JSON output")
    parser.add_argument("--md", default=str(BENCH / "out" / "results.md"), help="Markdown output")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the raw redis-py ceiling")
    args = parser.parse_args()

    if not in_bench_venv():
        ensure_envs()
        python = VENV / "bin" / "python"
        os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])
    from bench import report

    libs = [lib.strip() for lib in args.libs.split(",") if lib.strip()]
    unknown = set(libs) - set(ALL_LIBS)
    if unknown:
        sys.exit(f"unknown libraries: {', '.join(sorted(unknown))}")
    scenarios = [s for s in SCENARIOS if s in args.scenarios.split(",")]
    LOGS.mkdir(parents=True, exist_ok=True)
    t_start = time.monotonic()

    load_samples: list[float] = []
    stop_sampling = threading.Event()

    def sample_load() -> None:  # other users of the machine: how busy it was during the run
        while not stop_sampling.wait(10.0):
            load_samples.append(os.getloadavg()[0])

    threading.Thread(target=sample_load, daemon=True).start()
    server = RedisServer()
    try:
        doc: dict[str, Any] = {"command": " ".join(["python bench/run.py", *sys.argv[1:]]),
                               "machine": machine(server.version()), "versions": versions(),
                               "scenarios": scenarios, "runs_per_figure": args.runs}
        code_before = code_state()
        info = {lib: measure(lib, "info", server.url())["extra"] for lib in libs}
        raw = run_sequential(server, libs, scenarios, args.n, args.runs)
        if "recovery" in scenarios:
            raw.update(run_recovery(server, libs, args.runs, args.cap))
        doc["redis_ceiling"] = {} if args.no_ceiling else run_ceiling(server, max(args.n, 100_000), args.runs)
        doc["results"] = build_rows(libs, scenarios, args.n, info, raw)
        doc["comparison"] = report.compare(doc["results"])
        doc["targets"] = report.targets(doc["results"], doc["comparison"])
        code_after = code_state()
        doc["versions"]["swell_code"] = code_before if code_after == code_before else (
            f"CHANGED during the run: {code_before} at the start, {code_after} at the end")
        stop_sampling.set()
        doc["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
        if load_samples:
            doc["machine"]["load_1min_during_run"] = {
                "min": round(min(load_samples), 2), "median": round(statistics.median(load_samples), 2),
                "max": round(max(load_samples), 2), "samples_every_10s": len(load_samples)}
        doc["machine"]["duration_s"] = round(time.monotonic() - t_start, 1)
    finally:
        server.stop()

    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    Path(args.md).write_text(report.markdown(doc))
    log(f"wrote {args.json} and {args.md} in {doc['machine']['duration_s']:.0f} s")
    sys.stdout.write(report.markdown(doc))


if __name__ == "__main__":
    main()
