"""A stalled reader of luasup's stdout or stderr: the pipe is never read, so
it fills. Meanwhile a child's output is relayed with a prefix to that stream,
the script prints (or logs) on a timer and starts a short-lived child on each
tick. Once the pipe is full, 20 waiting children are told to exit: none may
stay a zombie (`zombies`, counted in `wrong`: 5 s after they exited), and
SIGTERM must still stop luasup with 143 within the grace
period (2 s; `wrong` past 3 s, a hang past 7 s)."""

import fcntl
import os
import signal
import struct
import subprocess
import termios
import time

from .. import procs
from . import runs
from .outcome import Row

NAME = "stalled reader"
F_GETPIPE_SZ = 1032
GRACE_MS = 2000

SCRIPT = """local init = require('init')
local stream = arg[1]
local chatter = 'while :; do echo chatter chatter chatter chatter chatter; done'
if stream == 'stderr' then chatter = '(' .. chatter .. ') 1>&2' end
for _ = 1, 20 do
    init.exec('sh', '-c', 'while [ ! -e "$1" ]; do sleep 0.02; done', 'sh', arg[2])
end
init.exec{'sh', '-c', chatter, prefix = '[c] '}
init.every(0.02, function()
    init.exec('true')
    if stream == 'stdout' then print('tick') else init.log('info', 'tick') end
end)
init.wait()
"""


def _queued(fd):
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().rstrip(b"\0").decode("utf-8", "replace")
    except OSError:
        return ""


def _zombies(pid):
    table = procs.table()
    return sum(1 for p in procs.children(pid, table) if table[p][0] == "Z")


def run(ctx):
    rows = []
    for stream in ctx.pick(("stdout", "stderr"), ("stdout",)):
        row = Row(NAME, "luasup's %s" % stream)
        release = ctx.path("release")
        argv = [ctx.luasup, runs.script(ctx, SCRIPT), stream, release]
        pipe_r, pipe_w = os.pipe()
        other = ctx.path("err")
        proc = None
        try:
            with open(other, "wb") as sink:
                proc = subprocess.Popen(
                    argv, env=runs.env(LUASUP_GRACE_MS=GRACE_MS), stdin=subprocess.DEVNULL,
                    stdout=pipe_w if stream == "stdout" else sink,
                    stderr=pipe_w if stream == "stderr" else sink, start_new_session=True)
            os.close(pipe_w)
            pipe_w = None
            row.runs = 1
            # full: over half the pipe's size and no longer growing (small writes
            # leave parts of its pages unused, so it never holds all of its size)
            half = fcntl.fcntl(pipe_r, F_GETPIPE_SZ) // 2
            seen = []

            def full():
                seen.append(_queued(pipe_r))
                return seen[-1] >= half and len(seen) > 60 and seen[-60] == seen[-1]
            procs.wait_until(full, 30, "full pipe")
            waiting = [p for p in procs.children(proc.pid) if _cmdline(p).endswith(release)]
            open(release, "w").close()
            try:
                procs.wait_until(lambda: not runs.alive(waiting), 10, "the children's exit")
                # a reaper's time, generous on a loaded machine: a PID 1 frozen by
                # its stalled output would leave them all
                procs.wait_until(lambda: _zombies(proc.pid) == 0, 5, "the zombies reaped")
            except procs.Timeout:
                pass
            zombies = _zombies(proc.pid)
            sent = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(GRACE_MS / 1000 + 5)
            except subprocess.TimeoutExpired:
                code = None
            stop_s = time.monotonic() - sent
            row.hangs += code is None
            late = code is not None and stop_s > GRACE_MS / 1000 + 1  # stopped, but not in time
            row.wrong += (code is not None and code != 128 + signal.SIGTERM) + zombies + late
            row.figure("stop s", stop_s if code is not None else None)
            row.figure("zombies", zombies, "%d")
            row.figure("of", len(waiting), "%d")
        except procs.Timeout as e:
            with open(other, "rb") as f:  # what luasup said, to tell a slow start from a crash
                said = f.read()[-300:].decode("utf-8", "replace").strip()
            row.error = "%s (%d bytes in the pipe, luasup %s; its other stream: %r)" % (
                e, _queued(pipe_r), "running" if proc.poll() is None else "exited %s" % proc.poll(),
                said)
        finally:
            if pipe_w is not None:
                os.close(pipe_w)
            if proc is not None and proc.poll() is None:
                procs.kill_tree(proc.pid)
                proc.wait(10)
            os.close(pipe_r)
            with open(other, "rb") as f:
                # stderr is the stalled pipe in one case: only the file is seen
                row.tracebacks += runs.crashed(f.read().decode("utf-8", "replace"))
        rows.append(row)
        procs.sweep()
    return rows
