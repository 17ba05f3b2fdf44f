"""`luasup -c -- CMD` (--single-child): signals reach CMD alone, and when CMD
exits what is left of its group is left alone, as with tini and dumb-init
-c; as PID 1 the leftovers are still stopped with a grace period, since the
kernel would kill them with luasup anyway."""

import os
import signal

from helpers import PY, env_for, helper, read_line, run, start, stat, stop, wait_until


def _alive(pid):
    s = stat(pid)
    return s is not None and s[0] != "Z"


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_leftovers_of_the_group_are_left_alone_when_cmd_exits(tmp_path):
    pidfile = tmp_path / "bg.pid"
    result = run(["-c", "--", "sh", "-c", "sleep 3600 >/dev/null 2>&1 & echo $! > %s; exit 5" % pidfile])
    background = int(pidfile.read_text())
    try:
        assert result.returncode == 5
        assert _alive(background), "the background sleep was stopped"
    finally:
        _kill(background)


def test_sigterm_reaches_cmd_alone_and_leaves_its_background_job():
    # dumb-init's scenario: `dumb-init -c sh -c 'yes | tail & ...'`, SIGTERM
    proc = start(["-c", "--", "sh", "-c", "sleep 3600 & echo $!; wait"])
    background = int(read_line(proc.stdout))
    try:
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
        assert _alive(background), "the background sleep got the signal too"
    finally:
        _kill(background)
        stop(proc)


def test_as_pid1_leftovers_still_get_sigterm_then_sigkill(tmp_path):
    out = tmp_path / "received"
    cmd = ('"$0" "$1" --out "$2" & until grep -q ready "$2" 2>/dev/null; do sleep 0.01; done;'
           ' exit 3')
    result = run(["-c", "--", "sh", "-c", cmd, PY, helper("sigprint.py"), str(out)],
                 pidns=True, env=env_for(LUASUP_GRACE_MS=300))
    assert result.returncode == 3
    assert [line.split()[:2] for line in out.read_text().splitlines()] == [
        ["ready", "child"], ["child", "SIGTERM"]]
    assert "still running 300 ms after SIGTERM: sending SIGKILL" in result.stderr
