"""Orphan reaping: N double-forked orphans are reparented to the init while
alive, then all exit at once; the clock runs until the last one is reaped.

Once as PID 1 of a fresh PID namespace (the container case), once as a
child subreaper in the host namespace. The reference is a minimal C init
blocking in wait(). Inits that cannot reap when not PID 1 (dumb-init,
supervisord) sit the subreaper round out."""

import os

from .. import procs, stats, subjects
from ..result import Column, Result

NAME = "reaping"
TARGET = 1.1


def _subjects(ctx, pid1):
    ref = subjects.mininit(ctx)
    yield ref.name + " (reference)", ref.argv([], pid1), None
    for init in subjects.wrappers(ctx):
        prefix = init.prefix if pid1 else init.subreaper
        if prefix is not None:
            yield init.name, prefix, init.env
    if pid1 and not ctx.quick:  # its 1-s loop tick would dominate a smoke run
        yield "supervisord", None, None


def _once(ctx, name, prefix, env, pid1, count, timeout):
    out = ctx.path("orphans")
    cmd = [ctx.bins["orphans"], str(count), out, str(timeout)]
    if prefix is None:  # supervisord runs cmd as its one program
        _, argv, env = subjects.supervisord(ctx, cmd)
    else:
        argv = prefix + cmd
    if pid1:
        argv = procs.in_pidns(argv)
    with procs.Launch(argv, ctx.path("err"), env=env) as init:
        try:
            procs.wait_until(lambda: os.path.exists(out), timeout + 15, "orphan report")
        except procs.Timeout as e:
            raise procs.Timeout("%s %s" % (e, init.stderr_tail())) from None
    with open(out) as f:
        elapsed_ns, left = f.read().split()
    return int(elapsed_ns), int(left)


def run(ctx):
    result = Result(NAME, "orphan reaping", "ms", [
        Column("mode", "mode", "%s"), Column("median", "median"),
        Column("p10–p90", "spread"), Column("× C init", "ratio", "%.2f"),
        Column("left unreaped", "left", "%d"), Column("runs", "n", "%d")],
        "N orphans exit at once; time until the last is reaped")
    count = ctx.pick(2000, 50)
    rounds = ctx.pick(5, 1)
    # supervisord reaps about 100 orphans a second: one round, a long timeout
    timeout = ctx.pick(60, 10)
    result.notes.append("%d orphans per run." % count)
    for pid1, mode in ((True, "PID 1"), (False, "subreaper")):
        times, left, errors, order = {}, {}, {}, []
        for r in range(rounds):
            ctx.log("reaping (%s): round %d/%d" % (mode, r + 1, rounds))
            for name, prefix, env in _subjects(ctx, pid1):
                if name not in order:
                    order.append(name)
                if name in errors or (name == "supervisord" and r > 0):
                    continue
                try:
                    elapsed, unreaped = _once(ctx, name, prefix, env, pid1, count, timeout)
                except (procs.Timeout, OSError, ValueError) as e:
                    errors[name] = str(e)
                    continue
                times.setdefault(name, []).append(elapsed)
                left[name] = max(left.get(name, 0), unreaped)
            procs.sweep()
        ref = times.get(order[0])
        ref_median = stats.percentile(ref, 50) * 1e-6 if ref else None
        for name in order:
            if name in errors:
                result.failed(name, errors[name], mode=mode)
                continue
            s = stats.summary(times[name], 1e-6)
            s["ratio"] = stats.ratio(s["median"], ref_median)
            row = result.add(name, mode=mode, left=left[name], **s)
            if name.startswith("luasup"):
                ok = row["ratio"] is not None and row["ratio"] <= TARGET and row["left"] == 0
                result.target("%s, %s: ≤ %.1f× C init, 0 left" % (name, mode, TARGET),
                              row["ratio"], ok, TARGET)
    result.notes.append("dumb-init and supervisord do not become subreapers, so they "
                        "are only measured as PID 1.")
    return result
