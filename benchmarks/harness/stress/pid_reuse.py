"""Pid reuse after wrap-around. luasup runs as PID 1 of a PID namespace of
its own whose pid_max is lowered to 1000 (per namespace since Linux 6.14;
the host's is left alone), so pids recycle within 700 (300-999). Each round
makes orphans (`(true &)`: the subshell exits first) whose statuses nobody
claims, then starts
`sleep 5` children and asks each `child:running()`; the later rounds run
on recycled pids. `wrong` counts
children reported exited while /proc shows them running: a status handed to
the wrong process."""

import subprocess

from .. import procs
from . import runs
from .outcome import Row

NAME = "pid reuse"
PID_MAX = 1000

SCRIPT = """local init = require('init')
local rounds, orphans, kids = tonumber(arg[1]), tonumber(arg[2]), tonumber(arg[3])
local checked, wrong, pids = 0, 0, {}
local function in_proc(pid)
    local f = io.open('/proc/' .. pid .. '/stat')
    if not f then return false end
    local stat = f:read('*a')
    f:close()
    return not stat:match('^%d+ %(.*%) Z')
end
for _ = 1, rounds do
    init.exec('sh', '-c', 'i=0; while [ $i -lt ' .. orphans .. ' ]; do (true &); i=$((i+1)); done'):wait()
    local batch = {}
    for i = 1, kids do batch[i] = init.exec('sleep', '5') end
    init.sleep(0.05)
    for _, c in ipairs(batch) do
        checked = checked + 1
        pids[c:pid()] = true
        if not c:running() and in_proc(c:pid()) then wrong = wrong + 1 end
    end
    for _, c in ipairs(batch) do init.kill(c:pid(), 'KILL') end
    for _, c in ipairs(batch) do c:wait(5) end
end
local distinct = 0
for _ in pairs(pids) do distinct = distinct + 1 end
print(string.format('checked %d wrong %d distinct %d', checked, wrong, distinct))
"""


def run(ctx):
    rounds, orphans, kids = ctx.pick((10, 250, 100), (5, 150, 50))
    row = Row(NAME, "pid_max %d, %d rounds of %d orphans + %d children" % (
        PID_MAX, rounds, orphans, kids))
    lowered = 'echo %d > /proc/sys/kernel/pid_max && exec "$@"' % PID_MAX
    argv = procs.in_pidns(["sh", "-c", lowered, "sh", ctx.luasup, runs.script(ctx, SCRIPT),
                           str(rounds), str(orphans), str(kids)])
    with procs.Launch(argv, ctx.path("err"), env=runs.env(), stdout=subprocess.PIPE) as sup:
        code = runs.finish(sup, 120)
        out = sup.proc.stdout.read().decode() if code is not None else ""
        err = runs.stderr_of(sup)
    row.runs = 1
    row.hangs += code is None
    row.tracebacks += runs.crashed(err)
    try:
        words = out.split()
        checked, wrong, distinct = int(words[1]), int(words[3]), int(words[5])
    except (IndexError, ValueError):
        row.error = "no report (exit %s): %s" % (code, err.strip()[-300:])
        return [row]
    row.wrong += wrong + (code != 0)
    row.figure("children checked", checked, "%d")
    row.figure("reported exited while running", wrong, "%d")
    row.figure("distinct pids", distinct, "%d")
    procs.sweep()
    return [row]
