"""Scale: one supervisor holding N children (`sleep`). How long until all
N run, the supervisor's memory then, its idle cost over a window, and how
long a SIGTERM takes to stop everything. Runs in the host PID namespace
(luasup as a subreaper), so that a child left running after its supervisor
exits shows up instead of being swept away with a namespace."""

import os
import signal
import time

from .. import procs, procstat, sleepers, stats, subjects
from ..result import Column, Result

NAME = "scale"


def _subjects(ctx, count):
    for loop in subjects.LOOPS:
        yield subjects.luasup_script(ctx, loop, sleepers.script_source(count))
    if not ctx.quick:  # its 1-s loop tick would dominate a smoke run
        yield subjects.supervisord(ctx, sleepers.SLEEP, numprocs=count)


def _once(ctx, argv, env, count, window):
    start = time.monotonic()
    with procs.Launch(argv, ctx.path("err"), env=env) as sup:
        def all_running():
            table = procs.table()
            kids = [p for p in procs.children(sup.pid, table) if table[p][2] == "sleep"]
            return kids if len(kids) >= count else None
        try:
            kids = procs.wait_until(all_running, 120, "%d running children" % count,
                                    interval=0.02)
        except procs.Timeout as e:
            raise procs.Timeout("%s %s" % (e, sup.stderr_tail())) from None
        up = time.monotonic() - start
        time.sleep(0.5)
        mem = procstat.memory(sup.pid)
        before = procstat.sched(sup.pid)
        time.sleep(window)
        after = procstat.sched(sup.pid)
        stop = time.monotonic()
        os.kill(sup.pid, signal.SIGTERM)
        sup.wait(120)
        down = time.monotonic() - stop
        left = sum(1 for p in kids if procs.alive(p))
    return {"up": up, "pss": mem["pss"] / 1024, "rss": mem["rss"] / 1024,
            "wakeups": after[0] - before[0], "cpu_ms": (after[2] - before[2]) * 1e-6,
            "down": down, "left": left}


def run(ctx):
    result = Result(NAME, "scale", "s to start", [
        Column("median", "median", "%.2f"), Column("p10–p90", "spread", "%.2f"),
        Column("PSS MiB", "pss"), Column("RSS MiB", "rss"),
        Column("idle wake-ups", "wakeups", "%d"), Column("idle CPU ms", "cpu_ms", "%.1f"),
        Column("SIGTERM stop s", "down", "%.2f"), Column("left running", "left", "%d"),
        Column("runs", "n", "%d")],
        "N supervised children: start, memory, idle cost, SIGTERM stop")
    count = ctx.pick(1000, 20)
    window = ctx.pick(5, 0.5)
    rounds = ctx.pick(3, 1)
    result.notes.append("%d children; idle window %g s; supervisord runs once (it takes "
                        "seconds to start and stop them)." % (count, window))
    runs, errors, order = {}, {}, []
    for r in range(rounds):
        ctx.log("scale: round %d/%d" % (r + 1, rounds))
        for name, argv, env in _subjects(ctx, count):
            if name not in order:
                order.append(name)
            if name in errors or (name == "supervisord" and r > 0):
                continue
            try:
                runs.setdefault(name, []).append(_once(ctx, argv, env, count, window))
            except (procs.Timeout, OSError) as e:
                errors[name] = str(e)
            procs.sweep()
    for name in order:
        if name in errors:
            result.failed(name, errors[name])
            continue
        rs = runs[name]
        mid = lambda key: stats.percentile([x[key] for x in rs], 50)  # noqa: E731
        result.add(name, pss=mid("pss"), rss=mid("rss"), wakeups=max(x["wakeups"] for x in rs),
                   cpu_ms=mid("cpu_ms"), down=mid("down"),
                   left=max(x["left"] for x in rs), **stats.summary([x["up"] for x in rs]))
    result.notes.append("idle wake-ups and left running: the worst run; the rest: medians.")
    return result
