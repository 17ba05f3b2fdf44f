"""Spawn rate: a Lua loop `init.exec('true'):status()` N times, timed inside
the script with LuaJIT's FFI clock_gettime (so start-up is left out),
against a C posix_spawn + waitpid loop (spawntime) and a bash loop."""

import subprocess
import time

from .. import procs, stats, subjects
from ..result import Column, Result

NAME = "spawn_rate"
TARGET = 0.75
NO_CAPTURE = "%s, output not captured"

_SCRIPT = """\
local init = require('init')
local ffi = require('ffi')
ffi.cdef[[
struct bench_timespec { long tv_sec; long tv_nsec; };
int clock_gettime(int clock, struct bench_timespec *ts);
]]
local ts = ffi.new('struct bench_timespec')
local function now()
    ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
    return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end
local n = tonumber(arg[1])
local start = now()
for i = 1, n do
    local code = init.exec('true'):status()
    if code ~= 0 then error('true exited ' .. tostring(code)) end
end
print(('%.9f'):format(now() - start))
"""


def _subjects(ctx, count):
    """(name, argv, env, how its time is read)"""
    yield "C posix_spawn loop (reference)", [ctx.bins["spawntime"], str(count), "true"], None, "sum"
    yield ("bash loop", ["bash", "-c", "for ((i = 0; i < %d; i++)); do /usr/bin/true; done"
                         % count], None, "wall")
    for loop in subjects.LOOPS:
        name, argv, env = subjects.luasup_script(ctx, loop, _SCRIPT, [count])
        yield name, argv, env, "printed"
    # What capturing stdout/stderr (the default) costs: two pipes per child
    name, argv, env = subjects.luasup_script(ctx, "uvloop", _SCRIPT.replace(
        "init.exec('true')", "init.exec{'true', stdout = 'null', stderr = 'null'}"), [count])
    yield NO_CAPTURE % name, argv, env, "printed"


def _seconds(argv, env, how, timeout):
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError("exit %d: %s" % (done.returncode, done.stderr.strip()[-300:]))
    if how == "sum":
        return sum(int(line.split()[0]) for line in done.stdout.splitlines()) * 1e-9
    if how == "printed":
        return float(done.stdout.split()[-1])
    return wall


def run(ctx):
    result = Result(NAME, "spawn rate", "spawns/s", [
        Column("median", "median", "%.0f"), Column("p10–p90", "spread", "%.0f"),
        Column("× C loop", "ratio", "%.2f"), Column("runs", "n", "%d")],
        "spawn + wait of `true`, one after another")
    count = ctx.pick(2000, 50)
    rounds = ctx.pick(5, 1)
    result.notes.append("%d spawns per run. `output not captured` (stdout and stderr "
                        "to /dev/null) shows what the default capture costs; it is not "
                        "held to the target." % count)
    rates, errors, order = {}, {}, []
    for r in range(rounds):
        ctx.log("spawn rate: round %d/%d" % (r + 1, rounds))
        for name, argv, env, how in _subjects(ctx, count):
            if name not in order:
                order.append(name)
            if name in errors:
                continue
            try:
                seconds = _seconds(argv, env, how, 60 + count * 0.05)
            except (RuntimeError, ValueError, IndexError, subprocess.TimeoutExpired) as e:
                errors[name] = str(e)
                continue
            rates.setdefault(name, []).append(count / seconds)
    procs.sweep()
    ref = rates.get(order[0])
    ref_median = stats.percentile(ref, 50) if ref else None
    for name in order:
        if name in errors:
            result.failed(name, errors[name])
            continue
        s = stats.summary(rates[name])
        s["ratio"] = stats.ratio(s["median"], ref_median)
        result.add(name, **s)
        if name.startswith("luasup") and not name.endswith(NO_CAPTURE % ""):
            result.target("%s ≥ %.2f× C loop" % (name, TARGET), s["ratio"],
                          s["ratio"] is not None and s["ratio"] >= TARGET, TARGET)
    return result
