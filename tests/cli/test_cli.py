"""The swell command line, run in-process against the private Redis (each test its own key prefix)."""

from __future__ import annotations

import asyncio
import socket
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from swell.cli import main
from swell.errors import PermanentError
from swell.job import JobError, Status, new_job
from swell.settings import Settings
from swell.store.base import JobFilter, Store
from swell.store.redis import RedisStore

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWELL_REDIS_URL", raising=False)
    monkeypatch.delenv("SWELL_KEY_PREFIX", raising=False)


@pytest.fixture
def swell(capsys: pytest.CaptureFixture[str], redis_url: str, key_prefix: str) -> Run:
    """``swell("stats", "--json")`` -> (exit code, stdout, stderr), on this test's Redis prefix."""

    def run(*argv: str, shared: bool = True) -> tuple[int, str, str]:
        extra = ["--redis-url", redis_url, "--key-prefix", key_prefix] if shared else []
        code = main([*argv, *extra])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def with_store(redis_url: str, key_prefix: str, fn: Callable[[Store], object]) -> object:
    async def go() -> object:
        store = RedisStore.from_url(redis_url, settings=Settings(key_prefix=key_prefix))
        try:
            result = fn(store)
            return await result if asyncio.iscoroutine(result) else result
        finally:
            await store.close()

    return asyncio.run(go())


def one_line_error(code: int, err: str, *needles: str) -> None:
    assert code != 0
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    for needle in needles:
        assert needle in err


# -- enqueue, jobs -------------------------------------------------------------------------------------

def test_enqueue_then_list_and_show(swell: Run, capsys: pytest.CaptureFixture[str], redis_url: str,
                                    key_prefix: str) -> None:
    code, out, _ = swell("enqueue", "send_email", "--args", '{"to": "a@example.com"}', "--priority", "high",
                         "--queue", "emails", "--tenant", "acme")
    assert code == 0
    job_id = out.split()[0]
    assert "pending" in out and "priority=high" in out
    code, out, _ = swell("jobs", "--queue", "emails")
    assert code == 0 and job_id in out and "send_email" in out
    code, out, _ = swell("jobs", "--json", "--tenant", "acme")
    (found,) = orjson.loads(out)
    assert (found["id"], found["args"], found["priority"]) == (job_id, {"to": "a@example.com"}, 1)
    code, out, _ = swell("jobs", "show", job_id)
    assert code == 0 and '{"to":"a@example.com"}' in out and "acme" in out
    # Options before the nested command count too.
    code = main(["jobs", "--redis-url", redis_url, "--key-prefix", key_prefix, "--json", "show", job_id])
    assert code == 0 and orjson.loads(capsys.readouterr().out)["id"] == job_id
    assert swell("jobs", "--status", "completed")[1].strip() == "no matching jobs"


def test_enqueue_delayed_and_at_a_time(swell: Run) -> None:
    before = time.time()
    code, out, _ = swell("enqueue", "later", "--delay", "60", "--json")
    job = orjson.loads(out)
    assert code == 0 and job["status"] == "scheduled" and before + 59 < job["run_at"] < time.time() + 61
    code, out, _ = swell("enqueue", "later", "--at", "2099-01-31T09:00:00+01:00", "--json")
    assert orjson.loads(out)["run_at"] == datetime(2099, 1, 31, 8, tzinfo=UTC).timestamp()
    code, out, _ = swell("enqueue", "later", "--at", "2099-01-31T09:00:00", "--json")  # no offset: UTC
    assert orjson.loads(out)["run_at"] == datetime(2099, 1, 31, 9, tzinfo=UTC).timestamp()
    code, out, _ = swell("enqueue", "later", "--at", "2099-01-31T09:00:00Z")
    assert code == 0 and "runs at 2099-01-31 09:00:00Z" in out


@pytest.mark.parametrize(("argv", "needles"), [
    (["enqueue", "t", "--args", "{bad"], ["swell enqueue: error: invalid --args JSON '{bad'"]),
    (["enqueue", "t", "--priority", "urgent"], ["unknown priority 'urgent'", "critical, high, normal, low"]),
    (["enqueue", "t", "--at", "next tuesday"], ["invalid --at time 'next tuesday'", "ISO 8601"]),
    (["enqueue", "t", "--delay", "-5"], ["--delay must be"]),
    (["enqueue", "t", "--queue", "bad queue"], ["invalid queue name"]),
    (["jobs", "show", "nope"], ["no job with id 'nope'"]),
    (["cron", "add", "x", "t", "--cron", "61 * * * *"], ["minute 61 out of range 0-59"]),
    (["cron", "add", "x", "t", "--cron", "@daily", "--tz", "Mars/Base"], ["unknown time zone 'Mars/Base'"]),
    (["cron", "disable", "ghost"], ["no stored schedule named 'ghost'"]),
    (["dead", "replay"], ["give a job ID or --all"]),
])
def test_errors_are_one_line(swell: Run, argv: list[str], needles: list[str]) -> None:
    code, _, err = swell(*argv)
    one_line_error(code, err, *needles)


