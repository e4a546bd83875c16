"""Fixtures of the delivery tests: the JobQueue CRD schema as a jsonschema validator."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from .render import CRD_SOURCE, jobqueue_schema, load_crd


@pytest.fixture(scope="session")
def crd() -> dict[str, Any]:
    assert CRD_SOURCE.exists(), f"{CRD_SOURCE} is missing"
    return load_crd()


@pytest.fixture(scope="session")
def jobqueue_validator(crd: dict[str, Any]) -> jsonschema.Draft7Validator:
    """The CRD's openAPIV3Schema as Draft 7 (no defaults, CEL or pruning, unlike the apiserver)."""
    schema = jobqueue_schema(crd)
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)
