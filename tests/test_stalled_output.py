"""A reader of luasup's stdout or stderr that stops reading must not stall
luasup, so that as PID 1 it still reaps and still stops on SIGTERM: print
and luasup's own log lines are dropped (and counted) rather than waited
for, relayed children are held back (nothing of theirs is lost)."""

import os
import select
import signal
import socket
import subprocess
import threading

import pytest

from helpers import LUASUP, PY, children, env_for, helper, lua_quote, luasup_pid, read_line, stop, \
    wait_until, zombies

GRACE_MS = 2000

# Orphans keep being made (and must keep being reaped) while output stalls.
ORPHANS = "init.every(0.05, function() init.exec(%s, %s, 5, %s):wait() end)"

SCRIPTS = {
    "relayed child output": """
        for i = 1, 3 do
            init.exec{'sh', '-c', 'while :; do echo chatty chatty chatty; done', prefix = '[c] '}
        end""",
    "print": """
        init.spawn(function()
            while true do
                for _ = 1, 100 do print('printed line printed line') end
                init.sleep(0.001)
            end
        end)""",
    "log lines": """
        init.spawn(function()
            while true do
                for _ = 1, 100 do init.log('info', 'logged line logged line') end
                init.sleep(0.001)
            end
        end)""",
}


class StalledPipe:
    """A pipe (or a socket) for luasup's stdout or stderr that nobody reads.
    The test keeps a write end too, to see when it is full (not writable)."""

    def __init__(self, kind="pipe"):
        if kind == "socket":
            self._ends = socket.socketpair()
            self.r, self.w = (end.fileno() for end in self._ends)
        else:
            self._ends = None
            self.r, self.w = os.pipe()

    def full(self):
        return not select.select([], [self.w], [], 0)[1]

    def close(self):
        if self._ends:
            for end in self._ends:
                end.close()
        else:
            for end in (self.r, self.w):
                if end is not None:
                    os.close(end)


def _start(script, tmp_path, stalled, pipe):
    """luasup as PID 1 running script, with the stream `stalled` the pipe
    nobody reads; the other one goes to a file."""
    orphans = ORPHANS % (lua_quote(PY), lua_quote(helper("orphans.py")),
                         lua_quote(str(tmp_path / "pids")))
    code = "local init = require('init')\n%s\n%s\ninit.wait()" % (script, orphans)
    with open(tmp_path / "other", "wb") as other:
        streams = {"stdout": other, "stderr": other, stalled: pipe.w}
        return subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", LUASUP, "-e", code],
                                env=env_for(LUASUP_GRACE_MS=GRACE_MS), **streams)


@pytest.mark.parametrize("what", SCRIPTS)
def test_pid1_with_a_stalled_reader_still_reaps_and_stops(tmp_path, what):
    stalled = "stderr" if what == "log lines" else "stdout"
    pipe = StalledPipe()
    proc = _start(SCRIPTS[what], tmp_path, stalled, pipe)
    try:
        wait_until(pipe.full, what="the %s pipe to fill" % stalled)
        luasup = luasup_pid(proc, pidns=True)
        # orphans made after the pipe filled are reaped all the same
        (tmp_path / "pids").unlink(missing_ok=True)
        wait_until(lambda: (tmp_path / "pids").exists(), what="orphans made while stalled")
        made = [int(p) for p in (tmp_path / "pids").read_text().split()]
        wait_until(lambda: not zombies(made), what="orphans reaped while output stalls")
        os.kill(luasup, signal.SIGTERM)
        assert proc.wait(timeout=GRACE_MS / 1000 + 10) == 143
    finally:
        stop(proc)
        pipe.close()


def test_lines_dropped_while_stdout_stalled_are_counted_and_reported(tmp_path):
    total = 20000
    done = tmp_path / "printed"
    code = ("for i = 1, %d do print(('%%05d'):format(i) .. string.rep('.', 94)) end\n"
            "io.open(%s, 'w'):close()\n"
            "require('init').wait()" % (total, lua_quote(str(done))))
    proc = subprocess.Popen([LUASUP, "-e", code], env=env_for(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_until(done.exists, what="the script to print everything")
        received = []
        reader = threading.Thread(target=lambda: received.extend(proc.stdout), daemon=True)
        reader.start()
        report = read_line(proc.stderr)
        dropped = int(report.split()[3])
        assert report == ("luasup: warning: dropped %d lines (%d bytes) of output: "
                          "stdout was not being read\n" % (dropped, dropped * 100))
        proc.send_signal(signal.SIGTERM)
        reader.join(timeout=30)
        assert proc.wait(timeout=30) == 143
        # what got through is whole lines, in order, and with the dropped ones
        # they make up all that was printed
        numbers = [int(line[:5]) for line in received]
        assert all(len(line) == 100 for line in received)
        assert numbers == sorted(numbers) and 0 < dropped and len(numbers) + dropped == total
    finally:
        stop(proc)


PRINTING = "local init = require('init')\n%s\ninit.wait()" % SCRIPTS["print"]
# a pipe luasup cannot open again through /proc (an empty /proc in a mount
# namespace of its own): then a thread of its own does the blocking writes
HIDDEN_PROC = ["unshare", "--mount", "sh", "-c", 'mount -t tmpfs none /proc && exec "$0" -e "$1"',
               LUASUP, PRINTING]


@pytest.mark.parametrize("argv,kind", [(HIDDEN_PROC, "pipe"), ([LUASUP, "-e", PRINTING], "socket")],
                         ids=["pipe luasup cannot reopen", "socket"])
def test_a_stalled_socket_or_unreopenable_pipe_does_not_block_luasup(argv, kind):
    stalled = StalledPipe(kind)
    proc = subprocess.Popen(argv, env=env_for(), stdout=stalled.w, stderr=subprocess.DEVNULL)
    try:
        wait_until(stalled.full, what="the %s to fill" % kind)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
    finally:
        stop(proc)
        stalled.close()


def _blocked_writing_a_pipe(pid):
    try:
        with open("/proc/%d/wchan" % pid) as f:
            return "pipe_write" in f.read()
    except OSError:
        return False


def test_relayed_child_waits_for_a_slow_reader_and_loses_nothing():
    total = 50000  # 5 MB: far past what luasup buffers
    writer = ("import sys; w = sys.stdout.write; "
              "[w('%%05d%%s\\n' %% (i, '.' * 94)) for i in range(%d)]" % total)
    stalled = StalledPipe()
    proc = subprocess.Popen([LUASUP, "-e", "require('init').exec{%s, '-c', %s, prefix = '> '}:wait()"
                             % (lua_quote(PY), lua_quote(writer))],
                            env=env_for(), stdout=stalled.w, stderr=subprocess.PIPE)
    try:
        wait_until(stalled.full, what="stdout to fill")
        wait_until(lambda: any(_blocked_writing_a_pipe(p) for p in children(proc.pid)),
                   what="the child to be held back")
        os.close(stalled.w)
        with os.fdopen(stalled.r, "rb") as r:
            received = r.read().splitlines()
        stalled.r = stalled.w = None
        assert proc.wait(timeout=30) == 0
        assert proc.stderr.read() == b""
        assert received == [b"> %05d%s" % (i, b"." * 94) for i in range(total)]
    finally:
        stop(proc)
        stalled.close()
