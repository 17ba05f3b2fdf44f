"""luasup reaps every orphan reparented to it, as PID 1 and as a subreaper."""

import time

import pytest

from helpers import (LOOPS, PY, children, helper, luasup_pid, read_line, start, stop,
                     wait_until, zombies)


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("pidns", [True, False], ids=["pid1", "subreaper"])
def test_thousand_double_forked_orphans_are_all_reaped(tmp_path, pidns, loop):
    pidfile = tmp_path / "orphans"
    script = """
        local init = require('init')
        local maker = init.exec(%r, %r, 1000, %r)
        print('maker exited', maker:status())
        init.sleep(3600)
    """ % (PY, helper("orphans.py"), str(pidfile))
    proc = start(["-e", script], pidns=pidns, loop=loop)
    try:
        started = time.monotonic()
        assert read_line(proc.stdout).split() == ["maker", "exited", "0"]
        host_pid = luasup_pid(proc, pidns)
        assert len(pidfile.read_text().split()) == 1000
        # Every orphan was reparented to luasup; once reaped, luasup has no
        # child left at all (the maker itself is gone too).
        wait_until(lambda: not children(host_pid), what="luasup to have no child left")
        print("1000 orphans gone %.3f s after start" % (time.monotonic() - started))
        if not pidns:  # host pids: none of them may linger in any state
            leftovers = [int(p) for p in pidfile.read_text().split()]
            assert zombies(leftovers) == []
        assert proc.poll() is None, proc.stderr.read()
    finally:
        stop(proc)


def test_zombie_of_a_reparented_child_does_not_stay(tmp_path):
    """An orphan that outlives its parent for a while is still reaped when it exits."""
    script = """
        local init = require('init')
        local parent = init.exec('sh', '-c', 'sleep 0.3 & exit 0')
        print('parent exited', parent:status())
        init.sleep(3600)
    """
    proc = start(["-e", script])
    try:
        assert read_line(proc.stdout).split() == ["parent", "exited", "0"]
        wait_until(lambda: not children(proc.pid), what="the sleeping orphan to be reaped")
    finally:
        stop(proc)
