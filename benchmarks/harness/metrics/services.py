"""100 services: one supervisor keeping N long-running services (`sleep`)
up. How long until all N run; the supervisor's memory (PSS, summed over its
own processes: s6-svscan has an s6-supervise per service); its wake-ups and
CPU time over an idle window, without probes and, for luasup, with a health
probe on each service every second; how long a SIGTERM takes until the
supervisor has exited, and whether any service was left running.

Each set-up runs alone, in the host PID namespace (the harness is a child
subreaper), so what one leaves running is seen rather than swept away with
a namespace, and no two copies of a program share pages in the PSS."""

import os
import signal
import socket
import threading
import time

from .. import procs, procstat, stats, subjects
from ..result import Column, Result

NAME = "services"
REFERENCE = "supervisord"
SLEEP = ["sleep", "3600"]  # outlived by nothing: each set-up is killed at the end
PROBE_EVERY = 1  # s


def _luasup_source(count, health):
    # Probes spread evenly over their period, as services started at
    # different times would have them: probes due at the same instant
    # share one wake-up and would hide what each costs.
    return ("local sup = require('supervise')\n"
            "for i = 1, %d do\n"
            "    sup.service('s' .. i, {cmd = {%s}%s})\n"
            "end\n"
            "return sup.run()\n") % (count, ", ".join(map(subjects.lua_string, SLEEP)),
                                     health and ", health = {probe = %s, every = %g, "
                                     "initial_delay = (i - 1) * %g / %d}"
                                     % (health, PROBE_EVERY, PROBE_EVERY, count) or "")


def _s6(ctx, count):
    scandir = ctx.path("scandir")
    os.mkdir(scandir)
    for i in range(count):
        subjects.service_dir(os.path.join(scandir, "s%d" % i),
                             script="exec %s\n" % " ".join(SLEEP))
    return "s6-svscan", ["s6-svscan", scandir], None


