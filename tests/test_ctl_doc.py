"""docs/ctl.md stays in step with the control socket and `luasup ctl`: every
command and its options, every method, which of them read-only access
allows, every error code, exit code, limit and `sup.control` option, every
line luasup logs about the socket, the errors `sup.control` raises, and Lua
examples that compile. Behaviour itself is tested by the test_ctl_* files;
this file keeps the reference from drifting away from the code."""

import ast
import json
import os
import re
import shlex

from helpers import REPO, run, start, stop, wait_until
from test_logs_doc import check_errors_table, lua_blocks, option_rows, read, section, spec_keys, subsection
from test_messages_documented import logged_formats, undocumented

DOC = os.path.join(REPO, "docs", "ctl.md")
CTL = os.path.join(REPO, "luasup", "ctl")
CONTROL_LUA = os.path.join(REPO, "luasup", "lua", "supervise", "control.lua")


def constants(path):
    """{NAME: value} of the module-level constants of a Python file (such as
    `MAX_OUTPUT = 4 << 20`, or a set of names), read without importing it."""
    out = {}
    for node in ast.parse(read(path)).body:
        if not isinstance(node, ast.Assign):
            continue
        try:  # constants and names of the module: nothing else it defines
            value = eval(compile(ast.Expression(node.value), path, "eval"), {"__builtins__": {}}, dict(out))
        except Exception:
            continue
        for target in node.targets:
            if isinstance(target, ast.Name):
                out[target.id] = value
            elif isinstance(target, ast.Tuple):  # EXIT_OK, EXIT_FAILED, ... = 0, 1, ...
                out.update((t.id, v) for t, v in zip(target.elts, value))
    return out


def lua_constant(source, name):
    return re.search(r"^local %s = ([\d.]+)" % name, source, re.M).group(1)


def commands():
    """{command: [its options]} from `luasup ctl --help` and each command's --help."""
    result = run(["ctl", "--help"])
    assert result.returncode == 0, result.stderr
    listing = result.stdout.split("COMMAND\n", 1)[1].split("\n\n")[0]
    names = re.findall(r"^ {4}(\w+)\s", listing, re.M)
    assert len(names) >= 15, result.stdout
    out = {}
    for name in names:
        usage = run(["ctl", name, "--help"])
        assert usage.returncode == 0, usage.stderr
        out[name] = sorted(set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", usage.stdout)) - {"-h", "--help"})
    return out


def test_every_command_and_its_options_are_documented():
    doc = section(read(DOC), "Commands")
    for name, options in commands().items():
        part = subsection(doc, "`luasup ctl %s" % name)
        missing = [o for o in options if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(o), part)]
        assert not missing, "%s: options not documented: %s" % (name, missing)
        assert re.search(r"```console\n\$ luasup ctl .*%s" % name, part), \
            "%s: no example of its output" % name


def test_global_options_and_exit_codes():
    doc = section(read(DOC), "The command line")
    usage = run(["ctl", "--help"]).stdout
    options = set(re.findall(r"^  (--\w+)", usage, re.M)) - {"--help"}
    assert options == set(re.findall(r"^\| `(--\w+)", doc, re.M)), options
    codes = {v for k, v in constants(os.path.join(CTL, "command.py")).items() if k.startswith("EXIT_")}
    assert codes == {0, 1, 2, 3}
    assert codes == {int(c) for c in re.findall(r"^\| (\d) \|", doc, re.M)}


def method_headings(doc):
    return {name for heading in re.findall(r"^### (.*)$", doc, re.M)
            for name in re.findall(r"`(\w+)`", heading)}


def test_every_method_is_documented():
    control = constants(os.path.join(CTL, "control.py"))
    documented = method_headings(section(read(DOC), "Methods"))
    assert documented == control["METHODS"], (sorted(control["METHODS"] - documented),
                                              sorted(documented - control["METHODS"]))


def test_read_access_allows_the_documented_methods():
    control = constants(os.path.join(CTL, "control.py"))
    doc = section(read(DOC), "Who may do what")
    read_only = re.search(r"\*\*read\*\* allows the methods that change nothing: ([^(]*)\(", doc).group(1)
    assert set(re.findall(r"`(\w+)`", read_only)) == control["READ"]
    full = re.search(r"\*\*full\*\* allows every method as well: ([^.]*)\.", doc).group(1)
    assert set(re.findall(r"`(\w+)`", full)) == control["METHODS"] - control["READ"]


def test_every_error_code_is_documented():
    codes = {v for v in constants(os.path.join(CTL, "protocol.py")).values()
             if isinstance(v, int) and v < 0}
    assert len(codes) >= 11
    table = section(read(DOC), "The protocol").split("### Error codes", 1)[1]
    assert codes == {int(c) for c in re.findall(r"^\| (-\d+) \|", table, re.M)}


