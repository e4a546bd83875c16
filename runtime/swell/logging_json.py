"""A logging.Formatter that writes one JSON object per line, with job id, queue, type, attempt
and duration lifted from the record's extras (``extra={"job": job, "duration": 0.12}`` or
``extra={"job_id": ..., "queue": ...}``)."""

from __future__ import annotations

import logging
import sys
import time
from typing import IO, Any

import orjson

# Everything a plain LogRecord carries; whatever else is on a record came from `extra=`.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message", "asctime",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}
# extra name -> output name, so callers may use either spelling.
_ALIASES = {"job_type": "type", "attempts": "attempt"}
JOB_FIELDS = ("job_id", "queue", "type", "attempt", "duration", "tenant", "worker_id")


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", job fields..., other extras..., "exc"}`` per line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": _iso(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
        job = extras.pop("job", None)
        if job is not None and hasattr(job, "id"):
            out.update(job_id=job.id, queue=getattr(job, "queue", None), type=getattr(job, "type", None),
                       attempt=getattr(job, "attempts", None))
            if getattr(job, "tenant", None):
                out["tenant"] = job.tenant
        for key, value in extras.items():
            name = _ALIASES.get(key, key)
            out[name] = round(value, 6) if name == "duration" and isinstance(value, float) else value
        if record.exc_info and record.exc_info[0] is not None:
            out["exc_type"] = record.exc_info[0].__name__
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(out, default=repr).decode()


def configure(level: int | str = "INFO", *, json: bool = True, stream: IO[str] | None = None) -> None:
    """Set up the root logger for a CLI process: JSON lines, or the classic text format.

    Only entry points call this; library code just logs through ``logging.getLogger(__name__)``.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if json else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