class Listener:
    """A local TCP port the tcp probes connect to: a thread accepts and
    closes each connection, and counts them, so a row shows that its probes
    really ran."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)


def _setups(ctx, count, port):
    """(name, argv, env, probes per window second) of every subject."""
    for loop in subjects.LOOPS:
        name, argv, env = subjects.luasup_script(ctx, loop, _luasup_source(count, None))
        yield name, argv, env, 0
    for what, probe in (("tcp", "sup.tcp('127.0.0.1', %d)" % port),
                        ("function", "function() return true end")):
        name, argv, env = subjects.luasup_script(ctx, "uvloop", _luasup_source(count, probe))
        yield "%s, %s probes" % (name, what), argv, env, count / PROBE_EVERY
    if not ctx.quick:  # its 1-s loop tick would dominate a smoke run
        yield subjects.supervisord(ctx, SLEEP, numprocs=count, restart=True) + (0,)
    yield _s6(ctx, count) + (0,)


def _split(pid):
    """(the supervisor's own processes, its services) under pid."""
    table = procs.table()
    tree = [pid] + procs.descendants(pid, table)
    return ([p for p in tree if table[p][2] != "sleep"],
            [p for p in tree if table[p][2] == "sleep"])


def _sched(pids):
    total = [0, 0, 0]
    for pid in pids:
        for i, value in enumerate(procstat.sched(pid)):
            total[i] += value
    return total


def _once(ctx, argv, env, count, window, listener):
    start = time.monotonic()
    with procs.Launch(argv, ctx.path("err"), env=env) as sup:
        try:
            procs.wait_until(lambda: len(_split(sup.pid)[1]) >= count, 120,
                             "%d running services" % count, interval=0.02)
        except procs.Timeout as e:
            raise procs.Timeout("%s %s" % (e, sup.stderr_tail())) from None
        up = time.monotonic() - start
        # let start-up work (imports, GC) finish and every probe begin
        time.sleep(ctx.pick(1, 0.2) + PROBE_EVERY)
        own, services = _split(sup.pid)
        pss = sum(procstat.memory(p)["pss"] for p in own) / 1024
        before, accepted = _sched(own), listener.accepted
        time.sleep(window)
        after, accepted = _sched(own), listener.accepted - accepted
        stop = time.monotonic()
        os.kill(sup.pid, signal.SIGTERM)
        sup.wait(120)
        down = time.monotonic() - stop
        left = sum(1 for p in services if procs.alive(p))
    return {"up": up, "pss": pss, "processes": len(own), "wakeups": after[0] - before[0],
            "cpu_ms": (after[2] - before[2]) * 1e-6, "down": down, "left": left,
            "accepted": accepted}


def run(ctx):
    result = Result(NAME, "services", "s until all run", [
        Column("median", "median", "%.2f"), Column("× " + REFERENCE, "ratio", "%.2f"),
        Column("processes", "processes", "%d"), Column("PSS MiB", "pss"),
        Column("wake-ups", "wakeups", "%d"), Column("wake-ups/probe", "per_probe", "%.2f"),
        Column("tcp probes answered", "accepted", "%d"),
        Column("CPU ms", "cpu_ms", "%.1f"), Column("CPU µs/probe", "cpu_per_probe", "%.0f"),
        Column("SIGTERM stop s", "down", "%.2f"),
        Column("stop × " + REFERENCE, "down_ratio", "%.2f"),
        Column("left running", "left", "%d"), Column("runs", "n", "%d")],
        "N long-running services: start, memory, idle cost with and without probes, stop")
    count = ctx.pick(100, 10)
    window = ctx.pick(10, 1)
    rounds = ctx.pick(2, 1)
    runs, errors, order = {}, {}, []
    listener = Listener()
    try:
        for r in range(rounds):
            ctx.log("services: round %d/%d" % (r + 1, rounds))
            for name, argv, env, rate in _setups(ctx, count, listener.port):
                if name not in order:
                    order.append(name)
                if name in errors:
                    continue
                try:
                    measured = _once(ctx, argv, env, count, window, listener)
                    measured["probes"] = rate * window
                    runs.setdefault(name, []).append(measured)
                except (procs.Timeout, OSError) as e:
                    errors[name] = str(e)
                procs.sweep()
    finally:
        listener.close()
    mid = lambda rs, key: stats.percentile([x[key] for x in rs], 50)  # noqa: E731
    reference = runs.get(REFERENCE)
    for name in order:
        if name in errors:
            result.failed(name, errors[name])
            continue
        rs = runs[name]
        probes = rs[0]["probes"]
        wakeups = max(x["wakeups"] for x in rs)
        row = result.add(
            name, processes=rs[0]["processes"], pss=mid(rs, "pss"), wakeups=wakeups,
            per_probe=wakeups / probes if probes else None, cpu_ms=mid(rs, "cpu_ms"),
            cpu_per_probe=mid(rs, "cpu_ms") * 1e3 / probes if probes else None,
            accepted=min(x["accepted"] for x in rs) if "tcp" in name else None,
            down=mid(rs, "down"), left=max(x["left"] for x in rs),
            ratio=stats.ratio(mid(rs, "up"), reference and mid(reference, "up")),
            down_ratio=stats.ratio(mid(rs, "down"), reference and mid(reference, "down")),
            **stats.summary([x["up"] for x in rs]))
        if name.startswith("luasup"):
            if probes:
                result.target("%s: wake-ups ≤ 2 per probe" % name, row["per_probe"],
                              row["per_probe"] <= 2, 2)
            else:
                result.target("%s: 0 wake-ups idle" % name, wakeups, wakeups == 0, 0)
            result.target("%s: 0 services left running" % name, row["left"], row["left"] == 0, 0)
    result.notes.append(
        "%d services; idle window %g s; %d probes per window where probed (every %g s "
        "each). Idle wake-ups and left running: the worst run; the rest: medians."
        % (count, window, count * window / PROBE_EVERY, PROBE_EVERY))
    return result
