"""`luasup -- CMD` behaves as a job: SIGTSTP, SIGTTIN or SIGTTOU stop CMD and
then luasup itself, and SIGCONT resumes both (dumb-init's shell_background
behaviour). CMD's group gets SIGSTOP; with -c, CMD gets the signal itself."""

import os
import signal

import pytest

from helpers import LUASUP, PY, descendants, helper, start, stat, stop, wait_until

JOB_CONTROL = [signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU]


def _received(path):
    try:
        with open(path) as f:
            return [line.split()[:2] for line in f]
    except FileNotFoundError:
        return []


def _state(pid):
    return (stat(pid) or ("gone",))[0]


def _start(tmp_path, flags):
    out = str(tmp_path / "received")
    proc = start(flags + ["--", PY, helper("sigprint.py"), "--fork", "--out", out])
    wait_until(lambda: len(_received(out)) == 2, what="child and grandchild ready")
    pids = [int(line.split()[2]) for line in open(out)]
    return proc, out, pids


@pytest.mark.parametrize("signo", JOB_CONTROL, ids=lambda s: signal.Signals(s).name)
def test_stop_signal_stops_the_group_and_luasup_and_sigcont_resumes_both(tmp_path, signo):
    proc, out, group = _start(tmp_path, [])
    try:
        os.kill(proc.pid, signo)
        wait_until(lambda: [_state(p) for p in [proc.pid] + group] == ["T"] * 3,
                   what="luasup, child and grandchild stopped")
        os.kill(proc.pid, signal.SIGCONT)
        wait_until(lambda: {("child", "SIGCONT"), ("grandchild", "SIGCONT")}
                   <= {tuple(l) for l in _received(out)}, what="SIGCONT at child and grandchild")
        assert [_state(p) for p in [proc.pid] + group].count("T") == 0
        assert signal.Signals(signo).name not in [l[1] for l in _received(out)]
    finally:
        stop(proc)


def test_single_child_gets_the_stop_signal_itself_and_luasup_stops(tmp_path):
    proc, out, _ = _start(tmp_path, ["-c"])
    try:
        for done, signo in enumerate(JOB_CONTROL, 1):
            name = signal.Signals(signo).name
            os.kill(proc.pid, signo)
            wait_until(lambda: ["child", name] in _received(out), what="%s at the child" % name)
            wait_until(lambda: _state(proc.pid) == "T", what="luasup stopped")
            os.kill(proc.pid, signal.SIGCONT)
            # (the next stop signal would discard a SIGCONT still pending)
            wait_until(lambda: _received(out).count(["child", "SIGCONT"]) == done,
                       what="SIGCONT at the child")
            assert _state(proc.pid) != "T"
        assert not [l for l in _received(out) if l[0] == "grandchild"], "the group was signalled"
    finally:
        stop(proc)


def test_a_shell_stops_and_resumes_luasup_as_a_job_on_a_terminal():
    """A job-control shell on a real terminal runs `luasup -- CMD`; luasup
    gets SIGTSTP, the shell sees its job stopped, and after `fg` CMD again
    reads the terminal (luasup hands it on to CMD's group)."""
    import pty
    import select
    import time

    probe = ("import sys; print('ready', flush=True)\n"
             "for line in sys.stdin: print('got', line.strip(), flush=True)\n")
    pid, master = pty.fork()
    if pid == 0:  # a session leader with the terminal as its controlling one
        os.execv(PY, [PY, helper("jobshell.py"), LUASUP, "--", PY, "-c", probe])
    seen = b""

    def expect(pattern):
        """Wait for pattern on the terminal; what came before it."""
        nonlocal seen
        deadline = time.monotonic() + 30
        while pattern not in seen:
            ready, _, _ = select.select([master], [], [], max(0, deadline - time.monotonic()))
            assert ready, "no %r on the terminal; it shows %r" % (pattern, seen)
            seen += os.read(master, 4096)
        before, seen = seen.split(pattern, 1)
        return before

    try:
        expect(b"started ")
        luasup = int(expect(b"\n"))
        expect(b"ready")
        os.kill(luasup, signal.SIGTSTP)
        expect(b"stopped")
        assert _state(luasup) == "T"
        os.write(master, b"fg\n")
        wait_until(lambda: _state(luasup) not in ("T", "gone"), what="luasup resumed")
        os.write(master, b"hello\n")
        expect(b"got hello")
        os.write(master, b"\x04")  # EOF ends CMD, then luasup
        expect(b"exit 0")
    finally:
        for p in descendants(pid) + [pid]:
            os.kill(p, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(master)
