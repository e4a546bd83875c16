"""`python -m swell` as a real process: exit codes and one-line errors without tracebacks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def swell(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SWELL_")}
    return subprocess.run([sys.executable, "-m", "swell", *argv], capture_output=True, text=True,
                          timeout=60, env={**base, **(env or {})}, check=False)


def test_process_errors_are_one_line_with_non_zero_exit(redis_url: str, key_prefix: str) -> None:
    env = {"SWELL_REDIS_URL": redis_url, "SWELL_KEY_PREFIX": key_prefix}
    bad_json = swell("enqueue", "t", "--args", "[1,", env=env)
    assert bad_json.returncode == 1 and "Traceback" not in bad_json.stderr
    assert bad_json.stderr.strip().startswith("swell enqueue: error: invalid --args JSON")
    assert len(bad_json.stderr.strip().splitlines()) == 1
    down = swell("stats", "--redis-url", f"redis://127.0.0.1:{unused_port()}/0")
    assert down.returncode == 1 and "Traceback" not in down.stderr
    assert "cannot reach Redis" in down.stderr and len(down.stderr.strip().splitlines()) == 1
    ok = swell("enqueue", "t", "--args", "{}", env=env)
    assert ok.returncode == 0 and ok.stdout.split()[1] == "t"
    usage = swell("enqueue")
    assert usage.returncode == 2 and "usage:" in usage.stderr


def test_process_demo_in_memory() -> None:
    done = swell("demo", "--jobs", "30")
    assert done.returncode == 0, done.stderr
    assert "dead-letter queue:" in done.stdout and "import_invoice" in done.stdout


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
