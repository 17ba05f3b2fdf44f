"""luasup exits with the code its child or script says."""

import concurrent.futures
import os
import signal

import pytest

from helpers import LOOPS, run


def _command_code(code, pidns=False, loop="uvloop"):
    return run(["--", "sh", "-c", "exit %d" % code], pidns=pidns, loop=loop).returncode


def test_command_mode_propagates_every_exit_code_0_to_255():
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        got = dict(zip(range(256), pool.map(_command_code, range(256))))
    assert got == {code: code for code in range(256)}


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("pidns", [True, False], ids=["pid1", "subreaper"])
def test_command_mode_exit_codes_sampled(pidns, loop):
    for code in (0, 1, 7, 126, 127, 128, 255):
        assert _command_code(code, pidns, loop) == code


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("pidns", [True, False], ids=["pid1", "subreaper"])
def test_death_by_signal_n_gives_128_plus_n(pidns, loop):
    for signo in (signal.SIGKILL, signal.SIGTERM, signal.SIGSEGV, signal.SIGUSR1):
        result = run(["--", "sh", "-c", "kill -%d $$" % signo], pidns=pidns, loop=loop)
        assert result.returncode == 128 + signo


def test_not_found_is_127_and_not_executable_is_126(tmp_path):
    result = run(["--", "no-such-command-anywhere"])
    assert result.returncode == 127
    assert result.stderr == ("luasup: fatal: unable to spawn no-such-command-anywhere:"
                             " No such file or directory\n")
    plain = tmp_path / "plain-file"
    plain.write_text("not a program\n")
    os.chmod(plain, 0o644)
    result = run(["--", str(plain)])
    assert result.returncode == 126
    assert result.stderr == "luasup: fatal: unable to spawn %s: Permission denied\n" % plain


@pytest.mark.parametrize("loop", LOOPS)
def test_script_return_value_is_the_exit_code(loop):
    for code in (0, 3, 200, 255):
        assert run(["-e", "return %d" % code], loop=loop).returncode == code
    assert run(["-e", "return 256 + 5"], loop=loop).returncode == 5
    assert run(["-e", "return 'text'"], loop=loop).returncode == 0
    assert run(["-e", "local x = 1"], loop=loop).returncode == 0


@pytest.mark.parametrize("loop", LOOPS)
def test_os_exit_stops_gracefully_with_its_code(loop):
    result = run(["-e", "os.exit(9)"], loop=loop)
    assert result.returncode == 9
    assert run(["-e", "os.exit(false)"], loop=loop).returncode == 1
    assert run(["-e", "os.exit(true)"], loop=loop).returncode == 0


@pytest.mark.parametrize("code, shown", [("1.5", "1.5"), ("0/0", "nan"), ("math.huge", "inf")])
def test_a_number_that_is_not_an_integer_is_never_success(code, shown, tmp_path):
    # os.exit(1.5) and os.exit(0/0) used to exit 0
    (tmp_path / "main.lua").write_text("local x = 1\nos.exit(%s)\n" % code)
    result = run(["main.lua"], cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "luasup: error in task main: main.lua:2: bad argument #1 to 'exit'"
        " (integer expected, got %s)" % shown)
    result = run(["-e", "require('init').exit(%s)" % code])
    assert result.returncode == 1
    assert "bad argument #1 to 'exit' (integer expected, got %s)" % shown in result.stderr
    # the main chunk's result likewise (it used to give 0)
    result = run(["-e", "return %s" % code])
    assert (result.returncode, result.stderr) == (1, "luasup: error in task main: the main"
                                                  " chunk returned %s, not an integer exit code\n" % shown)


@pytest.mark.parametrize("loop", LOOPS)
def test_exit_in_an_on_exit_hook_sets_the_exit_code(loop):
    # it used to be ignored (and to hold the exit up for the grace period)
    result = run(["-e", """
        local init = require('init')
        init.on_exit(function(code)
            print('first hook', code)
            os.exit(5)
            print('not reached')
        end)
        init.on_exit(function(code) print('second hook', code) end)
        return 3
    """], loop=loop)
    assert (result.returncode, result.stdout, result.stderr) == (
        5, "first hook\t3\nsecond hook\t5\n", "")
    result = run(["-e", "require('init').on_exit(function() require('init').exit(6) end)"],
                 loop=loop, timeout=10)
    assert (result.returncode, result.stderr) == (6, "")


@pytest.mark.parametrize("loop", LOOPS)
def test_child_code_is_the_shell_style_exit_code(loop):
    result = run(["-e", """
        local init = require('init')
        local failed = init.exec('sh', '-c', 'exit 3')
        local killed = init.exec('sh', '-c', 'kill -TERM $$')
        local slow = init.exec('sleep', 30)
        print(failed:code(), killed:code(), slow:code(0.01))
        slow:kill()
        print(slow:code(), slow:code())
        print(select(2, pcall(slow.code, slow, -1)))
    """], loop=loop)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "3\t143\tnil\ttimeout", "137\t137",
        "(command line):9: bad argument #1 to 'code' (non-negative finite number expected, got -1)"]
