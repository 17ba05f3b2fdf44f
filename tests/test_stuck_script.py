"""Whatever the script does (a loop that never yields, a blocking C call,
runaway recursion through C functions), PID 1's duties go on: SIGTERM
stops everything within the grace period and luasup exits 128+N, and a
script error stays a script error."""

import os
import re
import signal
import subprocess

import pytest

from helpers import (PY, descendants, env_for, helper, luasup_pid, read_line, run, stat, start,
                     stop, wait_until)

# A child that says when it is ready and exits on SIGTERM, saying so.
TERMINABLE = ("import os, signal, time\n"
              "def term(*_):\n"
              "    os.write(1, b'child SIGTERM\\n'); os._exit(0)\n"
              "signal.signal(signal.SIGTERM, term)\n"
              "os.write(1, b'ready\\n')\n"
              "time.sleep(120)\n")
CHILD = "child = init.exec{%r, '-c', %r, stdout = 'inherit'}" % (PY, TERMINABLE)


@pytest.mark.parametrize("pidns", [True, False], ids=["pid1", "subreaper"])
@pytest.mark.parametrize("stuck,grace_ms", [
    ("while true do end", 60000),
    ("io.read()", 60000),
    # not stuck any more: os.execute waits as init.exec's children are
    # waited for, and its shell gets SIGTERM with the rest, long before
    # the grace is over
    ("os.execute('sleep 100')", 60000),
    ("init.on_exit(function() while true do end end) init.wait()", 60000),
    ("init.on('TERM', function() while true do end end) init.sleep(3600)", 60000),
], ids=["busy-loop", "blocking-read", "os-execute", "busy-exit-hook", "busy-term-handler"])
def test_sigterm_stops_luasup_whatever_the_script_is_doing(pidns, stuck, grace_ms):
    script = "local init = require('init') %s %s" % (CHILD, stuck)
    proc = start(["-e", script], pidns=pidns, stdin=subprocess.PIPE,
                 env=env_for(LUASUP_GRACE_MS=grace_ms))
    try:
        assert read_line(proc.stdout) == "ready\n"
        host = luasup_pid(proc, pidns)
        tree = wait_until(lambda: descendants(host), what="children")
        os.kill(host, signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
        assert "child SIGTERM" in proc.stdout.read()  # the child got it, in good time
        assert [p for p in tree if stat(p)] == []
        assert "Traceback" not in proc.stderr.read()
    finally:
        stop(proc)


def test_a_step_that_keeps_the_loop_busy_is_reported_once():
    script = ("local function spin(s) local t = os.clock() while os.clock() - t < s do end end "
              "spin(1.2) spin(1.2) print('done')")
    result = run(["-e", script])
    assert result.returncode == 0
    assert result.stdout == "done\n"
    lines = [l for l in result.stderr.splitlines() if "without yielding" in l]
    assert len(lines) == 1, result.stderr
    assert re.fullmatch(r"luasup: warning: task main kept the event loop busy for \d+\.\d s"
                        r" without yielding", lines[0]), lines


@pytest.mark.parametrize("pidns", [True, False], ids=["pid1", "subreaper"])
def test_recursion_through_a_c_function_is_a_script_error_not_a_crash(pidns, tmp_path):
    pidfile = tmp_path / "pid"
    script = ("local init = require('init') "
              "init.exec('sh', '-c', 'echo $$ > %s; exec sleep 100') init.sleep(0.2) "
              "local function g(s) return (s:gsub('.', g)) end g('abc')" % pidfile)
    result = run(["-e", script], pidns=pidns)
    assert result.returncode == 1, result.stderr
    assert "luasup: error in task main: stack overflow" in result.stderr
    if not pidns:  # the child was stopped, not left running
        child = int(pidfile.read_text())
        assert stat(child) is None


@pytest.mark.parametrize("pidns", [True, False], ids=["pid1", "subreaper"])
def test_signals_are_relayed_while_the_script_is_busy(pidns):
    script = ("local init = require('init') init.exec{%r, %r, stdout = 'inherit'} "
              "init.sleep(0.2) print('busy') while true do end" % (PY, helper("sigprint.py")))
    proc = start(["-e", script], pidns=pidns, env=env_for(LUASUP_GRACE_MS=60000))
    try:
        assert sorted(read_line(proc.stdout)[:5] for _ in range(2)) == ["busy\n", "ready"]
        host = luasup_pid(proc, pidns)
        for signo in (signal.SIGUSR1, signal.SIGHUP, signal.SIGUSR2):
            os.kill(host, signo)
            assert read_line(proc.stdout).startswith("child %s " % signal.Signals(signo).name)
    finally:
        stop(proc)
