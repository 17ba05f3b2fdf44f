"""Every forwardable signal luasup receives reaches each child's whole
process group, in script mode and in `--` mode, as PID 1 and as subreaper."""

import os
import signal

import pytest

from helpers import (LOOPS, PY, helper, luasup_pid, read_line, start, stop, wait_until)

# Everything but CHLD and what cannot be caught; TERM and INT last, since in
# script mode they also start the shutdown.
RELAYED = [s for s in sorted(signal.valid_signals())
           if s not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD,
                        signal.SIGTERM, signal.SIGINT)
           and not (signal.SIGRTMIN - 2 <= s < signal.SIGRTMIN)]


def _name(signo):
    return (signal.Signals(signo).name if signo < signal.SIGRTMIN
            else "SIGRTMIN+%d" % (signo - signal.SIGRTMIN))


def _received(path):
    try:
        with open(path) as f:
            return [line.split() for line in f]
    except FileNotFoundError:
        return []


def _check_relay(proc, out, pidns, signals_to_send):
    host_pid = luasup_pid(proc, pidns)
    ready = wait_until(lambda: [l for l in _received(out) if l[0] == "ready"]
                       if len([l for l in _received(out) if l[0] == "ready"]) == 2 else None,
                       what="child and grandchild to be ready")
    (_, _, child_pid, child_group), (_, _, grand_pid, grand_group) = sorted(ready, key=lambda l: l[1])
    assert child_group == grand_group == child_pid, "child leads its own process group"
    for signo in signals_to_send:
        os.kill(host_pid, signo)
        want = {("child", _name(signo)), ("grandchild", _name(signo))}
        wait_until(lambda: want <= {(l[0], l[1]) for l in _received(out)},
                   what="%s at child and grandchild" % _name(signo))


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("pidns", [True, False], ids=["pid1", "subreaper"])
def test_script_mode_relays_every_signal_to_the_child_group(tmp_path, pidns, loop):
    out = str(tmp_path / "received")
    script = "require('init').exec(%r, %r, '--fork', '--out', %r):status()" % (
        PY, helper("sigprint.py"), out)
    proc = start(["-e", script], pidns=pidns, loop=loop)
    try:
        _check_relay(proc, out, pidns, RELAYED + [signal.SIGTERM])
        # TERM also stops luasup: the child ignores it, so the grace runs out
    finally:
        stop(proc)


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("pidns", [True, False], ids=["pid1", "subreaper"])
def test_command_mode_relays_every_signal_to_the_child_group(tmp_path, pidns, loop):
    out = str(tmp_path / "received")
    proc = start(["--", PY, helper("sigprint.py"), "--fork", "--out", out],
                 pidns=pidns, loop=loop)
    # (the terminal stop signals stop the job instead: test_job_control.py)
    relayed = [s for s in RELAYED if s not in (signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)]
    try:
        _check_relay(proc, out, pidns, relayed + [signal.SIGINT, signal.SIGTERM])
    finally:
        stop(proc)


def test_single_child_flag_signals_the_command_alone(tmp_path):
    out = str(tmp_path / "received")
    proc = start(["-c", "--", PY, helper("sigprint.py"), "--fork", "--out", out])
    try:
        wait_until(lambda: len(_received(out)) == 2, what="child and grandchild ready")
        os.kill(proc.pid, signal.SIGUSR1)
        os.kill(proc.pid, signal.SIGUSR2)
        wait_until(lambda: ["child", "SIGUSR2"] in [l[:2] for l in _received(out)],
                   what="USR2 at the child")
        got = [l[:2] for l in _received(out)]
        assert ["child", "SIGUSR1"] in got
        assert not [l for l in got if l[0] == "grandchild" and l[1] != "ready"]
    finally:
        stop(proc)
