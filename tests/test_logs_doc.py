"""docs/logs.md stays in step with the log bus: every option of every sink
and route with its default, the queue defaults of each kind, every line the
bus logs, the errors it raises, and Lua examples that compile. Behaviour
itself is tested by the test_logs_* files; this file keeps the reference
from drifting away from the code."""

import ast
import os
import re

import pytest

from helpers import REPO, run
from test_messages_documented import logged_formats, undocumented

LUA = os.path.join(REPO, "luasup", "lua")
DOC = os.path.join(REPO, "docs", "logs.md")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def section(text, title):
    start = text.index("\n## %s" % title)
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def subsection(text, title):
    start = text.index("\n### %s" % title)
    end = re.compile(r"\n##?#? ").search(text, start + 1)
    return text[start:end.start() if end else len(text)]


def option_rows(text):
    """{option: the rest of its row} of the `| `option` | ...` tables in text,
    with markdown's escaped pipes undone."""
    return {name: rest.replace("\\|", "|")
            for name, rest in re.findall(r"^\| `(\w+)` \|(.*)$", text, re.M)}


def spec_keys(source, anchor):
    """The keys of the `{ key = 'type', ... }` spec after anchor in logs.lua."""
    at = source.index(anchor)
    body = source[source.index("{", at) + 1:source.index("}", at)]
    return set(re.findall(r"(\w+)\s*=\s*'[a-z|]+'", body))


def lua_function(source, name):
    start = source.index("function M.%s(" % name)
    return source[start:source.index("\nend\n", start)]


# (the function in logs.lua, its spec, the heading of its section in the doc)
SINKS = [("console", "local CONSOLE =", "`logs.console{...}`"),
         ("file", "local FILE =", "`logs.file{path = ..., ...}`"),
         ("ring", "local RING =", "`logs.ring{"),
         ("http", "local HTTP =", "`logs.http{"),
         ("process", "local PROCESS =", "`logs.process{")]


@pytest.mark.parametrize("fname, anchor, heading", SINKS, ids=[s[0] for s in SINKS])
def test_every_sink_option_is_documented_with_its_default(fname, anchor, heading):
    source = read(os.path.join(LUA, "logs.lua"))
    doc = section(read(DOC), "Sinks")
    own = spec_keys(source, anchor) - spec_keys(source, "local QUEUE =")
    part = subsection(doc, heading)
    table = "\n".join(l for l in part.splitlines() if l.startswith("| `"))
    if fname == "ring":  # in its heading: logs.ring{lines = 1000, bytes = 1048576}
        table = part.splitlines()[1]
    missing = sorted(k for k in own if "`%s`" % k not in table and "%s = " % k not in table)
    assert missing == [], "options missing from the table of " + fname
    # each `opts.X or DEFAULT` of the function, in X's row (the ring's in its heading)
    rows = option_rows(part)
    body = lua_function(source, fname)
    defaults = [(option, value) for option, value
                in re.findall(r"(?<![\w.])(?:opts\.)?(\w+) or ('[^']*'|[\d.]+)", body) if option in own]
    assert defaults, body
    for option, value in defaults:
        where = table if fname == "ring" else rows[option]
        assert value in where, "%s: default %s = %s not documented" % (fname, option, value)


def test_queue_options_and_their_defaults_by_kind():
    source = read(os.path.join(LUA, "logs.lua"))
    doc = subsection(section(read(DOC), "Sinks"), "Options every queued sink takes")
    assert set(option_rows(doc)) == spec_keys(source, "local QUEUE =")
    tree = ast.parse(read(os.path.join(REPO, "luasup", "logs", "api.py")))
    node = next(node for node in ast.walk(tree)
                if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "QUEUE")
    # the table of constants (1 << 20 ...), evaluated without importing luasup
    queue = eval(compile(ast.Expression(node.value), "api.py", "eval"), {})
    assert len(queue) >= 3
    table = dict(re.findall(r"^\| (\w+) \| (.*) \|$", doc, re.M))
    for kind, (max_bytes, batch_bytes, batch_time) in queue.items():
        assert kind in table, "no row for %s sinks in the defaults table" % kind
        cells = [c.strip() for c in table[kind].split("|")]
        assert cells[0].split()[0] == str(max_bytes), (kind, cells)
        assert cells[1] == str(batch_bytes), (kind, cells)
        assert float(cells[2]) == batch_time, (kind, cells)


def test_rotation_and_route_options_are_documented():
    source = read(os.path.join(LUA, "logs.lua"))
    doc = read(DOC)
    rotation = section(doc, "File rotation")
    for key in spec_keys(source, "local ROTATE ="):
        assert "`%s`" % key in rotation or "%s = " % key in rotation, key
    assert "`keep` (default 5)" in rotation and "rotate.keep or 5" in source
    routes = option_rows(section(doc, "Routes"))
    assert set(routes) == spec_keys(source, "local ROUTE =")


def test_every_bus_message_is_in_the_messages_section():
    # the bus's own (luasup/logs/) and the lines about it elsewhere ('logs: ...')
    formats = [fmt for path, fmt in logged_formats()
               if path.startswith("logs" + os.sep) or fmt.startswith("logs: ")]
    assert len(formats) >= 10, formats
    missing = undocumented(formats, section(read(DOC), "Messages"))
    assert not missing, "not in docs/logs.md's Messages:\n" + "\n".join(missing)


def lua_blocks(path):
    return re.findall(r"```lua\n(.*?)```", read(path), re.S)


@pytest.mark.parametrize("path", [DOC, os.path.join(REPO, "README.md")], ids=["logs.md", "README.md"])
def test_lua_examples_compile(path, tmp_path):
    blocks = [b for b in lua_blocks(path) if "logs" in b]
    assert blocks
    for i, block in enumerate(blocks):
        script = tmp_path / ("block%d.lua" % i)
        script.write_text(block)
        result = run(["--check", str(script)])
        assert (result.returncode, result.stderr) == (0, ""), block


# Each row of the Errors table: the call, as the doc shows it -> run as Lua
# with the sinks it names declared.
SETUP = ("local logs = require('logs'); local console = logs.console{}; "
         "local ring = logs.ring{}; local file = logs.file{path = os.tmpname()}")


def check_errors_table(doc, setup, least):
    """Each row of a doc's Errors table (`call` | `message`) run as Lua after
    `setup` raises that message (after the script's FILE:LINE)."""
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \|$", section(doc, "Errors"), re.M)
    assert len(rows) >= least, rows
    lines = [setup, "local function try(f) local ok, err = pcall(f); print(ok and 'no error' or err) end"]
    lines += ["try(function() %s end)" % call for call, _ in rows]
    result = run(["-e", "\n".join(lines)])
    assert result.returncode == 0, result.stderr
    raised = result.stdout.splitlines()
    assert len(raised) == len(rows), result.stdout
    for got, (call, message) in zip(raised, rows):
        assert got.endswith(": " + message), (call, got, message)


def test_the_documented_errors_are_the_ones_raised():
    check_errors_table(read(DOC), SETUP, 15)
