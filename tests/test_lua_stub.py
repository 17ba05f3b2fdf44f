"""The lua-language-server stubs luasup/lua/meta/init.lua,
meta/supervise.lua and meta/logs.lua: they are valid Lua, declare every
function and method the running `init` module, `supervise` library and
`logs` module have (and nothing they lack), their option classes list the
options luasup checks, and they are installed with the package."""

import glob
import os
import platform
import re
import subprocess
import sys
import tomllib

import lupa.luajit21 as lupa
import pytest

from helpers import REPO, run

PACKAGE = os.path.join(REPO, "luasup")
STUB_IN_PACKAGE = os.path.join("lua", "meta", "init.lua")  # relative to the luasup package
STUB = os.path.join(PACKAGE, STUB_IN_PACKAGE)

# The stub's local table for each kind of object -> how the test reaches a
# live one of that kind in a running luasup.
OBJECTS = {
    "Child": "child",
    "Task": "init.spawn(function() end)",
    "Timer": "timer",
    "Listener": "listener",
    "Watcher": "watcher",
}

INTROSPECT = """
local init = require('init')
local function show(kind, t)
    local names = {}
    for key, value in pairs(t) do
        if type(key) == 'string' and key:sub(1, 2) ~= '__' then
            names[#names + 1] = key .. '=' .. type(value)
        end
    end
    table.sort(names)
    print(kind .. '\\t' .. table.concat(names, ' '))
end
local child = init.exec('true')
local timer = init.after(3600, function() end)
local listener = assert(init.listen('unix://@luasup-stub-test-' .. init.pid()))
local watcher = assert(init.watch(..., function() end))
show('init', init)
%s
timer:cancel()
listener:close()
watcher:cancel()
child:wait()
"""


def stub_text(path=STUB):
    with open(path, encoding="utf-8") as f:
        return f.read()


def live_api(tmp_path):
    """{'init': {name: lua type}, 'Child': {...}, ...} from a running luasup."""
    shows = "\n".join("show(%r, getmetatable(%s))" % (kind, expr) for kind, expr in OBJECTS.items())
    result = run(["-e", INTROSPECT % shows, str(tmp_path)])
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    api = {}
    for line in result.stdout.splitlines():
        kind, _, names = line.partition("\t")
        api[kind] = dict(item.split("=") for item in names.split())
    assert set(api) == {"init"} | set(OBJECTS), result.stdout
    return api


def stub_declarations(text):
    """{'init': {name: 'function' | 'value'}, 'Child': {...}, ...}: what the
    stub declares with `function T.name(`, `function T:name(` or `T.name =`,
    and which of them use `:` (methods) or `.` (functions)."""
    declared, separators = {}, {}
    for match in re.finditer(r"^function\s+(\w+)([.:])(\w+)\s*\(", text, re.M):
        table, sep, name = match.groups()
        declared.setdefault(table, {})[name] = "function"
        separators[(table, name)] = sep
    for match in re.finditer(r"^(\w+)\.(\w+)\s*=", text, re.M):
        table, name = match.groups()
        declared.setdefault(table, {})[name] = "value"
    return declared, separators


def class_fields(text, cls):
    """Named fields of `---@class cls` in the stub: {name: type}."""
    block = re.search(r"^---@class %s\n((?:---.*\n)*)" % re.escape(cls), text, re.M)
    assert block, "the stub has no ---@class %s" % cls
    return dict(re.findall(r"^---@field (\w+)\??\s+(\S+)", block.group(1), re.M))


def spec_keys(source, anchor):
    """Keys of the `{ key = 'type', ... }` table that follows `anchor` in a
    Lua source of luasup (an option spec its argument checks use)."""
    at = source.find(anchor)
    assert at >= 0, "%r not found: the option spec moved; update this test" % anchor
    body = source[source.index("{", at) + 1:source.index("}", at)]
    keys = re.findall(r"(\w+)\s*=\s*'[a-z|]+'", body)
    assert keys, "no option spec after %r" % anchor
    return set(keys)


def read_source(*parts):
    with open(os.path.join(PACKAGE, "lua", *parts), encoding="utf-8") as f:
        return f.read()


