"""ThreadPool: daemon threads that run sync handlers for the worker's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any


class ThreadPool:
    """Daemon threads for sync handlers.

    Daemon threads, so a sync handler still running after shutdown (its result discarded) does
    not keep the process alive; a new thread starts whenever none is idle, so a handler that
    overran its timeout never delays the next job.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._queue: SimpleQueue[tuple[asyncio.AbstractEventLoop, asyncio.Future[Any],
                                       Callable[..., Any], tuple[Any, ...]] | None] = SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._threads: list[threading.Thread] = []

    def submit(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        with self._lock:
            if self._idle == 0:
                t = threading.Thread(target=self._work, name=f"{self._name}-{len(self._threads)}",
                                     daemon=True)
                self._threads.append(t)
                t.start()
            else:
                self._idle -= 1
        self._queue.put((loop, fut, fn, args))
        return fut

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            loop, fut, fn, args = item
            try:
                result = fn(*args)
            except BaseException as exc:
                _deliver(loop, fut, None, exc)
            else:
                _deliver(loop, fut, result, None)
            with self._lock:
                self._idle += 1

    def shutdown(self) -> None:
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._queue.put(None)


def _deliver(loop: asyncio.AbstractEventLoop, fut: asyncio.Future[Any], result: Any,
             exc: BaseException | None) -> None:
    def set_() -> None:
        if fut.done():
            return  # timed out or cancelled meanwhile: the result is discarded
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(result)

    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
        loop.call_soon_threadsafe(set_)