def test_unreachable_redis_and_missing_url(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["stats", "--redis-url", f"redis://127.0.0.1:{unused_port()}/0"])
    one_line_error(code, capsys.readouterr().err, "swell stats: error: cannot reach Redis at 127.0.0.1:")
    code = main(["stats"])
    one_line_error(code, capsys.readouterr().err, "needs a shared store", "SWELL_REDIS_URL")
    code = main(["enqueue", "t", "--redis-url", "http://example.com"])
    one_line_error(code, capsys.readouterr().err, "swell enqueue: error:")


def test_redis_url_and_prefix_from_the_environment(swell: Run, monkeypatch: pytest.MonkeyPatch,
                                                   redis_url: str, key_prefix: str) -> None:
    monkeypatch.setenv("SWELL_REDIS_URL", redis_url)
    monkeypatch.setenv("SWELL_KEY_PREFIX", key_prefix)
    assert swell("enqueue", "t", shared=False)[0] == 0
    assert "t" in swell("jobs", "--type", "t")[1]  # same prefix both ways


# -- stats ---------------------------------------------------------------------------------------------

def test_stats_table_and_json(swell: Run) -> None:
    assert "no queues yet" in swell("stats")[1]
    swell("enqueue", "a", "--priority", "critical")
    swell("enqueue", "b", "--queue", "emails")
    code, out, _ = swell("stats")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["queue", "pending", "crit/high/norm/low"]
    assert any(line.split()[:3] == ["default", "1", "1/0/0/0"] for line in lines)
    code, out, _ = swell("stats", "--json")
    data = orjson.loads(out)
    assert data["queues"]["emails"]["pending_total"] == 1


# -- dead letters ----------------------------------------------------------------------------------------

def make_dead(redis_url: str, key_prefix: str, n: int, queue: str = "default") -> list[str]:
    async def fill(store: Store) -> list[str]:
        ids = []
        for i in range(n):
            job = await store.enqueue(new_job("import", {"n": i}, now=time.time(), queue=queue))
            (claimed,) = await store.claim(queue, "w1", 1)
            error = JobError.from_exception(PermanentError(f"bad row {i}"))
            await store.fail(claimed, error, "permanent error")
            ids.append(job.id)
        return ids

    return with_store(redis_url, key_prefix, fill)  # type: ignore[return-value]


def test_dead_list_replay_and_purge(swell: Run, redis_url: str, key_prefix: str) -> None:
    assert "empty" in swell("dead", "list")[1]
    first, *_ = make_dead(redis_url, key_prefix, 3)
    make_dead(redis_url, key_prefix, 1, queue="other")
    code, out, _ = swell("dead", "list")
    assert code == 0 and first in out and "permanent error" in out and "PermanentError: bad row 0" in out
    code, out, _ = swell("dead", "replay", first)
    assert code == 0 and f"replayed {first}" in out
    code, out, _ = swell("dead", "replay", "--all", "--queue", "default")
    assert "replayed 2 dead job(s)" in out
    statuses = with_store(redis_url, key_prefix, lambda s: s.find(JobFilter(queue="default")))
    assert {j.status for j in statuses} == {Status.PENDING}  # type: ignore[attr-defined]
    code, out, _ = swell("dead", "purge")
    assert code == 0 and "purged 1 dead job(s)" in out
    assert "empty" in swell("dead", "list")[1]


# -- cron -------------------------------------------------------------------------------------------------

def test_cron_add_list_disable_enable_remove(swell: Run) -> None:
    assert "no schedules" in swell("cron", "list")[1]
    code, out, _ = swell("cron", "add", "nightly", "build_report", "--cron", "0 3 * * *", "--tz",
                         "Europe/Paris", "--args", '{"full": true}', "--missed", "run_once")
    assert code == 0 and "saved schedule nightly (next run" in out
    assert swell("cron", "add", "poll", "poll_feed", "--interval", "30")[0] == 0
    code, out, _ = swell("cron", "list")
    assert "nightly" in out and "Europe/Paris" in out and "every 30.0s" in out
    assert swell("cron", "disable", "poll")[1].strip() == "disabled schedule poll"
    listed = {s["name"]: s for s in orjson.loads(swell("cron", "list", "--json")[1])}
    assert listed["poll"]["enabled"] is False
    assert listed["nightly"]["args"] == {"full": True} and listed["nightly"]["missed"] == "run_once"
    assert swell("cron", "enable", "poll")[0] == 0
    assert orjson.loads(swell("cron", "list", "--json")[1])[1]["enabled"] is True
    assert swell("cron", "remove", "poll")[0] == 0
    assert [s["name"] for s in orjson.loads(swell("cron", "list", "--json")[1])] == ["nightly"]


