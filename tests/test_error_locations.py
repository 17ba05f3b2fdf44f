"""Errors point at the script's line, never at a line of luasup's own Lua
files, whatever raised them inside luasup: an argument check, a Lua
runtime error, a script's metamethod, a Python exception from the core."""

import pytest

from helpers import run

SCRIPT = """local init = require('init')
local child = init.exec('true')
child:wait()
local strict = setmetatable({'true'}, {__index = function(_, key)
    error('no option ' .. key, 2)
end})
%s
"""


def error_of(tmp_path, statement):
    """The message of `statement`, caught with pcall on line 7 of main.lua."""
    code = SCRIPT % ("print(select(2, pcall(function() %s end)))" % statement)
    (tmp_path / "main.lua").write_text(code)
    result = run(["main.lua"], cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    return result.stdout.rstrip("\n")


@pytest.mark.parametrize("statement, message", [
    # a script's metamethod raising at level 2 points at the code that
    # indexed the table: that was exec's option check
    ("init.exec(strict)", "no option stdin"),
    # Lua runtime errors inside luasup's methods
    ("getmetatable(child).__tostring(5)", "attempt to index local 'self' (a number value)"),
    # print calls tostring: the script's __tostring raising at level 2
    ("print(setmetatable({}, {__tostring = function() error('no text', 2) end}))", "no text"),
])
def test_errors_raised_inside_luasup_name_the_scripts_line(tmp_path, statement, message):
    # these used to show luasup's own file and line
    assert error_of(tmp_path, statement) == "main.lua:7: " + message


def test_a_python_exception_from_the_core_names_the_scripts_line(tmp_path):
    # it used to have no position at all
    message = error_of(tmp_path, "init.exec{'true', user = 'no\\0body'}")
    assert message.startswith("main.lua:7: "), message


def test_uncaught_errors_show_the_scripts_line_and_no_luasup_file(tmp_path):
    (tmp_path / "main.lua").write_text(SCRIPT % "init.exec(strict)")
    result = run(["main.lua"], cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "luasup: error in task main: main.lua:7: no option stdin"
    assert "luasup/lua" not in result.stderr


def test_a_task_running_a_function_of_luasup_is_named_after_the_scripts_line(tmp_path):
    # `task .../luasup/lua/luasup/process.lua:NN` before
    (tmp_path / "main.lua").write_text(SCRIPT % "init.spawn(init.exec)\ninit.sleep(0.1)")
    result = run(["main.lua"], cwd=tmp_path)
    assert result.returncode == 0
    assert result.stderr.splitlines()[0] == (
        "luasup: error in task task main.lua:7: bad argument #1 to 'exec'"
        " (string expected, got nil)")
    assert "luasup/lua" not in result.stderr
