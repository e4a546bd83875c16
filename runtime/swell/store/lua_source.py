"""The source Redis runs for each swell script: lib.lua's helpers, the function files a script
names on its ``-- uses:`` line, then the script itself, keeping only what the script needs.

Redis runs a script's whole text on every EVALSHA, and in Lua 5.1 each top-level ``local
function`` makes a closure then; with lib.lua's ~20 helpers that was about half the time of a
single enqueue inside Redis (measured: ~20 µs of a ~40 µs call). So each script gets only the
top-level definitions it refers to (directly or through other helpers), and a key table ``K``
with only the key names it uses. A helper left out by mistake cannot pass silently: Redis 7
refuses reads of undefined globals, and every script runs in the tests.
"""

from __future__ import annotations

import functools
import importlib.resources
import re

_DEFINES = re.compile(r"^local\s+(?:function\s+)?([A-Za-z_][\w, ]*?)\s*(?:=|\()", re.MULTILINE)
_NAME = re.compile(r"[A-Za-z_]\w*")
_KEY_USE = re.compile(r"\bK\.(\w+)")
_KEY_TABLE = re.compile(r"^local K = \{.*?\}\n", re.MULTILINE | re.DOTALL)
_KEY_FIELD = re.compile(r"(\w+) = B \.\. '([^']*)'")


def _read(name: str) -> str:
    return (importlib.resources.files("swell.store") / "lua" / f"{name}.lua").read_text()


def _chunks(lib: str) -> list[tuple[frozenset[str], str]]:
    """lib.lua cut at its top-level ``local`` statements (each with the comments above it):
    (names it defines, text)."""
    lines = lib.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.startswith("local ")]
    out: list[tuple[frozenset[str], str]] = []
    for k, start in enumerate(starts):
        begin = start
        while begin > 0 and lines[begin - 1].startswith("--") and (k == 0 or begin - 1 > starts[k - 1]):
            begin -= 1
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        while end > start + 1 and lines[end - 1].startswith("--"):
            end -= 1  # the comments above the next definition belong to it
        match = _DEFINES.match(lines[start])
        names = frozenset(n.strip() for n in match.group(1).split(",")) if match else frozenset()
        out.append((names, "".join(lines[begin:end])))
    return out


@functools.cache
def script_source(name: str) -> str:
    """The text to load for script ``name`` (cached)."""
    script = _read(name)
    uses = next((line.split(":", 1)[1].split() for line in script.splitlines()
                 if line.startswith("-- uses:")), [])
    body = "\n".join([*(_read(u) for u in uses), script])
    chunks = _chunks(_read("lib"))
    needed: set[str] = set()
    frontier = set(_NAME.findall(body))
    while frontier:  # the definitions the body refers to, and theirs, transitively
        found = [(names, text) for names, text in chunks if names & frontier and not names <= needed]
        frontier = set()
        for names, text in found:
            needed |= names
            frontier |= set(_NAME.findall(text)) - needed
    kept = [text for names, text in chunks if names & needed]
    used_keys = set(_KEY_USE.findall(body + "".join(kept)))
    lib = "".join(kept)
    table = _KEY_TABLE.search(lib)
    if table is not None:
        fields = [f"{k} = B .. '{suffix}'" for k, suffix in _KEY_FIELD.findall(table.group(0))
                  if k in used_keys]
        lib = lib.replace(table.group(0), "local K = {" + ", ".join(fields) + "}\n")
    return lib + "\n" + body
