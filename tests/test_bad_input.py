"""Bad input gets one clear message and a defined exit code, never a
Python traceback."""

import os

import pytest

from helpers import LOOPS, run


def _lua_error(result, first_line, code=1):
    assert result.returncode == code, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == first_line
    assert "Traceback (most recent call last)" not in result.stderr
    return lines


def test_no_arguments_prints_usage_and_exits_2():
    result = run([])
    assert result.returncode == 2
    assert result.stderr.startswith("luasup: fatal: no script given\nusage: luasup SCRIPT.lua")


def test_unknown_option():
    result = run(["--frobnicate"])
    assert (result.returncode, result.stderr) == (2, "luasup: fatal: unknown option --frobnicate\n")


def test_missing_script_file():
    result = run(["no/such/script.lua"])
    assert result.returncode == 2
    assert result.stderr == ("luasup: fatal: unable to read no/such/script.lua:"
                             " No such file or directory\n")


def test_unreadable_script_file(tmp_path):
    # (root reads files of any mode, so unreadable means a symlink loop here)
    script = tmp_path / "loop.lua"
    script.symlink_to(script)
    result = run([str(script)])
    assert result.returncode == 2
    assert result.stderr == ("luasup: fatal: unable to read %s: Too many levels of symbolic links\n"
                             % script)


def test_script_is_a_directory(tmp_path):
    folder = tmp_path / "dir.lua"
    folder.mkdir()
    result = run([str(folder)])
    assert result.returncode == 2
    assert result.stderr == "luasup: fatal: unable to read %s: Is a directory\n" % folder


def test_syntax_error_names_file_and_line(tmp_path):
    (tmp_path / "broken.lua").write_text("local init = require('init')\n\nlocal x = = 1\n")
    result = run(["broken.lua"], cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "luasup: broken.lua:3: unexpected symbol near '='\n"


def test_syntax_error_inline():
    result = run(["-e", "if then"])
    assert (result.returncode, result.stderr) == (
        1, "luasup: (command line):1: unexpected symbol near 'then'\n")


@pytest.mark.parametrize("loop", LOOPS)
def test_runtime_error_prints_message_and_traceback(tmp_path, loop):
    # (Lua shortens chunk names past 60 characters: run it by a short name)
    script = "fails.lua"
    (tmp_path / script).write_text("local function inner()\n  local t = nil\n  return t.field\nend\n"
                      "local function outer() return inner() + 1 end\nouter()\n")
    lines = _lua_error(run([script], loop=loop, cwd=tmp_path),
                       "luasup: error in task main: %s:3: attempt to index local 't' (a nil value)"
                       % script)
    assert lines[1] == "stack traceback:"
    assert "%s:3: in function 'inner'" % script in lines[2]
    assert any("%s:6: in main chunk" % script in l for l in lines)


def test_exec_of_missing_binary_is_a_lua_error_naming_command_and_os_error():
    _lua_error(run(["-e", "require('init').exec('no-such-binary', 'x')"]),
               "luasup: error in task main: (command line):1: unable to spawn no-such-binary:"
               " No such file or directory")


def test_exec_of_missing_binary_can_be_caught_with_pcall():
    result = run(["-e", "local ok, err = pcall(require('init').exec, 'no-such-binary')\n"
                        "print(ok, err) return 0"])
    assert result.returncode == 0
    assert result.stdout == ("false\t(command line):1: unable to spawn no-such-binary:"
                             " No such file or directory\n")


def test_exec_of_non_executable_file(tmp_path):
    plain = tmp_path / "data"
    plain.write_text("x")
    _lua_error(run(["-e", "require('init').exec(%r)" % str(plain)]),
               "luasup: error in task main: (command line):1: unable to spawn %s:"
               " Permission denied" % plain)


@pytest.mark.parametrize("call, message", [
    ("init.exec()", "bad argument #1 to 'exec' (string expected, got nil)"),
    ("init.exec('echo', true)", "bad argument #2 to 'exec' (string expected, got boolean)"),
    ("init.exec({})", "bad argument #1 to 'exec' (command expected, got empty table)"),
    ("init.kill('1', 15)", "bad argument #1 to 'kill' (number expected, got string)"),
    ("init.kill(1.5, 15)", "bad argument #1 to 'kill' (process id expected, got 1.5)"),
    ("init.kill(1, 'NOPE')", "bad argument #2 to 'kill' (unknown signal 'NOPE')"),
    ("init.kill(1, 999)", "bad argument #2 to 'kill' (unknown signal '999')"),
    ("init.kill(1, {})", "bad argument #2 to 'kill' (signal name or number expected, got table)"),
    ("init.sleep('1')", "bad argument #1 to 'sleep' (number expected, got string)"),
    ("init.sleep(-1)", "bad argument #1 to 'sleep' (non-negative finite number expected, got -1)"),
    ("init.every(1)", "bad argument #2 to 'every' (function expected, got nil)"),
    ("init.exec('true').status()",
     "bad argument #1 to 'status' (child expected, got nil); call it as child:status()"),
])
def test_wrong_argument_types(call, message):
    _lua_error(run(["-e", "local init = require('init')\n" + call]),
               "luasup: error in task main: (command line):2: " + message)


def test_bad_setting_in_environment():
    result = run(["-e", "return 0"], env=dict(os.environ, LUASUP_GRACE_MS="soon"))
    assert (result.returncode, result.stderr) == (
        2, "luasup: fatal: LUASUP_GRACE_MS must be a non-negative number, got 'soon'\n")


def test_kill_of_a_missing_process_returns_nil_and_message():
    result = run(["-e", "print(require('init').kill(2147483646, 'TERM'))"])
    assert result.returncode == 0
    assert result.stdout == "nil\tNo such process\n"