# -- (a) valid Lua ---------------------------------------------------------

def test_stub_is_a_meta_file_that_compiles_and_runs_as_lua():
    text = stub_text()
    assert text.startswith("---@meta init\n")
    lua = lupa.LuaRuntime()
    module = lua.execute(text)  # function stubs that return nothing: harmless to run
    assert lua.eval("type")(module) == "table"
    assert lua.eval("type")(module.exec) == "function"
    result = run(["--check", STUB])
    assert (result.returncode, result.stderr) == (0, "")


# -- (b) in step with the running API -----------------------------------------

def test_stub_declares_exactly_the_functions_and_methods_luasup_has(tmp_path):
    api = live_api(tmp_path)
    declared, separators = stub_declarations(stub_text())
    for kind, live in api.items():
        stub = declared.get(kind, {})
        missing = sorted(set(live) - set(stub))
        extra = sorted(set(stub) - set(live))
        assert not missing, "%s has %s, which the stub does not declare" % (kind, missing)
        assert not extra, "the stub declares %s on %s, which luasup lacks" % (extra, kind)
        for name, lua_type in live.items():
            assert stub[name] == ("function" if lua_type == "function" else "value"), (kind, name)
            if lua_type == "function":
                want = "." if kind == "init" else ":"
                assert separators[(kind, name)] == want, (
                    "declare %s%s%s (how scripts call it)" % (kind, want, name))


def undescribed(text):
    """The `function ...` lines of a stub without a description above them
    (annotations alone do not count)."""
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.startswith("function "):
            j = i - 1
            while j >= 0 and lines[j].startswith("---@"):
                j -= 1
            if j < 0 or not lines[j].startswith("---"):
                out.append(line)
    return out


def test_every_declared_function_has_a_description_and_a_class():
    text = stub_text()
    assert undescribed(text) == []
    for kind in OBJECTS:
        assert re.search(r"^---@class luasup\.%s\nlocal %s = \{\}$" % (kind, kind), text, re.M), \
            "local %s must be declared as ---@class luasup.%s" % (kind, kind)


def test_option_classes_list_the_options_luasup_checks():
    text = stub_text()
    process = read_source("luasup", "process.lua")
    probes = read_source("luasup", "probes.lua")
    expected = {
        "luasup.ExecOptions": spec_keys(process, "local OPTIONS ="),
        "luasup.HttpOptions": spec_keys(probes, "local HTTP_OPTIONS ="),
        "luasup.WatchOptions": spec_keys(probes, "options(3, 'watch', opts,"),
        "luasup.ListenOptions": spec_keys(probes, "options(2, 'listen', opts,"),
    }
    for cls, keys in expected.items():
        fields = set(class_fields(text, cls))
        assert fields == keys, "%s: the stub lacks %s and has %s, which luasup does not check" % (
            cls, sorted(keys - fields), sorted(fields - keys))


def test_declared_signal_names_exist():
    fields = class_fields(stub_text(), "luasup.Signals")
    numbers = dict(re.findall(r"^---@field (SIG\w+) integer (\d+)$", stub_text(), re.M))
    result = run(["-e", "for name, num in pairs(require('init').signal) do print(name, num) end"])
    assert result.returncode == 0, result.stderr
    live = dict(line.split("\t") for line in result.stdout.splitlines())
    assert set(fields) <= set(live), sorted(set(fields) - set(live))
    if platform.machine() in ("x86_64", "aarch64"):  # the numbers the stub shows
        assert {name: live[name] for name in numbers} == numbers


# -- (c) installed with the package ------------------------------------------

def test_the_installed_package_contains_the_stub():
    # the Lua directory of the luasup that runs is the first entry of package.path
    result = run(["-e", "print((package.path:match('^([^;]+)/%?%.lua;')))"])
    assert result.returncode == 0, result.stderr
    lua_dir = result.stdout.strip()
    package = os.path.dirname(lua_dir)
    assert os.path.isfile(os.path.join(package, "__init__.py")), package
    assert os.path.isfile(os.path.join(package, STUB_IN_PACKAGE))


