"""Signal forwarding latency: SIGUSR1 sent to the init, timed until the
child has it, against the same signal sent to the child directly.

The child (sigping recv) and the sender (sigping send) are C and read the
same monotonic clock; one signal is in flight at a time. Subjects are
launched afresh in each round and rounds interleave the subjects, so drift
over the run hits every subject alike."""

import os
import subprocess

from .. import procs, stats, subjects
from ..result import Column, Result

NAME = "signal_latency"
TARGET = 2.5
WARMUP = 5  # the first signals also pay for page faults and lazy imports


def _subjects(ctx, fifo):
    recv = [ctx.bins["sigping"], "recv", fifo]
    yield "direct (reference)", recv, None
    for init in subjects.wrappers(ctx):
        yield init.name, init.outside(recv), init.env
    for loop in subjects.LOOPS:
        yield subjects.luasup_script(
            ctx, loop, "local init = require('init')\n"
            "return init.exec(%s):status()\n" % ", ".join(map(subjects.lua_string, recv)))
    for loop in subjects.LOOPS:
        yield ("python floor (%s)" % loop,
               [ctx.python, ctx.floor("signal_relay.py"), loop] + recv, None)


def _round(ctx, count, gap_us, order, samples, errors):
    fifo = ctx.path("sigfifo")
    os.mkfifo(fifo)
    for name, argv, env in _subjects(ctx, fifo):
        if name not in order:
            order.append(name)
        if name in errors:
            continue
        try:
            with procs.Launch(argv, ctx.path("err"), env=env) as init:
                sender = subprocess.run(
                    [ctx.bins["sigping"], "send", str(init.pid), fifo, str(count + WARMUP),
                     str(gap_us)],
                    capture_output=True, text=True, timeout=60)
                if sender.returncode != 0:
                    raise RuntimeError((sender.stderr.strip() + " " + init.stderr_tail()).strip())
                values = [int(v) for v in sender.stdout.split()][WARMUP:]
                samples.setdefault(name, []).extend(values)
        except (RuntimeError, subprocess.TimeoutExpired, procs.Timeout) as e:
            errors[name] = str(e)
    os.unlink(fifo)


def run(ctx):
    result = Result(NAME, "signal forwarding latency", "µs", [
        Column("median", "median"), Column("p10–p90", "spread"),
        Column("× direct", "ratio", "%.2f"), Column("signals", "n", "%d")],
        "SIGUSR1 sent to the init until the child's sigtimedwait returns")
    rounds, count = ctx.pick((5, 300), (1, 15))
    order, samples, errors = [], {}, {}
    for r in range(rounds):
        ctx.log("signal latency: round %d/%d" % (r + 1, rounds))
        _round(ctx, count, 200, order, samples, errors)
    procs.sweep()
    ref = samples.get(order[0])
    ref_median = stats.percentile(ref, 50) if ref else None
    for name in order:
        if name in errors:
            result.failed(name, errors[name])
            continue
        s = stats.summary(samples[name], 1e-3)
        s["ratio"] = stats.ratio(s["median"], ref_median and ref_median * 1e-3)
        result.add(name, **s)
    for row in result.rows:
        if row["subject"].startswith("luasup") and "error" not in row:
            result.target("%s ≤ %.1f× direct" % (row["subject"], TARGET), row["ratio"],
                          row["ratio"] is not None and row["ratio"] <= TARGET, TARGET)
    result.notes.append("supervisord is absent: it does not relay SIGUSR1 to its programs.")
    result.notes.append("python floor: a 40-line signalfd relay on the same loop "
                        "(floors/signal_relay.py), the least a Python init pays.")
    return result