# -- worker ------------------------------------------------------------------------------------------------

APP_MODULE = textwrap.dedent('''
    from swell.app import App

    app = App()
    not_an_app = 42

    @app.job(queue="work")
    def double(args):
        return args["n"] * 2
''')


def test_worker_runs_jobs_of_module_app(swell: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        redis_url: str, key_prefix: str) -> None:
    module = f"cliapp_{key_prefix.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(APP_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    job_id = swell("enqueue", "double", "--args", '{"n": 21}', "--queue", "work")[1].split()[0]
    code, _, err = swell("worker", f"{module}:app", "--burst", "--concurrency", "2")
    assert code == 0, err
    job = with_store(redis_url, key_prefix, lambda s: s.get(job_id))
    assert (job.status, job.result) == (Status.COMPLETED, 42)  # type: ignore[attr-defined]
    code, _, err = swell("worker", f"{module}:not_an_app")
    one_line_error(code, err, "is a int, not a swell App")


@pytest.mark.parametrize(("spec", "needle"), [
    ("no_such_module_xyz:app", "cannot import 'no_such_module_xyz'"),
    ("json:app", "module 'json' has no attribute 'app'"),
    ("json:", "invalid app 'json:'"),
])
def test_worker_bad_app_spec(swell: Run, spec: str, needle: str) -> None:
    code, _, err = swell("worker", spec)
    one_line_error(code, err, needle)


# -- demo ---------------------------------------------------------------------------------------------------

def test_demo_in_memory_prints_final_stats_with_the_dead_job(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--jobs", "60"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "jobs done in" in out
    assert out.count("default") >= 1 and "emails" in out and "completed" in out
    assert "dead-letter queue:" in out
    assert "import_invoice" in out and "retries exhausted" in out and "CorruptInvoice" in out
    assert "flaky_upload" in out and "completed after 2 attempts" in out
    assert "progress:" in err and "100%" in err  # not a TTY: plain progress lines


def test_demo_against_redis(capsys: pytest.CaptureFixture[str], redis_url: str, key_prefix: str) -> None:
    code = main(["demo", "--jobs", "40", "--redis-url", redis_url, "--key-prefix", key_prefix])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "on Redis (key prefix " + key_prefix in err
    assert "import_invoice" in out and "retries exhausted" in out
    assert "removed the demo's" in err


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_worker_module_that_fails_to_import(swell: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             key_prefix: str) -> None:
    module = f"broken_{key_prefix.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text("raise RuntimeError('config file missing')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _, err = swell("worker", f"{module}:app")
    one_line_error(code, err, f"cannot import '{module}': RuntimeError: config file missing")


def test_worker_keeps_the_apps_own_key_prefix(swell: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              redis_url: str, key_prefix: str) -> None:
    module = f"prefixed_{key_prefix.replace('-', '_')}"
    own_prefix = ("from swell.settings import Settings\n"
                  f"app = App(settings=Settings(key_prefix={key_prefix!r}))")
    (tmp_path / f"{module}.py").write_text(APP_MODULE.replace("app = App()", own_prefix))
    monkeypatch.syspath_prepend(str(tmp_path))
    job_id = swell("enqueue", "double", "--args", '{"n": 4}', "--queue", "work")[1].split()[0]
    code, _, err = swell("worker", f"{module}:app", "--burst", "--redis-url", redis_url, shared=False)
    assert code == 0, err
    job = with_store(redis_url, key_prefix, lambda s: s.get(job_id))
    assert (job.status, job.result) == (Status.COMPLETED, 8)  # type: ignore[attr-defined]


def test_jobs_cancel(swell: Run) -> None:
    job_id = swell("enqueue", "t", "--delay", "600")[1].split()[0]
    code, out, _ = swell("jobs", "cancel", job_id)
    assert code == 0 and out.strip() == f"{job_id} t: cancelled"
    code, _, err = swell("jobs", "cancel", "nope")
    one_line_error(code, err, "swell jobs cancel: error: no job with id 'nope'")


def test_enqueue_with_app_validates_args_and_uses_handler_defaults(
        swell: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key_prefix: str) -> None:
    module = f"typed_{key_prefix.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent('''
        from pydantic import BaseModel
        from swell.app import App

        app = App()

        class Email(BaseModel):
            to: str

        @app.job(queue="emails", priority="high", model=Email)
        def send_email(args: Email) -> None:
            pass
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, _ = swell("enqueue", "send_email", "--app", f"{module}:app", "--args", '{"to": "x@y.z"}')
    assert code == 0 and "queue=emails priority=high" in out
    code, _, err = swell("enqueue", "send_email", "--app", f"{module}:app", "--args", '{"too": 1}')
    one_line_error(code, err, "swell enqueue: error:", "to")
