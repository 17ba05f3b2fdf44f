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
    assert run(["-e", "return 2.5"], loop=loop).returncode == 0
    assert run(["-e", "local x = 1"], loop=loop).returncode == 0


@pytest.mark.parametrize("loop", LOOPS)
def test_os_exit_stops_gracefully_with_its_code(loop):
    result = run(["-e", "os.exit(9)"], loop=loop)
    assert result.returncode == 9
    assert run(["-e", "os.exit(false)"], loop=loop).returncode == 1
    assert run(["-e", "os.exit(true)"], loop=loop).returncode == 0
