"""A child writing a lot of output, in each way a script can take it:
captured (`child:stdout()`), relayed with a prefix to luasup's stdout (read
here as fast as it comes), a `stdout = function`, and `child:lines()`.

- `output`: 3 x 300 MB of 1 KiB lines per way.
- `long line`: one line of 16, 32, 64 and 300 MB with no newline into a
  function and into lines(); reading it must stay linear, so each size is
  bounded by a deadline and one that does not finish is a hang.

`delivered %` is how much of the content reached the script (the rest was
dropped: captures keep the newest 1 MiB, a lagging reader drops; not judged
here). `peak RSS` is luasup's. `wrong` counts exit codes other than 0."""

import os
import subprocess
import threading
import time

from .. import procs
from . import runs
from .outcome import Row

NAME = "output"
LONG_NAME = "long line"
MB = 1_000_000
LINE = 1024

# Each script gets the child's argv as `...` and prints "BYTES LINES": what
# reached it, newlines not counted.
SCRIPTS = {
    "capture": """local init = require('init')
local c = init.exec(...)
local out = c:stdout() or ''
c:wait()
print(#out, 0)
""",
    "prefix": """local init = require('init')
local cmd = {...}
cmd.prefix = '[w] '
init.exec(cmd):wait()
""",
    "function": """local init = require('init')
local cmd, want = {...}, tonumber(os.getenv('STRESS_WANT'))
local bytes, lines = 0, 0
cmd.stdout = function(line) bytes = bytes + #line; lines = lines + 1 end
init.exec(cmd):wait()
-- the last calls may trail the exit
for _ = 1, 200 do
    if bytes >= want then break end
    init.sleep(0.01)
end
print(bytes, lines)
""",
    "lines": """local init = require('init')
local c = init.exec(...)
local bytes, lines = 0, 0
for line in c:lines() do bytes = bytes + #line; lines = lines + 1 end
c:wait()
print(bytes, lines)
""",
}


class _Drain(threading.Thread):
    """Reads luasup's stdout as fast as it comes: counts bytes, keeps the tail."""

    def __init__(self, fd):
        super().__init__(daemon=True)
        self.fd, self.count, self.tail = fd, 0, b""

    def run(self):
        while True:
            try:
                data = os.read(self.fd, 1 << 20)
            except OSError:
                return
            if not data:
                return
            self.count += len(data)
            self.tail = (self.tail + data)[-4096:]


def _once(ctx, way, size, linelen, deadline):
    content = size - (size // linelen if linelen else 0)
    argv = [ctx.luasup, runs.script(ctx, SCRIPTS[way]), ctx.bins["liner"], str(size), str(linelen)]
    started = time.monotonic()
    with procs.Launch(argv, ctx.path("err"), env=runs.env(STRESS_WANT=content),
                      stdout=subprocess.PIPE) as sup:
        drain = _Drain(sup.proc.stdout.fileno())
        drain.start()
        peak = 0
        while sup.proc.poll() is None and time.monotonic() - started < deadline:
            peak = max(peak, runs.status_kib(sup.pid, b"VmHWM:") or 0)
            time.sleep(0.05)
        code = runs.finish(sup, 0.5)
        took = time.monotonic() - started
        drain.join(10)
        sup.proc.stdout.close()
        crashed = runs.crashed(runs.stderr_of(sup))
    if way == "prefix":
        lines = size // linelen if linelen else 1
        delivered = drain.count - len("[w] ") * lines - lines
    else:
        try:
            delivered = int(drain.tail.split()[0])
        except (IndexError, ValueError):
            delivered = None
    return {"code": code, "took": took, "peak": peak / 1024,
            "delivered": None if delivered is None else 100.0 * delivered / content,
            "crashed": crashed}


def _row(name, case, results, size):
    row = Row(name, case)
    done = [r for r in results if r["code"] is not None]
    for r in results:
        row.runs += 1
        row.hangs += r["code"] is None
        row.wrong += r["code"] is not None and r["code"] != 0
        row.tracebacks += r["crashed"]
    took = runs.median([r["took"] for r in done])
    row.figure("s", took)
    row.figure("MB/s", size / MB / took if took else None, "%.0f")
    row.figure("delivered %", runs.median([r["delivered"] for r in done]), "%.1f")
    row.figure("peak RSS MiB", max((r["peak"] for r in results), default=None), "%.0f")
    return row


def run(ctx):
    rows = []
    size = ctx.pick(300 * MB, 8 * MB)
    rounds = ctx.pick(3, 1)
    for way in SCRIPTS:
        ctx.log("output: %s, %d x %d MB" % (way, rounds, size // MB))
        results = [_once(ctx, way, size, LINE, ctx.pick(180, 30)) for _ in range(rounds)]
        rows.append(_row(NAME, "%s, %d x %d MB" % (way, rounds, size // MB), results, size))
        procs.sweep()
    for way in ("function", "lines"):
        for size in ctx.pick((16 * MB, 32 * MB, 64 * MB, 300 * MB), (4 * MB,)):
            ctx.log("long line: %s, %d MB" % (way, size // MB))
            deadline = ctx.pick(60, 20)
            result = _once(ctx, way, size, 0, deadline)
            row = _row(LONG_NAME, "%s, %d MB" % (way, size // MB), [result], size)
            if result["code"] is None:
                row.notes.append("not done within %d s" % deadline)
            rows.append(row)
            procs.sweep()
    return rows
