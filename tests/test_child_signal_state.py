"""Children start with the signal state luasup was started with, as with
tini: its signal mask, and the signals it was started with ignored; nothing
luasup blocked for itself, nothing glibc adds (its posix_spawn ignores its
two internal signals, 32 and 33, in every child it starts by default).

Each case runs in both modes and both ways luasup starts a child:
posix_spawn, and fork+exec (forced by an exec option such as cwd= in a
script, by handing the child a terminal in `--` mode)."""

import fcntl
import os
import select
import signal
import subprocess
import termios
import time

import pytest

from helpers import DEADLINE, command, env_for, lua_quote, run, start, stop

# A program looking at itself (not a shell, which changes its signal state
# while it forks, nor Python, which sets dispositions of its own at start-up).
STATUS = ["cat", "/proc/self/status"]


def _script(exec_options):
    return ["-e", "io.write(require('init').exec{%s%s}:stdout())"
            % (", ".join(lua_quote(a) for a in STATUS), exec_options)]


def _child_status_via_pipe(args, preexec_fn=None, launcher=None):
    if launcher is not None:
        return launcher(command(args))
    result = subprocess.run(command(args), env=env_for(), capture_output=True, text=True,
                            timeout=DEADLINE, preexec_fn=preexec_fn)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _child_status_via_terminal(args, preexec_fn=None):
    """`--` mode hands the child the terminal it was started in, which only
    fork+exec can do: run luasup as a login shell would, on a fresh pty."""
    master, slave = os.openpty()

    def controlling_terminal():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        if preexec_fn:
            preexec_fn()

    proc = start(args, stdin=slave, stdout=slave, stderr=slave, preexec_fn=controlling_terminal)
    os.close(slave)
    out = b""
    try:
        deadline = time.monotonic() + DEADLINE
        while True:
            ready, _, _ = select.select([master], [], [], max(0, deadline - time.monotonic()))
            assert ready, "no end of output from the child"
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: every writer of the terminal is gone
                break
            if not data:
                break
            out += data
        assert proc.wait(timeout=DEADLINE) == 0
    finally:
        stop(proc)
        os.close(master)
    return out.decode().replace("\r\n", "\n")


WAYS = {
    "script, posix_spawn": lambda **kw: _child_status_via_pipe(_script(""), **kw),
    "script, fork+exec": lambda **kw: _child_status_via_pipe(_script(", cwd = '/'"), **kw),
    "--, posix_spawn": lambda **kw: _child_status_via_pipe(["--"] + STATUS, **kw),
    "--, fork+exec": lambda **kw: _child_status_via_terminal(["--"] + STATUS, **kw),
}


def _signals(status, field):
    """The set of signal numbers in a SigXxx field of /proc/PID/status."""
    line = next(line for line in status.splitlines() if line.startswith(field + ":"))
    bits = int(line.split()[1], 16)
    return {n for n in range(1, 65) if bits & (1 << (n - 1))}


@pytest.mark.parametrize("way", WAYS)
def test_child_of_a_plainly_started_luasup_has_nothing_ignored_or_blocked(way):
    status = WAYS[way]()
    assert _signals(status, "SigIgn") == set()
    assert _signals(status, "SigBlk") == set()


# SIGINT too: Python installs its own handler only when SIGINT was at its default
IGNORED = {signal.SIGHUP, signal.SIGINT, signal.SIGRTMIN + 5}
BLOCKED = {signal.SIGUSR2, signal.SIGRTMIN + 3}


def _ignore_and_block():
    for sig in IGNORED:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, BLOCKED)


@pytest.mark.parametrize("way", WAYS)
def test_child_gets_the_ignored_signals_and_mask_luasup_was_started_with(way):
    status = WAYS[way](preexec_fn=_ignore_and_block)
    assert _signals(status, "SigIgn") == IGNORED
    assert _signals(status, "SigBlk") == BLOCKED


def test_nohup_leaves_sighup_ignored_in_the_command():
    result = subprocess.run(["nohup"] + command(["--"] + STATUS), env=env_for(),
                            capture_output=True, text=True, timeout=DEADLINE,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert _signals(result.stdout, "SigIgn") == {signal.SIGHUP}


def _posix_spawned(argv):
    """Start luasup as any program that uses glibc's posix_spawn would: with
    glibc's internal signals ignored."""
    r, w = os.pipe()
    try:
        pid = os.posix_spawn(argv[0], argv, env_for(),
                             file_actions=[(os.POSIX_SPAWN_DUP2, w, 1)])
    finally:
        os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    return out


@pytest.mark.parametrize("way", ["script, posix_spawn", "script, fork+exec", "--, posix_spawn"])
def test_glibc_internal_signals_are_not_ignored_even_when_luasup_got_them_so(way):
    status = WAYS[way](launcher=_posix_spawned)
    assert _signals(status, "SigIgn") == set()


def test_grandchild_of_nested_luasup_has_nothing_ignored():
    inner = "io.write(require('init').exec{%s, cwd = '/'}:stdout())" % (
        ", ".join(lua_quote(a) for a in STATUS))
    result = run(["-e", "io.write(require('init').exec{arg[-1], '-e', %s}:stdout())"
                  % lua_quote(inner)])
    assert result.returncode == 0, result.stderr
    assert _signals(result.stdout, "SigIgn") == set()
