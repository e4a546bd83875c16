"""The JSON-lines log formatter: job fields from extras, aliases, exceptions, one line per record."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from swell import logging_json
from swell.job import new_job


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging_json.JsonFormatter())
    logger = logging.getLogger("swell.test.jsonlog")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_job_fields_from_a_job_extra(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    job = new_job("email.send", {"to": "a@b"}, now=1_700_000_000.0, queue="mail", tenant="acme")
    logger.info("job %s done", job.id, extra={"job": job, "duration": 0.123456789})
    [line] = lines(stream)
    assert line["message"] == f"job {job.id} done"
    assert line["level"] == "info" and line["logger"] == "swell.test.jsonlog"
    assert line["job_id"] == job.id and line["queue"] == "mail" and line["type"] == "email.send"
    assert line["attempt"] == 0 and line["tenant"] == "acme"
    assert line["duration"] == 0.123457
    assert str(line["ts"]).endswith("Z") and "T" in str(line["ts"])


def test_flat_extras_and_aliases(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    logger.warning("retrying", extra={"job_id": "j1", "queue": "q", "job_type": "t", "attempts": 2,
                                      "delay": 4.0})
    logger.info("plain line")
    first, second = lines(stream)
    assert (first["job_id"], first["queue"], first["type"], first["attempt"], first["delay"]) == (
        "j1", "q", "t", 2, 4.0)
    assert first["level"] == "warning"
    assert "job_id" not in second and second["message"] == "plain line"


def test_exceptions_and_odd_values_stay_on_one_line(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        logger.exception("handler crashed", extra={"job_id": "j2", "payload": object()})
    assert len(stream.getvalue().splitlines()) == 1
    [line] = lines(stream)
    assert line["exc_type"] == "ValueError"
    assert "Traceback" in str(line["exc"]) and "bad" in str(line["exc"])
    assert str(line["payload"]).startswith("<object object")


def test_configure_installs_the_formatter_on_the_root_logger() -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    try:
        logging_json.configure("DEBUG", json=True, stream=stream)
        logging.getLogger("swell.worker").debug("claimed", extra={"job_id": "j3", "queue": "q"})
        [line] = lines(stream)
        assert line["job_id"] == "j3" and line["logger"] == "swell.worker"
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
