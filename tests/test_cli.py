"""The command line: scripts, inline code, -e, --check, the arg table."""

import os
import subprocess

import pytest

from helpers import LUASUP, run

import luasup


def test_version_and_help():
    result = run(["--version"])
    assert (result.returncode, result.stdout) == (0, "luasup %s\n" % luasup.__version__)
    result = run(["--help"])
    assert result.returncode == 0
    assert result.stdout.startswith("usage: luasup SCRIPT.lua [ARGS...]\n")
    for name in ("LUASUP_GRACE_MS", "LUASUP_CAPTURE_BYTES", "LUASUP_LOG_LEVEL", "LUASUP_LOOP"):
        assert name in result.stdout


def test_script_file_with_arguments(tmp_path):
    (tmp_path / "show.lua").write_text(
        "for i = -1, #arg do print(i, arg[i]) end\nprint(select('#', ...), ...)\n")
    result = run(["show.lua", "one", "two words"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "-1\t" + LUASUP, "0\tshow.lua", "1\tone", "2\ttwo words", "2\tone\ttwo words"]


def test_first_argument_not_a_lua_path_is_code():
    result = run(["print(arg[0], arg[1])", "x"])
    assert (result.returncode, result.stdout) == (0, "print(arg[0], arg[1])\tx\n")


def test_dash_e_runs_code_even_if_it_looks_like_a_file():
    result = run(["-e", "print('from -e', ...)", "a.lua"])
    assert (result.returncode, result.stdout) == (0, "from -e\ta.lua\n")


def test_code_beginning_with_a_comment_is_code():
    result = run(["-- a comment\nprint('ok')"])
    assert (result.returncode, result.stdout) == (0, "ok\n")


def test_arg_minus_one_re_runs_luasup():
    result = run(["-e", "local c = require('init').exec(arg[-1], 'print(40 + 2)')\n"
                        "io.write(c:stdout()) return c:status()"])
    assert (result.returncode, result.stdout) == (0, "42\n")


def test_check_reports_syntax_only(tmp_path):
    (tmp_path / "good.lua").write_text("error('not run')\n")
    (tmp_path / "bad.lua").write_text("x = \n")
    assert run(["--check", "good.lua"], cwd=tmp_path).returncode == 0
    result = run(["--check", "bad.lua"], cwd=tmp_path)
    assert (result.returncode, result.stderr) == (1, "luasup: bad.lua:2: unexpected symbol near '<eof>'\n")
    assert run(["--check", "-e", "return"]).returncode == 0


def test_shebang_line_is_allowed_and_keeps_line_numbers(tmp_path):
    script = tmp_path / "tool.lua"
    script.write_text("#!/usr/bin/env luasup\n\nerror('line three')\n")
    result = run(["tool.lua"], cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("luasup: error in task main: tool.lua:3: line three\n")


def test_require_finds_modules_beside_the_script(tmp_path):
    (tmp_path / "helper.lua").write_text("return { answer = 42 }\n")
    (tmp_path / "main.lua").write_text("return require('helper').answer\n")
    assert run([str(tmp_path / "main.lua")]).returncode == 42


def test_a_script_module_named_like_a_luasup_folder_is_found(tmp_path):
    (tmp_path / "meta.lua").write_text("return { mine = true }\n")
    (tmp_path / "main.lua").write_text("return require('meta').mine and 5 or 0\n")
    assert run([str(tmp_path / "main.lua")]).returncode == 5


def test_python_dash_m_works():
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-m", "luasup", "-e", "return 3"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 3, result.stderr


def test_dash_c_without_command_is_a_usage_error():
    result = run(["-c", "-e", "return 0"])
    assert (result.returncode, result.stderr) == (2, "luasup: fatal: -c only applies to -- CMD\n")
    result = run(["--"])
    assert (result.returncode, result.stderr) == (2, "luasup: fatal: -- needs a command to run\n")


def test_executable_script_with_a_shebang_runs_directly(tmp_path):
    tool = tmp_path / "tool"  # no .lua: the kernel passes luasup its path
    tool.write_text("#!/usr/bin/env luasup\nprint('tool', arg[0], ...)\nreturn 4\n")
    tool.chmod(0o755)
    env = dict(os.environ, PATH=os.path.dirname(LUASUP) + os.pathsep + os.environ["PATH"])
    result = subprocess.run([str(tool), "x"], env=env, capture_output=True, text=True,
                            timeout=30)
    assert (result.returncode, result.stderr) == (4, "")
    assert result.stdout == "tool\t%s\tx\n" % tool


def test_existing_file_without_lua_suffix_is_a_script(tmp_path):
    (tmp_path / "main.lau").write_text("return 6\n")
    assert run(["main.lau"], cwd=tmp_path).returncode == 6


@pytest.mark.parametrize("name", ["bin/main.lau", "./tool", "/no/such/file"])
def test_missing_path_is_unable_to_read(tmp_path, name):
    result = run([name], cwd=tmp_path)
    assert (result.returncode, result.stderr) == (
        2, "luasup: fatal: unable to read %s: No such file or directory\n" % name)


@pytest.mark.parametrize("code, out", [
    ("print(1/2)", "0.5\n"), ("io.write(8/4,'\\n')", "2\n"), ("x=6/3;print(x)", "2\n"),
    ("print('a/b')", "a/b\n"),
])
def test_inline_code_with_a_slash_stays_code(tmp_path, code, out):
    result = run([code], cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, out, "")
