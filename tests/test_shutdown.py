"""SIGTERM/SIGINT stop everything within the grace period; nothing
luasup started outlives it, whichever way it ends."""

import os
import signal
import time

import pytest

from helpers import (LOOPS, PY, descendants, helper, luasup_pid, read_line, run, start,
                     stop, wait_until, env_for, stat, lua_quote)

STUBBORN = "trap '' TERM INT; echo stubborn; while :; do sleep 0.05; done"


def _script_with(children_lua):
    return """
        local init = require('init')
        %s
        print('ready')
        init.sleep(3600)
    """ % children_lua


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("pidns", [True, False], ids=["pid1", "subreaper"])
def test_sigterm_kills_a_child_that_ignores_it_after_the_grace_period(pidns, loop):
    script = _script_with("init.exec('sh', '-c', %r); init.exec('sleep', 3600)" % STUBBORN)
    proc = start(["-e", script], pidns=pidns, env=env_for(loop, LUASUP_GRACE_MS=1000))
    try:
        assert read_line(proc.stdout) == "ready\n"
        host = luasup_pid(proc, pidns)
        tree = wait_until(lambda: (lambda d: d if len(d) >= 3 else None)(descendants(host)),
                          what="children running")
        sent = time.monotonic()
        os.kill(host, signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
        took = time.monotonic() - sent
        assert 0.9 <= took < 10, took  # waited out the 1 s grace, then SIGKILL
        assert [p for p in tree if stat(p)] == []
        err = proc.stderr.read()
        assert "luasup: warning: processes still running 1000 ms after SIGTERM: sending SIGKILL" in err
    finally:
        stop(proc)


@pytest.mark.parametrize("loop", LOOPS)
def test_sigint_is_relayed_and_stops_luasup_with_130(loop):
    script = _script_with("child = init.exec('sleep', 3600)")
    proc = start(["-e", script], loop=loop)
    try:
        assert read_line(proc.stdout) == "ready\n"
        tree = wait_until(lambda: descendants(proc.pid), what="child running")
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) == 130
        assert [p for p in tree if stat(p)] == []
    finally:
        stop(proc)


@pytest.mark.parametrize("loop", LOOPS)
def test_children_that_exit_on_sigterm_end_luasup_before_the_grace_period(loop):
    script = _script_with("for i = 1, 5 do init.exec('sleep', 3600) end")
    proc = start(["-e", script], env=env_for(loop, LUASUP_GRACE_MS=60000))
    try:
        assert read_line(proc.stdout) == "ready\n"
        wait_until(lambda: len(descendants(proc.pid)) == 5, what="five children")
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 143  # long before the 60 s grace
        assert proc.stderr.read() == "luasup: received SIGTERM: stopping\n"
    finally:
        stop(proc)


@pytest.mark.parametrize("loop", LOOPS)
def test_script_end_stops_remaining_children(loop):
    script = """
        local init = require('init')
        local c = init.exec('sh', '-c', %r)
        init.exec('sh', '-c', 'sleep 3600 & sleep 3600')
        print(c:pid())
        return 4
    """ % STUBBORN
    proc = start(["-e", script], env=env_for(loop, LUASUP_GRACE_MS=500))
    try:
        first = int(read_line(proc.stdout))
        assert proc.wait(timeout=30) == 4
        assert stat(first) is None
        assert descendants(proc.pid) == []
    finally:
        stop(proc)


def test_orphans_in_their_own_session_are_stopped_too(tmp_path):
    """A daemon that setsid()s escapes group signals; luasup still stops it."""
    pidfile = tmp_path / "daemon.pid"
    daemonize = 'setsid sh -c "echo \\$\\$ > %s; exec sleep 3600" &' % pidfile
    script = """
        local init = require('init')
        init.exec('sh', '-c', %s):status()
        print('ready')
        init.sleep(3600)
    """ % lua_quote(daemonize)
    proc = start(["-e", script])
    try:
        assert read_line(proc.stdout) == "ready\n"
        daemon = int(wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(),
                                what="daemon pid"))
        assert stat(daemon)[1] == proc.pid  # adopted by luasup
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
        assert stat(daemon) is None
    finally:
        stop(proc)


@pytest.mark.parametrize("loop", LOOPS)
def test_command_mode_sigterm_escalates_to_sigkill_after_grace(loop):
    proc = start(["--", "sh", "-c", STUBBORN], env=env_for(loop, LUASUP_GRACE_MS=500))
    try:
        assert read_line(proc.stdout) == "stubborn\n"
        tree = descendants(proc.pid)
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGKILL
        assert [p for p in tree if stat(p)] == []
    finally:
        stop(proc)


def test_command_mode_stops_what_is_left_of_the_group_when_cmd_exits(tmp_path):
    pidfile = tmp_path / "bg.pid"
    result = run(["--", "sh", "-c", "sleep 3600 & echo $! > %s; exit 5" % pidfile])
    assert result.returncode == 5
    assert stat(int(pidfile.read_text())) is None


def test_uncaught_error_stops_children_and_exits_1():
    script = """
        local init = require('init')
        local c = init.exec('sleep', 3600)
        print(c:pid())
        error('boom')
    """
    proc = start(["-e", script])
    try:
        child = int(read_line(proc.stdout))
        assert proc.wait(timeout=30) == 1
        assert stat(child) is None
        assert "(command line):5: boom" in proc.stderr.read()
    finally:
        stop(proc)