def test_the_limits_are_the_code_s():
    server = constants(os.path.join(CTL, "server.py"))
    control = constants(os.path.join(CTL, "control.py"))
    lua = read(CONTROL_LUA)
    table = subsection(read(DOC), "Limits")
    rows = {name: rest for name, rest in re.findall(r"^\| ([^|]+) \|(.*)$", table, re.M)}

    def value(row):
        return rows[row].split("|")[0].strip()

    protocol = constants(os.path.join(CTL, "protocol.py"))
    assert value("a request line").startswith("%d bytes" % protocol["MAX_REQUEST"])
    assert value("connections at once") == str(server["MAX_CONNECTIONS"])
    assert value("connections of uids other than root and luasup's own") == str(server["MAX_OTHERS"])
    assert value("output not yet read by a client").startswith("%d bytes" % server["MAX_OUTPUT"])
    assert value("requests read ahead of their answers") == str(server["MAX_PENDING"])
    assert value("idle time") == "%g s" % server["IDLE"]
    assert value("lines in one `logs` answer") == str(control["MAX_LINES"])
    assert value("names in one request") == str(control["MAX_NAMES"])
    assert value("an integer in params").startswith("±%d " % control["_EXACT"])
    assert value("bytes of lines in one `logs` answer").startswith("%d bytes" % control["MAX_ANSWER"])
    follower = value("notifications not yet read by a follower")
    assert follower.startswith("%d bytes" % server["WRITE_HIGH"])
    assert "down to %d bytes" % server["WRITE_LOW"] in rows["notifications not yet read by a follower"]
    assert value("an `eval`, and once eval is used any Lua step without yielding") == "%s s" % lua_constant(lua, "EVAL_LIMIT")
    assert value("a `start`/`restart` wait").startswith("%s s" % lua_constant(lua, "WAIT_DEFAULT"))


def test_every_control_option_is_documented():
    doc = section(read(DOC), "Serving the socket")
    assert set(option_rows(doc)) == spec_keys(read(CONTROL_LUA), "local SPEC =")


def test_the_socket_path_rule_is_the_code_s():
    paths = constants(os.path.join(CTL, "paths.py"))
    doc = section(read(DOC), "Where the socket is")
    assert "`%s`" % paths["ENV"] in doc and "`%s`" % paths["ROOT_PATH"] in doc
    source = read(os.path.join(CTL, "paths.py"))
    assert "XDG_RUNTIME_DIR" in source and "`$XDG_RUNTIME_DIR/luasup/ctl.sock`" in doc
    assert '"/tmp/luasup-%d/ctl.sock"' in source and "`/tmp/luasup-UID/ctl.sock`" in doc


def test_every_ctl_message_is_in_the_messages_section():
    formats = [fmt for path, fmt in logged_formats() if path.startswith("ctl" + os.sep)]
    assert len(formats) >= 3, formats
    missing = undocumented(formats, section(read(DOC), "Messages"))
    assert not missing, "not in docs/ctl.md's Messages:\n" + "\n".join(missing)


def test_lua_examples_compile(tmp_path):
    blocks = [b for b in lua_blocks(DOC) if "sup." in b]
    assert len(blocks) >= 2
    for i, block in enumerate(blocks):
        script = tmp_path / ("block%d.lua" % i)
        script.write_text("local sup = require('supervise')\n" + block)
        result = run(["--check", str(script)])
        assert (result.returncode, result.stderr) == (0, ""), block


def test_the_documented_errors_are_the_ones_raised():
    check_errors_table(read(DOC), "local sup = require('supervise'); local logs = require('logs')", 6)


def console_examples():
    """[(argv after `luasup ctl`, its output lines)] of the doc's console blocks."""
    out = []
    for block in re.findall(r"```console\n(.*?)```", read(DOC), re.S):
        for command in re.split(r"^\$ ", block, flags=re.M)[1:]:
            line, _, output = command.partition("\n")
            argv = shlex.split(line)
            if argv[:2] == ["luasup", "ctl"]:
                out.append((argv[2:], output.splitlines()))
    return out


def example(argv):
    """The output the doc shows for `luasup ctl ARGV` (its first example)."""
    return next(lines for args, lines in console_examples() if args == argv)


def test_the_examples_are_what_luasup_ctl_prints():
    # lua/control.lua, the policy the doc's examples ran: those that do not
    # depend on pids and times must come out the same
    proc = start([os.path.join(REPO, "lua", "control.lua")])
    try:
        wait_until(lambda: run(["ctl", "ready"]).returncode == 0, what="luasup ctl ready")
        for argv in (["tree"], ["health"], ["ready"], ["eval", "#sup.list()"],
                     ["eval", 'sup.status("db").why'], ["eval", 'return 1, "two", {a = 1}']):
            result = run(["ctl"] + argv)
            assert result.stdout.splitlines() == example(argv), (argv, result.stderr)
        listed = run(["ctl", "list"]).stdout.splitlines()
        assert listed[0].split() == example(["list"])[0].split()  # widths follow the pids
        assert [l.split()[:2] for l in listed[1:]] == [["db", "running"], ["web", "running"],
                                                      ["worker", "running"]]
        labels = [line[:10] for line in run(["ctl", "status", "web"]).stdout.splitlines()]
        assert labels == [line[:10] for line in example(["status", "web"])]
        # the fields of a status, and of its last exit, are the documented ones
        assert run(["ctl", "kill", "worker", "KILL"]).returncode == 0
        wait_until(lambda: "last_exit" in json.loads(run(["ctl", "--json", "status", "worker"]).stdout),
                   what="the worker's last exit")
        status = json.loads(run(["ctl", "--json", "status", "worker"]).stdout)
        fields = status_fields()
        assert set(status) <= fields and {"name", "state", "for", "last_exit"} <= set(status)
        last_exit = re.search(r"then `\{([^}]*)\}`", subsection(read(DOC), "`list`")).group(1)
        assert set(status["last_exit"]) == {f.strip() for f in last_exit.split(",")}
    finally:
        stop(proc)


def status_fields():
    """The fields of the status table under the `list` method."""
    table = subsection(section(read(DOC), "Methods"), "`list`")
    return {name for cell in re.findall(r"^\| (`[^|]*) \|", table, re.M)
            for name in re.findall(r"`(\w+)`", cell)}
