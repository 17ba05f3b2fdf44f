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


# Each mistake of the Errors table, as a call -> the message it documents.
MISTAKES = [
    ("sup.service('a b', {cmd = {'true'}})",
     "bad argument #1 to 'service' (service name without spaces expected, got 'a b')"),
    ("sup.service('a', {})", "bad argument #2 to 'service' (option 'cmd': a command expected, got nothing)"),
    ("sup.service('a', {cmd = {'true'}, bogus = 1})", "bad argument #2 to 'service' (unknown option 'bogus')"),
    ("sup.service('a', {cmd = {'true'}, ready = 'x'})",
     "bad argument #2 to 'service' (option 'ready': table or function or number expected, got string)"),
    ("sup.service('a', {cmd = {'true'}, backoff = {initial = -1}})",
     "bad argument #2 to 'service' (option 'backoff.initial': non-negative finite number expected, got -1)"),
    ("sup.service('a', {cmd = {'true'}, backoff = {jitter = 2}})",
     "bad argument #2 to 'service' (option 'backoff.jitter': a fraction from 0 to 1 expected, got 2)"),
    ("sup.service('a', {cmd = {'true'}, health = {probe = sup.tcp('h', 1), failures = 0}})",
     "bad argument #2 to 'service' (option 'health.failures': integer >= 1 expected, got 0)"),
    ("sup.service('a', {cmd = {'true'}, health = sup.notify()})",
     "bad argument #2 to 'service' (option 'health.probe': a notify probe only tells readiness)"),
    ("sup.service('a', {cmd = {'true'}, critical = 'yes'})",
     "bad argument #2 to 'service' (option 'critical': true, false or 'exit' expected, got 'yes')"),
    ("sup.service('a', {cmd = {'true'}, limit = true})",
     "bad argument #2 to 'service' (option 'limit': a table or false expected, got true)"),
    ("sup.service('a', {cmd = {'true'}, success = {256}})",
     "bad argument #2 to 'service' (option 'success': exit codes 0-255 expected, got 256)"),
    ("sup.service('a', {cmd = {'true'}, stop = {signal = 'NOPE'}})",
     "bad argument #2 to 'service' (option 'stop.signal': unknown signal 'NOPE')"),
    ("sup.service('a', {cmd = {'true'}, backoff = {factor = 0.5}})",
     "bad argument #2 to 'service' (option 'backoff.factor': number >= 1 expected, got 0.5)"),
    ("sup.service('a', {cmd = {'true'}, ready = {probe = sup.tcp('h', 1), every = 0}})",
     "bad argument #2 to 'service' (option 'ready.every': positive finite number expected, got 0)"),
    ("sup.service('a', {cmd = {'true'}, stdout = '/var/log/a.log', ready = sup.output('x')})",
     "bad argument #2 to 'service' (option 'ready': sup.output cannot watch stdout written to a file;"
     " watch the other stream or use a function)"),
    ("sup.service('a', {cmd = {'true'}, pre_start = {1}})",
     "bad argument #2 to 'service' (option 'pre_start': a function or a command table expected)"),
    ("sup.oneshot('m', {cmd = {'true'}, ready = 1})",
     "bad argument #2 to 'oneshot' (a oneshot is ready when it exits successfully: no 'ready' or 'health')"),
    ("sup.service('a', {cmd = {'sleep', '9'}}); sup.service('a', {cmd = {'true'}})",
     "bad argument #1 to 'service' (a service named 'a' is already declared)"),
    ("sup.output('[')", "bad argument #1 to 'output' (bad pattern: malformed pattern (missing ']'))"),
    ("sup.tcp('127.0.0.1', 'http')", "bad argument #2 to 'tcp' (port number 1-65535 expected, got 'http')"),
    ("sup.http('127.0.0.1:8080/ready')", "bad argument #1 to 'http' (invalid url '127.0.0.1:8080/ready':"
     " expected http://HOST[:PORT]/PATH or https://...)"),
    ("sup.on('exit', print)", "bad argument #1 to 'on' ('state' expected, got exit)"),
    ("sup.stop()", "bad argument #1 to 'stop' (string expected, got nil)"),
    ("sup.signal('web', 'NOPE')", "bad argument #2 to 'signal' (unknown signal 'NOPE')"),
]

# The mistakes that need sup.run() to be running: made from a task.
MISTAKES_WHILE_RUNNING = [
    ("sup.service('x', {cmd = {'true'}, after = 'nope'})", "bad argument #2 to 'service' (option 'after': no service 'nope')"),
    ("sup.run()", "run: the services are already running"),
]


def test_the_documented_errors_are_the_ones_raised():
    doc = section(read(DOC), "Errors")
    lines = ["local init = require('init')", "local sup = require('supervise')",
             "local function try(f) local ok, err = pcall(f); print(ok and 'no error' or err) end"]
    lines += ["try(function() %s end)" % call for call, _ in MISTAKES]
    lines += ["init.spawn(function()"]
    lines += ["    try(function() %s end)" % call for call, _ in MISTAKES_WHILE_RUNNING]
    lines += ["    sup.shutdown()", "end)", "return sup.run()"]
    result = run(["-e", "\n".join(lines)])
    assert result.returncode == 0, result.stderr
    raised = result.stdout.splitlines()
    expected = [message for _, message in MISTAKES + MISTAKES_WHILE_RUNNING]
    assert len(raised) == len(expected), result.stdout
    for got, message in zip(raised, expected):
        assert got.endswith(": " + message), (got, message)  # after the script's FILE:LINE
        assert "`%s`" % message in doc, "not in the Errors table: " + message