def test_package_data_ships_the_stub():
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        patterns = tomllib.load(f)["tool"]["setuptools"]["package-data"]["luasup"]
    shipped = {os.path.relpath(path, PACKAGE)
               for pattern in patterns for path in glob.glob(os.path.join(PACKAGE, pattern))}
    assert STUB_IN_PACKAGE in shipped
    assert os.path.join("lua", "meta", "supervise.lua") in shipped
    assert os.path.join("lua", "meta", "logs.lua") in shipped


def test_documented_path_command_prints_the_stub_directory(tmp_path):
    # the command docs/lua-api.md gives for .luarc.json, run away from the repo
    code = ("import luasup, os; "
            "print(os.path.join(os.path.dirname(luasup.__file__), 'lua', 'meta'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert os.path.isfile(os.path.join(out, "init.lua"))
    with open(os.path.join(REPO, "docs", "lua-api.md"), encoding="utf-8") as f:
        assert code.replace("'", '"') in f.read().replace("'", '"')


# -- the supervise library's stub, luasup/lua/meta/supervise.lua --------------

SUPERVISE_STUB = os.path.join(PACKAGE, "lua", "meta", "supervise.lua")

SUPERVISE_INTROSPECT = """
local sup = require('supervise')
local function keys(kind, t)
    local names = {}
    for key in pairs(t) do names[#names + 1] = key end
    table.sort(names)
    print(kind .. '\\t' .. table.concat(names, ' '))
end
for name, value in pairs(sup) do print('sup', name, type(value)) end
for name, fields in pairs(require('supervise.spec').DEFAULTS) do
    if type(fields) == 'table' then keys(name, fields) end
end
sup.service('s', {cmd = {'true'}, restart = 'never',
    pre_start = function(info) keys('start_info', info) end,
    post_exit = function(info) keys('exit_info', info) end})
local first = true
sup.on('state', function(event)
    if first and event.pid then -- an event with every field (pid is nil around a run)
        keys('event', event)
        first = false
    end
end)
return sup.run()
"""


def supervise_stub_text():
    return stub_text(SUPERVISE_STUB)


def live_supervise():
    """({name: lua type} of require('supervise'), {'backoff': {field}, ...,
    'event': {field}}) from a running luasup."""
    result = run(["-e", SUPERVISE_INTROSPECT])
    assert result.returncode == 0, result.stderr
    module, tables = {}, {}
    for line in result.stdout.splitlines():
        if line.startswith("sup\t"):
            _, name, lua_type = line.split("\t")
            module[name] = lua_type
        else:
            kind, _, names = line.partition("\t")
            tables.setdefault(kind, set(names.split()))
    assert module and {"event", "start_info", "exit_info"} <= set(tables), result.stdout
    return module, tables


def test_supervise_stub_is_a_meta_file_that_compiles_and_runs_as_lua():
    text = supervise_stub_text()
    assert text.startswith("---@meta supervise\n")
    lua = lupa.LuaRuntime()
    module = lua.execute(text)
    assert lua.eval("type")(module.service) == "function"
    result = run(["--check", SUPERVISE_STUB])
    assert (result.returncode, result.stderr) == (0, "")


def test_supervise_stub_declares_exactly_the_library_functions():
    module, _ = live_supervise()
    declared, separators = stub_declarations(supervise_stub_text())
    stub = declared.get("sup", {})
    assert set(declared) == {"sup"}, sorted(declared)
    assert sorted(set(module) - set(stub)) == [], "the library has these; declare them in the stub"
    assert sorted(set(stub) - set(module)) == [], "the stub declares these; the library lacks them"
    for name, lua_type in module.items():
        if name == "reloading":  # the one field that is not a function
            assert (lua_type, stub[name]) == ("boolean", "value")
            continue
        assert lua_type == "function" and stub[name] == "function", name
        assert separators[("sup", name)] == ".", name


def test_supervise_stub_functions_have_descriptions():
    assert undescribed(supervise_stub_text()) == []


def test_supervise_spec_class_lists_the_options_the_library_checks():
    text = supervise_stub_text()
    # the exec options come with the parent class, checked above as luasup.ExecOptions
    assert re.search(r"^---@class supervise\.Spec: luasup\.ExecOptions$", text, re.M)
    own = spec_keys(read_source("supervise", "spec.lua"), "local OWN =")
    fields = set(class_fields(text, r"supervise.Spec: luasup.ExecOptions"))
    assert fields == own, (sorted(own - fields), sorted(fields - own))


def test_supervise_control_options_class_lists_the_options_control_checks():
    fields = set(class_fields(supervise_stub_text(), "supervise.ControlOptions"))
    keys = spec_keys(read_source("supervise", "control.lua"), "local SPEC =")
    assert fields == keys, (sorted(keys - fields), sorted(fields - keys))


def test_supervise_option_tables_events_and_hook_tables_match_the_library():
    text = supervise_stub_text()
    _, live = live_supervise()
    classes = {"backoff": "supervise.Backoff", "limit": "supervise.Limit",
               "ready": "supervise.Ready", "health": "supervise.Health", "event": "supervise.Event",
               "start_info": "supervise.StartInfo", "exit_info": "supervise.ExitInfo"}
    for kind, cls in classes.items():
        expected = live[kind] | ({"probe"} if kind in ("ready", "health") else set())
        fields = set(class_fields(text, cls))
        assert fields == expected, (cls, sorted(expected - fields), sorted(fields - expected))


def test_supervise_status_class_lists_the_status_fields():
    # the status table is built in one constructor; its keys (those of the
    # nested last_exit included) are the Status and LastExit fields
    source = read_source("supervise.lua")
    start = source.index("local function status(svc)")
    body = source[start:source.index("\nend\n", start)]
    keys = set(re.findall(r"(\w+) = ", body)) - {"last"}
    text = supervise_stub_text()
    fields = set(class_fields(text, "supervise.Status")) | set(class_fields(text, "supervise.LastExit"))
    assert fields == keys, (sorted(keys - fields), sorted(fields - keys))


# -- the log bus's stub, luasup/lua/meta/logs.lua ------------------------------

LOGS_STUB = os.path.join(PACKAGE, "lua", "meta", "logs.lua")

LOGS_INTROSPECT = """
local init = require('init')
local logs = require('logs')
local function keys(kind, t)
    local names = {}
    for key in pairs(t) do names[#names + 1] = key end
    table.sort(names)
    print(kind .. '\\t' .. table.concat(names, ' '))
end
for name, value in pairs(logs) do print('logs', name, type(value)) end
local dir = ...
local file = logs.file{path = dir .. '/a.log', rotate = {size = 1000}}
local ring = logs.ring{}
local seen = {}
local fn = logs.fn(function(rec) seen[#seen + 1] = rec end)
logs.route{to = {file, ring, fn}}
for name, value in pairs(getmetatable(ring)) do
    if name:sub(1, 2) ~= '__' then print('Sink', name, type(value)) end
end
-- the other objects the module returns, each with a metatable of its own
local objects = {Watch = logs.watch('echo', 'hi'), StdinFan = logs.stdin('nobody')}
for kind, object in pairs(objects) do
    for name, value in pairs(getmetatable(object)) do
        if name:sub(1, 2) ~= '__' then print(kind, name, type(value)) end
    end
end
keys('stats stdin', objects.StdinFan:stats())
init.exec{'echo', 'hi', stdout = 'log'}:wait()
fn:flush()
while #seen == 0 do init.sleep(0.01) end
keys('record', seen[1])
keys('tail', ring:tail()[1])
local sinks = {console = logs.console{}, file = file, ring = ring, fn = fn,
    process = logs.process{'cat'}, http = logs.http{url = 'http://127.0.0.1:9/'}}
for kind, sink in pairs(sinks) do
    keys('stats ' .. kind, sink:stats())
end
"""


def logs_stub_text():
    return stub_text(LOGS_STUB)


def live_logs(tmp_path):
    """({name: lua type} of require('logs'), {'Sink': {method: lua type},
    'Watch': {...}, 'StdinFan': {...}}, {'record': {field}, 'tail': ...,
    'stats KIND': ...}) from a running luasup."""
    result = run(["-e", LOGS_INTROSPECT, str(tmp_path)], stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    module, methods, tables = {}, {}, {}
    for line in result.stdout.splitlines():
        if line.startswith(("logs\t", "Sink\t", "Watch\t", "StdinFan\t")):
            kind, name, lua_type = line.split("\t")
            if kind == "logs":
                module[name] = lua_type
            else:
                methods.setdefault(kind, {})[name] = lua_type
        else:
            kind, _, names = line.partition("\t")
            tables[kind] = set(names.split())
    assert module and methods and {"record", "tail", "stats file"} <= set(tables), result.stdout
    return module, methods, tables


def test_logs_stub_is_a_meta_file_that_compiles_and_runs_as_lua():
    text = logs_stub_text()
    assert text.startswith("---@meta logs\n")
    lua = lupa.LuaRuntime()
    module = lua.execute(text)
    assert lua.eval("type")(module.route) == "function"
    result = run(["--check", LOGS_STUB])
    assert (result.returncode, result.stderr) == (0, "")


def test_logs_stub_declares_exactly_the_functions_and_sink_methods(tmp_path):
    module, methods, _ = live_logs(tmp_path)
    declared, separators = stub_declarations(logs_stub_text())
    stub = declared.pop("logs", {})
    assert sorted(set(module) - set(stub)) == [], "the module has these; declare them in the stub"
    assert sorted(set(stub) - set(module)) == [], "the stub declares these; the module lacks them"
    for name in module:
        assert module[name] == "function" and separators[("logs", name)] == ".", name
    # every sink shares one metatable; the stub spreads its methods over
    # Sink, FileSink and RingSink, one ---@class logs.X each
    stub_methods = {}
    for table, names in declared.items():
        assert re.search(r"^---@class logs\.%s(: logs\.Sink)?\nlocal %s = \{\}$" % (table, table),
                         logs_stub_text(), re.M), table
        for name in names:
            assert separators[(table, name)] == ":", "declare %s:%s (how scripts call it)" % (table, name)
            kind = table if table in ("Watch", "StdinFan") else "Sink"
            stub_methods.setdefault(kind, {})[name] = "function"
    assert stub_methods == methods


def test_logs_stub_functions_have_descriptions():
    assert undescribed(logs_stub_text()) == []


def test_logs_option_classes_list_the_options_the_module_checks():
    text = logs_stub_text()
    source = read_source("logs.lua")
    queue = spec_keys(source, "local QUEUE =")
    assert set(class_fields(text, "logs.QueueOptions")) == queue
    expected = {
        "logs.ConsoleOptions: logs.QueueOptions": spec_keys(source, "local CONSOLE ="),
        "logs.FileOptions: logs.QueueOptions": spec_keys(source, "local FILE ="),
        "logs.Rotate": spec_keys(source, "local ROTATE ="),
        "logs.RingOptions": spec_keys(source, "local RING ="),
        "logs.Route": spec_keys(source, "local ROUTE ="),
        "logs.HttpOptions: logs.QueueOptions": spec_keys(source, "local HTTP ="),
        # and the command in the array part: [1], [integer]
        "logs.ProcessOptions: logs.QueueOptions": spec_keys(source, "local PROCESS ="),
    }
    for cls, keys in expected.items():
        fields = set(class_fields(text, cls))
        assert fields == keys, (cls, sorted(keys - fields), sorted(fields - keys))


def test_logs_record_and_stats_classes_match_the_module(tmp_path):
    text = logs_stub_text()
    _, _, live = live_logs(tmp_path)
    # a function sink's record has every field; ring:tail's some of them
    record = set(class_fields(text, "logs.Record"))
    assert live["record"] == record
    assert live["tail"] <= record
    stats = set(class_fields(text, "logs.Stats"))
    kinds = {kind for kind in live if kind.startswith("stats ") and kind != "stats stdin"}
    assert len(kinds) == 6, kinds
    assert set().union(*(live[kind] for kind in kinds)) == stats
    assert live["stats stdin"] == set(class_fields(text, "logs.StdinStats"))
