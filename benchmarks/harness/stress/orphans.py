"""Adopted orphans at shutdown. A maker double-forks N orphans (in its own
process group, or each in a group of its own) and exits 3; they are
reparented to luasup (a subreaper here, so that any left running show up).
Every one must get SIGTERM, not SIGKILL after the grace period, and luasup
must exit as soon as they are gone.

- `--` mode: CMD is the maker; when it exits, luasup stops what is left and
  exits 3. `stop s` runs from the maker's exit to luasup's.
- script mode: the script runs the maker, then waits in init.wait(); the
  harness sends SIGTERM. `stop s` runs from SIGTERM to luasup's exit (143).

The grace period is 2 s, so a missed orphan shows as a ~2 s stop time.
`wrong` counts wrong exit codes and orphans that got no SIGTERM."""

import os
import signal
import time

from .. import procs
from . import runs
from .outcome import Row

NAME = "orphans"
GRACE_MS = 2000
SCRIPT = """local init = require('init')
local maker = init.exec(...)
maker:wait()
init.wait()
"""


def _read_pids(path):
    with open(path) as f:
        return [int(line) for line in f if line.strip()]


def _reported(path):
    try:
        return set(_read_pids(path))
    except OSError:
        return set()


def _once(ctx, mode, count, layout):
    report, pidfile = ctx.path("term"), ctx.path("pids")
    maker = [ctx.bins["orphanage"], str(count), layout, report, pidfile]
    if mode == "--":
        argv = [ctx.luasup, "--"] + maker
    else:
        argv = [ctx.luasup, runs.script(ctx, SCRIPT)] + maker
    deadline = GRACE_MS / 1000 + 20
    with procs.Launch(argv, ctx.path("err"), env=runs.env(LUASUP_GRACE_MS=GRACE_MS)) as sup:
        procs.wait_until(lambda: os.path.exists(pidfile), 60 + count / 100, "the orphans")
        orphans = _read_pids(pidfile)
        if mode == "--":
            made = os.stat(pidfile).st_mtime
            code = runs.finish(sup, deadline)
            stop_s = time.time() - made
            expected = 3
        else:
            # the maker has exited once its pidfile is there; wait until the
            # script is back in init.wait (nothing but the orphans left)
            procs.wait_until(lambda: not procs.children(sup.pid) or
                             set(procs.children(sup.pid)) <= set(orphans), 30, "the maker's exit")
            code, stop_s = runs.stop(sup, deadline)
            expected = 128 + signal.SIGTERM
        left = runs.alive(orphans)
        runs.kill(left)
        crashed = runs.crashed(runs.stderr_of(sup))
    termed = len(_reported(report) & set(orphans))
    return {"code": code, "expected": expected, "stop": stop_s, "left": len(left),
            "missed": len(orphans) - termed, "termed": termed, "count": len(orphans),
            "crashed": crashed}


def _row(case, results):
    row = Row(NAME, case)
    for r in results:
        row.runs += 1
        row.hangs += r["code"] is None
        row.wrong += (r["code"] is not None and r["code"] != r["expected"]) + r["missed"]
        row.left += r["left"]
        row.tracebacks += r["crashed"]
    row.figure("stop s", runs.median([r["stop"] for r in results if r["code"] is not None]))
    row.figure("max", max((r["stop"] for r in results), default=None))
    row.figure("SIGTERM", sum(r["termed"] for r in results), "%d")
    row.figure("of", sum(r["count"] for r in results), "%d")
    return row


def _case(ctx, mode, count, layout, rounds):
    case = "%s, %d, %s" % (mode, count, "one group" if layout == "same" else "separate groups")
    results = []
    try:
        for _ in range(rounds):
            results.append(_once(ctx, mode, count, layout))
            procs.sweep()
    except procs.Timeout as e:
        row = Row(NAME, case)
        row.error = str(e)
        return row
    finally:
        procs.sweep()
    return _row(case, results)


def run(ctx):
    rows = []
    rounds = ctx.pick(3, 1)
    for mode in ("--", "script"):
        for count in (3, 50):
            for layout in ("same", "separate"):
                rows.append(_case(ctx, mode, count, layout, rounds))
    many = ctx.pick(5000, 200)
    for layout in ("same", "separate"):
        ctx.log("orphans: %d, %s" % (many, layout))
        rows.append(_case(ctx, "script", many, layout, 1))
    return rows
