"""Signal forwarding latency: SIGUSR1 sent to the init, timed until the
child has it, against the same signal sent to the child directly.

The child (sigping recv) and the sender (sigping send) are C and read the
same monotonic clock; one signal is in flight at a time. Two placements:
`one CPU` pins all three to CPU 0, so every hop is a context switch on
that CPU and the latency is mostly the relay's own work: the target is
judged there. `free` lets the scheduler spread them over the CPUs; on a VM
a hop that wakes an idle vCPU costs tens of µs whoever relays, so that row
says more about the machine than about the init.

Latency on a shared machine comes in bursts, so rounds are many and short,
each launches every subject afresh, and the ratio is the median over rounds
of (subject's median / direct median in the same round)."""

import os
import subprocess

from .. import procs, stats, subjects
from ..result import Column, Result

NAME = "signal_latency"
TARGET = 2.5
WARMUP = 5  # the first signals also pay for page faults and lazy imports
PLACEMENTS = (("free", []), ("one CPU", ["taskset", "-c", "0"]))


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


def _measure(ctx, argv, env, fifo, pin, count):
    """Latencies in ns of `count` signals through the init argv starts."""
    with procs.Launch(pin + argv, ctx.path("err"), env=env) as init:
        sender = subprocess.run(
            pin + [ctx.bins["sigping"], "send", str(init.pid), fifo, str(count + WARMUP), "200"],
            capture_output=True, text=True, timeout=60)
        if sender.returncode != 0:
            raise RuntimeError((sender.stderr.strip() + " " + init.stderr_tail()).strip())
        return [int(v) for v in sender.stdout.split()][WARMUP:]


def _round(ctx, count, order, samples, errors):
    fifo = ctx.path("sigfifo")
    os.mkfifo(fifo)
    for placement, pin in PLACEMENTS:
        for name, argv, env in _subjects(ctx, fifo):
            key = (placement, name)
            if key not in order:
                order.append(key)
            if key in errors:
                continue
            try:
                samples.setdefault(key, []).append(_measure(ctx, argv, env, fifo, pin, count))
            except (RuntimeError, subprocess.TimeoutExpired, procs.Timeout) as e:
                errors[key] = str(e)
    os.unlink(fifo)


def _ratio(rounds, reference):
    per_round = [stats.percentile(s, 50) / stats.percentile(r, 50)
                 for s, r in zip(rounds, reference)]
    return stats.percentile(per_round, 50) if per_round else None


def run(ctx):
    result = Result(NAME, "signal forwarding latency", "µs", [
        Column("placement", "placement", "%s"), Column("median", "median"),
        Column("p10–p90", "spread"), Column("× direct", "ratio", "%.2f"),
        Column("signals", "n", "%d")],
        "SIGUSR1 sent to the init until the child's sigtimedwait returns")
    rounds, count = ctx.pick((10, 150), (1, 15))
    order, samples, errors = [], {}, {}
    for r in range(rounds):
        ctx.log("signal latency: round %d/%d" % (r + 1, rounds))
        _round(ctx, count, order, samples, errors)
    procs.sweep()
    for placement, name in order:
        key = (placement, name)
        if key in errors:
            result.failed(name, errors[key], placement=placement)
            continue
        reference = samples.get((placement, order[0][1]), [])
        s = stats.summary([v for r in samples[key] for v in r], 1e-3)
        s["ratio"] = _ratio(samples[key], reference)
        result.add(name, placement=placement, **s)
        if name.startswith("luasup") and placement == "one CPU":
            result.target("%s, %s: ≤ %.1f× direct" % (name, placement, TARGET), s["ratio"],
                          s["ratio"] is not None and s["ratio"] <= TARGET, TARGET)
    result.notes.append("× direct: the median over rounds of each round's ratio of medians. "
                        "The target is judged on `one CPU`; `free` includes waking an "
                        "idle vCPU, which costs every relay alike on a VM.")
    result.notes.append("supervisord is absent: it does not relay SIGUSR1 to its programs.")
    result.notes.append("python floor: a 40-line signalfd relay on the same loop "
                        "(floors/signal_relay.py), the least a Python init pays.")
    return result
