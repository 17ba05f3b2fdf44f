"""A full fd table at shutdown: luasup runs with `ulimit -n 64`, the script
starts a child that leaves an orphan (in a session of its own, so only
luasup's signalling of orphans reaches it), then opens /dev/null until the
table is full (io.open returns nil: EMFILE), and waits. SIGTERM must then
stop luasup with 143, no traceback, and nothing left running (the orphan
included)."""

import signal
import subprocess
import time

from .. import procs
from . import runs
from .outcome import Row

NAME = "full fd table"
LIMIT = 64

SCRIPT = """local init = require('init')
init.exec('sh', '-c', '(setsid sleep 60 &); exec sleep 60')
local files = {}
while true do
    local f = io.open('/dev/null')
    if not f then break end
    files[#files + 1] = f
end
print('full ' .. #files)
init.wait()
"""


def run(ctx):
    row = Row(NAME, "ulimit -n %d, SIGTERM" % LIMIT)
    argv = ["sh", "-c", 'ulimit -n %d && exec "$@"' % LIMIT, "sh", ctx.luasup,
            runs.script(ctx, SCRIPT)]
    with procs.Launch(argv, ctx.path("err"), env=runs.env(LUASUP_GRACE_MS=2000),
                      stdout=subprocess.PIPE) as sup:
        full = next((l for l in runs.lines(sup.proc.stdout, time.monotonic() + 30)
                     if l.startswith(b"full")), None)
        row.runs = 1
        if full is None:
            row.error = "the script never filled its table: %s" % sup.stderr_tail()
            return [row]
        kids = procs.wait_until(lambda: len(procs.descendants(sup.pid)) >= 2 and
                                procs.descendants(sup.pid), 10, "the child and the orphan")
        code, stop_s = runs.stop(sup, 10, signal.SIGTERM)
        left = runs.alive(kids)
        runs.kill(left)
        row.hangs += code is None
        row.wrong += code is not None and code != 128 + signal.SIGTERM
        row.left += len(left)
        row.tracebacks += runs.crashed(runs.stderr_of(sup))
        row.figure("exit", code, "%d")
        row.figure("stop s", stop_s)
        row.figure("files opened", int(full.split()[1]), "%d")
    procs.sweep()
    return [row]
