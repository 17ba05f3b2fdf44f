"""Every orphan luasup adopted gets the stop signal, whether orphans share a
process group (whose leader is gone) or each has its own, as PID 1 and as a
subreaper; luasup exits as soon as they are gone, not at the end of the
grace period. A stopped child is continued so it can handle the signal."""

import os
import signal

import pytest

from helpers import PY, env_for, luasup_pid, read_line, start, stop, wait_until

# An orphan-to-be: records the SIGTERM it gets, then exits 0.
ORPHAN = ("import os, signal, sys, time\n"
          "def got(*_):\n"
          "    open(sys.argv[1], 'a').write('TERM %d\\n' % os.getpid()); os._exit(0)\n"
          "signal.signal(signal.SIGTERM, got)\n"
          "open(sys.argv[2], 'a').write('%d\\n' % os.getpid())\n"
          "time.sleep(120)\n")
# Long enough that a test run which waited out the grace (or needed SIGKILL)
# would time out instead of passing.
GRACE_MS = 120000


def _spawner(tmp_path, count, own_groups):
    """A shell that starts `count` orphans-to-be in the background (in its
    own group, or each in a new session), waits until all are ready, then
    exits 3 and leaves them to luasup."""
    prog = tmp_path / "orphan.py"
    prog.write_text(ORPHAN)
    got, ready = tmp_path / "got", tmp_path / "ready"
    launch = "setsid %s %s %s %s" if own_groups else "%s %s %s %s"
    launch = launch % (PY, prog, got, ready)
    shell = ("i=0; while [ $i -lt %d ]; do %s & i=$((i+1)); done; "
             "while [ \"$(wc -l < %s 2>/dev/null || echo 0)\" -lt %d ]; do sleep 0.02; done; exit 3"
             % (count, launch, ready, count))
    return shell, got, ready


def _lines(path):
    return path.read_text().split() if path.exists() else []


CASES = [(3, False, True), (3, True, True), (3, False, False), (3, True, False),
         (50, False, True), (50, True, False)]


@pytest.mark.parametrize("count,own_groups,pidns", CASES,
                         ids=["%d-%s-%s" % (c, "own-groups" if g else "one-group",
                                             "pid1" if p else "subreaper") for c, g, p in CASES])
def test_command_mode_stops_every_orphan_when_cmd_exits(tmp_path, count, own_groups, pidns):
    shell, got, ready = _spawner(tmp_path, count, own_groups)
    proc = start(["--", "sh", "-c", shell], pidns=pidns, env=env_for(LUASUP_GRACE_MS=GRACE_MS))
    try:
        assert proc.wait(timeout=60) == 3, proc.stderr.read()
        pids = _lines(ready)
        assert len(pids) == count
        assert sorted(_lines(got)[1::2]) == sorted(pids)  # every one got SIGTERM
        assert "SIGKILL" not in proc.stderr.read()
    finally:
        stop(proc)


@pytest.mark.parametrize("count,own_groups,pidns", CASES[:4] + [(50, True, True)],
                         ids=["%d-%s-%s" % (c, "own-groups" if g else "one-group",
                                             "pid1" if p else "subreaper")
                              for c, g, p in CASES[:4] + [(50, True, True)]])
def test_sigterm_in_script_mode_reaches_every_orphan(tmp_path, count, own_groups, pidns):
    shell, got, ready = _spawner(tmp_path, count, own_groups)
    script = ("local init = require('init') "
              "init.exec('sh', '-c', %r):wait() print('adopted') init.sleep(3600)" % shell)
    proc = start(["-e", script], pidns=pidns, env=env_for(LUASUP_GRACE_MS=GRACE_MS))
    try:
        assert read_line(proc.stdout) == "adopted\n"
        os.kill(luasup_pid(proc, pidns), signal.SIGTERM)
        assert proc.wait(timeout=60) == 143, proc.stderr.read()
        assert sorted(_lines(got)[1::2]) == sorted(_lines(ready))
        assert len(_lines(ready)) == count
    finally:
        stop(proc)


@pytest.mark.parametrize("pidns", [True, False], ids=["pid1", "subreaper"])
def test_a_stopped_child_is_continued_to_handle_the_stop_signal(tmp_path, pidns):
    prog = tmp_path / "orphan.py"
    prog.write_text(ORPHAN)
    got, ready = tmp_path / "got", tmp_path / "ready"
    script = ("local init = require('init') "
              "init.exec(%r, %r, %r, %r) init.sleep(3600)" % (PY, str(prog), str(got), str(ready)))
    proc = start(["-e", script], pidns=pidns, env=env_for(LUASUP_GRACE_MS=GRACE_MS))
    try:
        child = int(wait_until(lambda: _lines(ready), what="child ready")[0])
        host_child = child if not pidns else None
        if pidns:  # the pid it wrote is the namespace's: find it from the host
            luasup = luasup_pid(proc, True)
            from helpers import children
            host_child = wait_until(lambda: children(luasup), what="child")[0]
        os.kill(host_child, signal.SIGSTOP)
        from helpers import stat
        wait_until(lambda: (stat(host_child) or "?")[0] == "T", what="child stopped")
        os.kill(luasup_pid(proc, pidns), signal.SIGTERM)
        assert proc.wait(timeout=60) == 143, proc.stderr.read()
        assert _lines(got) == ["TERM", str(child)]
    finally:
        stop(proc)
