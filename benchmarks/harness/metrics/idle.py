"""Idle cost: every init holds 1 and then K idle children, and for W
seconds nothing happens. The kernel counts each time the init woke
(voluntary context switches; involuntary ones are shown too) and its CPU
time (schedstat). Sampled every second, so the spread is per second.

The set-ups run side by side through the same window: idle processes do
not disturb one another, and the run stays short."""

import time

from .. import procs, procstat, sleepers, stats
from ..result import Column, Result

NAME = "idle"


def run(ctx):
    result = Result(NAME, "idle cost", "wake-ups/s", [
        Column("children", "children", "%d"), Column("median", "median", "%.1f"),
        Column("p10–p90", "spread", "%.1f"), Column("wake-ups", "wakeups", "%d"),
        Column("involuntary", "involuntary", "%d"), Column("CPU ms", "cpu_ms", "%.2f")],
        "wake-ups and CPU time of the init while nothing happens")
    window = ctx.pick(10, 1)
    counts = (1, ctx.pick(100, 5))
    result.notes.append("window: %d s; wake-ups/s is per 1-s slice of it." % window)
    running, errors = [], {}
    try:
        for count in counts:
            for name, argv, env in sleepers.setups(ctx, count):
                running.append(sleepers.Running(ctx, name, argv, env, count))
        ctx.log("idle: waiting for %d set-ups" % len(running))
        ready = []
        for r in running:
            try:
                r.wait_ready(60)
                ready.append(r)
            except procs.Timeout as e:
                errors[(r.name, r.count)] = str(e)
        time.sleep(ctx.pick(1, 0.2))  # let start-up work (imports, GC) finish
        ctx.log("idle: %d s window" % window)
        snaps = {id(r): [procstat.sched(r.pid)] for r in ready}
        for _ in range(window):
            time.sleep(1)
            for r in ready:
                snaps[id(r)].append(procstat.sched(r.pid))
    finally:
        for r in running:
            r.close()
        procs.sweep()
    for r in running:
        if (r.name, r.count) in errors:
            result.failed(r.name, errors[(r.name, r.count)], children=r.count)
            continue
        s = snaps[id(r)]
        per_second = [b[0] - a[0] for a, b in zip(s, s[1:])]
        row = result.add(r.name, children=r.count, wakeups=s[-1][0] - s[0][0],
                         involuntary=s[-1][1] - s[0][1], cpu_ms=(s[-1][2] - s[0][2]) * 1e-6,
                         **stats.summary(per_second))
        if r.name.startswith("luasup"):
            result.target("%s, %d children: 0 wake-ups, 0 CPU" % (r.name, r.count),
                          row["wakeups"], row["wakeups"] == 0 and row["cpu_ms"] == 0, 0)
    return result
