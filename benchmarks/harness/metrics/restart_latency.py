"""Restart latency: a supervised service is SIGKILLed, how long until its
replacement runs. The service (csrc/stamper.c) appends its pid and
CLOCK_MONOTONIC to a file as the first thing it does; the latency is that
stamp minus the moment the harness sent SIGKILL, so neither the harness's
polling nor its wake-ups are in the figure.

No restart delay is configured anywhere. luasup and runsv wait until a
second after a start that died sooner, so each service is killed only
after it has run RUN_FOR seconds (s6-supervise waits a second after every
death, whatever the run time). Subjects run side by side and are
killed in turn: one kill in flight at a time, and drift hits all alike."""

import os
import signal
import time

from .. import procs, stats, subjects
from ..result import Column, Result

NAME = "restart_latency"
RUN_FOR = 1.5  # s: past every subject's 1-s minimum interval, with room for a loaded machine
REFERENCE = "runsv"


def _luasup(ctx, loop, stamps):
    return subjects.luasup_script(ctx, loop, (
        "local sup = require('supervise')\n"
        "sup.service('svc', {cmd = {%s, %s}, restart = 'always',\n"
        "    backoff = {initial = 0}, limit = false})\n"
        "return sup.run()\n") % (subjects.lua_string(ctx.bins["stamper"]),
                                 subjects.lua_string(stamps)))


def _setups(ctx):
    """(name, argv, env, stamps file) of every subject."""
    for loop in subjects.LOOPS:
        stamps = ctx.path("stamps")
        yield _luasup(ctx, loop, stamps) + (stamps,)
    stamps = ctx.path("stamps")
    yield subjects.supervisord(ctx, [ctx.bins["stamper"], stamps], restart=True) + (stamps,)
    for program in ("s6-supervise", "runsv"):
        path = subjects.service_dir(ctx.path(program), program=ctx.bins["stamper"])
        yield program, [program, path], None, os.path.join(path, "stamps")


def _last_stamp(path):
    """(pid, monotonic s) of the latest start, or None before the first."""
    try:
        with open(path, "rb") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return None
    if not lines:
        return None
    pid, ns = lines[-1].split()
    return int(pid), int(ns) * 1e-9


class Watched:
    def __init__(self, ctx, name, argv, env, stamps):
        self.name = name
        self.stamps = stamps
        self.launch = procs.Launch(argv, ctx.path("err"), env=env)
        self.latencies = []

    def first_start(self, timeout):
        return procs.wait_until(lambda: _last_stamp(self.stamps), timeout, "first start")

    def kill_and_time(self, timeout):
        pid, started = _last_stamp(self.stamps)
        time.sleep(max(0.0, started + RUN_FOR - time.monotonic()))
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        _, restarted = procs.wait_until(lambda: self._replaced(pid), timeout, "restart",
                                        interval=0.001)
        self.latencies.append(restarted - killed)

    def _replaced(self, pid):
        stamp = _last_stamp(self.stamps)
        return stamp if stamp and stamp[0] != pid else None


def run(ctx):
    result = Result(NAME, "restart latency", "ms from SIGKILL to the new process running", [
        Column("median", "median", "%.2f"), Column("p10–p90", "spread", "%.2f"),
        Column("p99", "p99", "%.2f"), Column("max", "max", "%.2f"),
        Column("× " + REFERENCE, "ratio", "%.2f"), Column("restarts", "n", "%d")],
        "a service killed after it has run %g s, until its replacement has started" % RUN_FOR)
    samples = ctx.pick(40, 3)
    watched, errors, order = [], {}, []
    try:
        for name, argv, env, stamps in _setups(ctx):
            order.append(name)
            watched.append(Watched(ctx, name, argv, env, stamps))
        for w in list(watched):
            try:
                w.first_start(60)
            except procs.Timeout as e:
                errors[w.name] = "%s %s" % (e, w.launch.stderr_tail())
                watched.remove(w)
        for i in range(samples):
            if i % 10 == 0:
                ctx.log("restart_latency: round %d/%d" % (i + 1, samples))
            for w in list(watched):
                try:
                    w.kill_and_time(30)
                except (procs.Timeout, OSError) as e:
                    errors[w.name] = "%s %s" % (e, w.launch.stderr_tail())
                    watched.remove(w)
    finally:
        for w in watched:
            w.launch.close()
        procs.sweep()
    done = {w.name: w.latencies for w in watched}
    reference = done.get(REFERENCE)
    ref_median = stats.percentile(reference, 50) if reference else None
    for name in order:
        if name in errors:
            result.failed(name, errors[name])
            continue
        values = done[name]
        result.add(name, p99=stats.percentile(values, 99) * 1e3, max=max(values) * 1e3,
                   ratio=stats.ratio(stats.percentile(values, 50), ref_median),
                   **stats.summary(values, 1e3))
    result.notes.append("%d restarts per subject, killed in turn; p99 of %d samples is close "
                        "to their maximum." % (samples, samples))
    return result
