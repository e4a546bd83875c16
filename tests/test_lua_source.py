"""swell.store.lua_source: each script carries only the lib.lua helpers and keys it uses."""

from __future__ import annotations

import importlib.resources
import re

import pytest

from swell.store.lua_source import script_source
from swell.store.redis import SCRIPT_NAMES


def defined(source: str) -> set[str]:
    return set(re.findall(r"^local function (\w+)", source, re.MULTILINE))


def test_a_script_gets_the_helpers_it_calls_and_theirs_only() -> None:
    enqueue = script_source("enqueue")
    assert {"bucket", "load", "fetch", "decode", "wake"} <= defined(enqueue)  # load -> fetch -> decode
    assert not {"trim", "bury", "promote", "requeue", "finished_before"} & defined(enqueue)
    both = defined(script_source("settle_claim"))
    assert {"settle_batch", "claim_jobs", "trim", "bury", "promote", "completed_state"} <= both


def test_the_key_table_names_only_the_keys_a_script_uses() -> None:
    keys = re.search(r"^local K = \{(.*)\}$", script_source("extend"), re.MULTILINE)
    assert keys is not None
    names = set(re.findall(r"(\w+) = B \.\. ", keys.group(1)))
    assert names and names <= {"p", "s", "r", "j", "c", "x", "d", "m", "t", "u", "k", "b", "l", "a", "f"}
    assert "t" not in names  # extend never touches the throughput hash


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_every_helper_a_script_calls_is_defined_before_use(name: str) -> None:
    source = script_source(name)
    lib_helpers = defined((importlib.resources.files("swell.store") / "lua" / "lib.lua").read_text())
    called = set(re.findall(r"\b(\w+)\(", source)) & lib_helpers
    assert called <= defined(source), f"{name} calls {called - defined(source)} without defining them"
