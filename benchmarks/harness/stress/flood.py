"""A flood of signals at luasup while it supervises a child: luasup must
neither die nor stop answering, and a SIGTERM afterwards must still stop it
with 143. Four signals in turn (USR1, USR2, HUP, WINCH), each relayed to the
child's group; the child ignores them."""

import os
import signal
import time

from .. import procs, subjects
from . import runs
from .outcome import Row

NAME = "signal flood"
SIGNALS = (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, signal.SIGWINCH)
CHILD = "trap '' USR1 USR2 HUP WINCH; while :; do sleep 1; done"


def _argvs(ctx):
    yield "script", [ctx.luasup, runs.script(ctx, (
        "local init = require('init')\n"
        "init.exec{'sh', '-c', %s}:wait()\n" % subjects.lua_string(CHILD)))]
    yield "--", [ctx.luasup, "--", "sh", "-c", CHILD]


def run(ctx):
    count = ctx.pick(100_000, 2_000)
    rows = []
    for case, argv in _argvs(ctx):
        row = Row(NAME, "%s, %d signals" % (case, count))
        row.runs = 1
        with procs.Launch(argv, ctx.path("err"), env=runs.env()) as sup:
            try:
                procs.wait_until(lambda: procs.children(sup.pid), 30, "the child")
            except procs.Timeout as e:
                row.error = str(e)
                rows.append(row)
                continue
            rss_before = runs.rss_kib(sup.pid)
            started = time.monotonic()
            sent = 0
            try:
                for i in range(count):
                    os.kill(sup.pid, SIGNALS[i % len(SIGNALS)])
                    sent += 1
            except ProcessLookupError:
                pass
            took = time.monotonic() - started
            rss_after = runs.rss_kib(sup.pid)
            died = sup.proc.poll() is not None
            code, stop_s = runs.stop(sup, 15)
            row.hangs += code is None
            row.wrong += died or code != 128 + signal.SIGTERM
            row.tracebacks += runs.crashed(runs.stderr_of(sup))
        row.figure("sent", sent, "%d")
        row.figure("signals/s", sent / took if took else None, "%.0f")
        row.figure("SIGTERM stop s", stop_s)
        if rss_before and rss_after:
            row.figure("RSS growth MiB", (rss_after - rss_before) / 1024, "%.1f")
        if died:
            row.notes.append("luasup died during the flood (exit %s)" % code)
        rows.append(row)
        procs.sweep()
    return rows
