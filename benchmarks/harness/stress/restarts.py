"""A child that crashes at once, restarted N times in a row by the script,
its output taken by a `stdout = function` (where each restart once leaked
Lua heap) or captured. Every N/10 restarts the script collects garbage and
prints its Lua heap (collectgarbage('count')); at each such line luasup's
open fds and RSS are read here. Growth is last sample minus first (the first
taken after N/10 restarts, once caches are warm). `growth` counts each of:
any fd growth, Lua heap growth above 16 bytes a restart (and above 32 KiB:
the heap swings by ~15 KiB between samples even without a leak, so the
quick run's few restarts only catch a gross leak), RSS growth above 16 MiB."""

import subprocess
import time

from .. import procs
from . import runs
from .outcome import Row

NAME = "crash-restarts"
HEAP_BYTES_PER_RESTART = 16
HEAP_NOISE_KIB = 32
RSS_MIB = 16

SCRIPT = """local init = require('init')
local n, every, way, ack = tonumber(arg[1]), tonumber(arg[2]), arg[3], arg[4]
local seen = 0
for i = 1, n do
    local opts = {'sh', '-c', 'echo crashing; exit 1'}
    if way == 'function' then opts.stdout = function(line) seen = seen + 1 end end
    local c = init.exec(opts)
    if way == 'capture' then c:stdout() end
    c:wait()
    if i % every == 0 then
        collectgarbage()
        collectgarbage()
        print(string.format('sample %d %.3f', i, collectgarbage('count')))
        -- hold still (no child running) until the harness has read fds and RSS
        for _ = 1, 500 do
            if os.remove(ack) then break end
            init.sleep(0.01)
        end
    end
end
"""


def _settled_fds(pid, samples, settle=1.0):
    """luasup's open fds. The last child's pipe may still be open when the
    script prints its sample (its end of file not yet read): a count above
    the first sample's is read again until it falls back or `settle`
    seconds have passed, so only an fd that stays open counts as growth."""
    fds = runs.fd_count(pid)
    first = samples[0][2] if samples else None
    deadline = time.monotonic() + settle
    while fds is not None and first is not None and fds > first and time.monotonic() < deadline:
        time.sleep(0.01)
        fds = runs.fd_count(pid)
    return fds


def _once(ctx, way, count):
    every = max(count // 10, 1)
    ack = ctx.path("ack")
    argv = [ctx.luasup, runs.script(ctx, SCRIPT), str(count), str(every), way, ack]
    samples = []  # (restarts, heap KiB, fds, RSS KiB)
    started = time.monotonic()
    with procs.Launch(argv, ctx.path("err"), env=runs.env(), stdout=subprocess.PIPE) as sup:
        for line in runs.lines(sup.proc.stdout, started + 300):
            parts = line.split()
            if parts[:1] == [b"sample"]:
                samples.append((int(parts[1]), float(parts[2]), _settled_fds(sup.pid, samples),
                                runs.rss_kib(sup.pid)))
                open(ack, "w").close()
        code = runs.finish(sup, 10)
        crashed = runs.crashed(runs.stderr_of(sup))
    return code, crashed, samples, time.monotonic() - started


def run(ctx):
    count = ctx.pick(3000, 200)
    rows = []
    for way in ("function", "capture"):
        ctx.log("crash-restarts: %d, %s" % (count, way))
        row = Row(NAME, "%d, stdout %s" % (count, way))
        code, crashed, samples, took = _once(ctx, way, count)
        row.runs = 1
        row.hangs += code is None
        row.wrong += code is not None and code != 0
        row.tracebacks += crashed
        row.figure("restarts/s", count / took, "%.0f")
        if len(samples) >= 2 and None not in samples[0] + samples[-1]:
            (n0, heap0, fds0, rss0), (n1, heap1, fds1, rss1) = samples[0], samples[-1]
            heap_per = (heap1 - heap0) * 1024 / (n1 - n0)
            rss = (rss1 - rss0) / 1024
            leak = heap_per > HEAP_BYTES_PER_RESTART and heap1 - heap0 > HEAP_NOISE_KIB
            row.growth += (fds1 > fds0) + leak + (rss > RSS_MIB)
            row.figure("fds", fds1 - fds0, "%+d")
            row.figure("Lua heap B/restart", heap_per, "%+.1f")
            row.figure("RSS MiB", rss, "%+.1f")
        else:
            row.error = "%d samples" % len(samples)
        rows.append(row)
        procs.sweep()
    return rows
