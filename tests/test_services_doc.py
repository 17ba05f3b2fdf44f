"""docs/services.md stays in step with the supervise library: every option
and default it checks, every state it enters, every line it logs, and Lua
examples that compile. Behaviour itself is tested by the test_supervise_*
files; this file keeps the reference from drifting away from the code."""

import glob
import os
import re

import pytest

from helpers import REPO, run

LIB = os.path.join(REPO, "luasup", "lua")
DOC = os.path.join(REPO, "docs", "services.md")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def library_sources():
    return [read(os.path.join(LIB, "supervise.lua"))] + [
        read(p) for p in sorted(glob.glob(os.path.join(LIB, "supervise", "*.lua")))]


def section(text, title):
    start = text.index("\n## %s\n" % title)
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def lua_table(source, anchor):
    """The text of the `{ ... }` that follows `anchor`, nested tables included."""
    at = source.index(anchor)
    start = source.index("{", at)
    depth = 0
    for i in range(start, len(source)):
        depth += {"{": 1, "}": -1}.get(source[i], 0)
        if depth == 0:
            return source[start + 1:i]
    raise AssertionError("unbalanced table after %r" % anchor)


def test_every_option_is_in_the_options_table_with_its_default():
    doc = section(read(DOC), "Options")
    spec = read(os.path.join(LIB, "supervise", "spec.lua"))
    own = re.findall(r"(\w+)\s*=\s*'[a-z|]+'", lua_table(spec, "local OWN ="))
    assert len(own) >= 10
    rows = dict(re.findall(r"^\| `(\w+)` \|(.*)$", doc, re.M))  # option -> the rest of its row
    assert sorted(set(own) - set(rows)) == [], "options missing from the table"
    assert sorted(set(rows) - set(own)) == [], "the table documents options the library lacks"
    # each default of a table option, as `field = value` in its row
    defaults = lua_table(spec, "M.DEFAULTS =")
    for option, fields in re.findall(r"(\w+) = \{([^}]*)\}", defaults):
        for field, value in re.findall(r"(\w+) = ([\d.]+)", fields):
            assert re.search(r"\b%s = %s\b" % (field, re.escape(value)), rows[option]), \
                "%s.%s = %s is not in the row of %s" % (option, field, value, option)
    hook_timeout = re.search(r"hook_timeout = (\d+)", defaults).group(1)
    assert rows["hook_timeout"].startswith(" `%s` |" % hook_timeout)


def test_every_state_is_documented_and_in_the_stub():
    states = set()
    for source in library_sources():
        states |= set(re.findall(r"hub\.set\(svc, '(\w+)'", source))
        for pair in re.findall(r"hub\.set\(svc, [^,]*?'(\w+)' or '(\w+)'", source):
            states |= set(pair)
        states |= set(re.findall(r"state = '(\w+)'", source))  # where a service starts out
    assert {"waiting", "starting", "running", "backoff", "failed", "stopped"} <= states
    table = section(read(DOC), "States").split("\n### ")[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", table, re.M))
    assert documented == states, (sorted(states - documented), sorted(documented - states))
    stub = read(os.path.join(LIB, "meta", "supervise.lua"))
    alias = re.search(r"^---@alias supervise\.State\n((?:---\|.*\n)+)", stub, re.M).group(1)
    assert set(re.findall(r"'(\w+)'", alias)) == states


def test_every_logged_message_is_in_the_messages_sections():
    formats = []
    for source in library_sources():
        formats += re.findall(r"init\.log\('\w+', '([^']*)'", source)
    assert len(formats) >= 10, formats
    doc = section(read(DOC), "Messages")
    readme = section(read(os.path.join(REPO, "README.md")), "Messages")
    missing = []
    for fmt in formats:
        for piece in re.split(r"%[-0-9.]*[sdg]", fmt):
            piece = piece.strip(" :;(),")
            if len(piece) > 1 and (piece not in doc or piece not in readme):
                missing.append("%r (%r)" % (fmt, piece))
    assert not missing, "not in docs/services.md and README.md's Messages:\n" + "\n".join(missing)


@pytest.mark.parametrize("path", [DOC, os.path.join(REPO, "README.md")],
                         ids=["services.md", "README.md"])
def test_lua_examples_compile(path, tmp_path):
    blocks = re.findall(r"```lua\n(.*?)```", read(path), re.S)
    assert blocks
    for i, block in enumerate(blocks):
        if "supervise" not in block and "sup." not in block:
            continue
        script = tmp_path / ("block%d.lua" % i)
        script.write_text(block)
        result = run(["--check", str(script)])
        assert (result.returncode, result.stderr) == (0, ""), block
