"""One adapter per library, all with the same small interface (used by ``bench.scenarios``).

An adapter module defines:

* ``SETTINGS``: the settings it runs the library with, and why (goes into the results).
* ``VENV``: name of the environment under ``bench/.venv`` it needs, or None for the main one.
* ``async connect(url) -> handle``, ``async enqueue(handle, task, arg)``, ``async close(handle)``.
* ``enqueue_batch``: ``async enqueue_batch(handle, task, args)`` or None (no bulk API).
* ``worker_argv(url, concurrency) -> list[str]``: the command that starts ONE worker process
  (``concurrency=None`` means the library default). Workers read ``BENCH_REDIS_URL``.
* ``IO_CONCURRENCY``: False when one worker process cannot run jobs concurrently.
* ``NOTES``: {scenario: note} for the results table.

Tasks every adapter registers (their bodies call ``bench.probe``): ``noop`` (counted no-op),
``lat`` (records enqueue-to-start latency), ``long`` (records its start, then runs an hour),
``sleep`` (sleeps 10 ms, counted).
"""

from __future__ import annotations

LIBS = ("swell", "arq", "saq", "rq", "celery", "dramatiq", "taskiq", "huey")
PEERS = tuple(lib for lib in LIBS if lib != "swell")
