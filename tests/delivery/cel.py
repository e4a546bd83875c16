"""Apply a CRD's structural defaults and evaluate its CEL rules (x-kubernetes-validations) offline.

jsonschema checks types and bounds but not CEL; the API server applies `default`s first and then
evaluates every rule with `self` bound to the object at that level. This does the same with
cel-python, which is close enough for our rules (has(), comparisons, matches()).
"""

from __future__ import annotations

import copy
from typing import Any

import celpy
from celpy.adapter import json_to_cel
from celpy.evaluation import CELEvalError


def apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """`value` with the schema's `default`s filled in, recursively (as the API server does)."""
    if isinstance(value, dict) and schema.get("type") == "object":
        out = dict(value)
        for name, prop in (schema.get("properties") or {}).items():
            if name not in out and "default" in prop:
                out[name] = copy.deepcopy(prop["default"])
            if name in out:
                out[name] = apply_defaults(prop, out[name])
        return out
    if isinstance(value, list) and "items" in schema:
        return [apply_defaults(schema["items"], item) for item in value]
    return value


def cel_errors(schema: dict[str, Any], value: Any, path: str = "") -> list[str]:
    """Messages of the CEL rules that `value` (already defaulted) breaks, with their paths."""
    errors: list[str] = []
    env = celpy.Environment()
    for rule in schema.get("x-kubernetes-validations") or []:
        program = env.program(env.compile(rule["rule"]))
        ok = program.evaluate({"self": json_to_cel(value)})
        if isinstance(ok, CELEvalError) or not bool(ok):
            errors.append(f"{path or '<root>'}: {rule.get('message', rule['rule'])}")
    if isinstance(value, dict):
        for name, prop in (schema.get("properties") or {}).items():
            if name in value:
                errors.extend(cel_errors(prop, value[name], f"{path}.{name}"))
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors.extend(cel_errors(schema["items"], item, f"{path}[{i}]"))
    return errors
