"""SIGTERM (and SIGINT) at a random moment 0-150 ms after luasup starts as
PID 1 of a fresh PID namespace. A default-disposition signal to a PID 1 is
dropped by the kernel: before luasup blocks it, the signal is lost and luasup
runs on (a hang). Counts runs that never exit, wrong codes (143/130) and
tracebacks (KeyboardInterrupt); `latest lost ms` is the latest offset at
which a signal was lost, i.e. the window that is still open.

Before the interpreter runs any Python code no Python program can catch a
signal, so the first milliseconds stay a window whatever luasup does (the
full run measures how wide; `python3 -c pass` alone takes 35-55 ms here, far
more on a loaded machine). The quick run therefore counts its offsets from
the moment luasup has the signal blocked (pid1term's `@` offsets): from then
on no signal may be lost, however slow the start."""

import random
import signal
import subprocess

from . import runs
from .outcome import Row

NAME = "early signal as PID 1"
WINDOW_MS = 150
QUICK_WINDOW_MS = 50
HANG_MS = 3000


def _cases(ctx):
    script = "local init = require('init') init.exec('sleep', '30'):wait()"
    full = [("script", signal.SIGTERM, 200), ("script", signal.SIGINT, 100),
            ("--", signal.SIGTERM, 100)]
    quick = [("script", signal.SIGTERM, 16), ("script", signal.SIGINT, 8)]
    for mode, signo, count in ctx.pick(full, quick):
        argv = [ctx.luasup, "-e", script] if mode == "script" else [ctx.luasup, "--", "sleep", "30"]
        yield mode, signo, count, argv


def run(ctx):
    rng = random.Random(12)
    window_ms = ctx.pick(WINDOW_MS, QUICK_WINDOW_MS)
    since = ctx.pick("", "@")
    rows = []
    for mode, signo, count, argv in _cases(ctx):
        name = signal.Signals(signo).name
        row = Row(NAME, "%s, %s, %d offsets 0-%d ms%s" % (
            mode, name, count, window_ms, " once blocked" if since else ""))
        lost, sent, times = [], [], []
        for i in range(count):
            offset_us = rng.randrange(0, window_ms * 1000)
            err = ctx.path("err")
            cmd = [ctx.bins["pid1term"], since + str(offset_us), str(int(signo)), str(HANG_MS),
                   err] + argv
            try:
                out = subprocess.run(cmd, env=runs.env(LUASUP_GRACE_MS=1000),
                                     stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                     timeout=HANG_MS / 1000 + 30)
                kind, value, us = out.stdout.split()
            except (subprocess.TimeoutExpired, ValueError) as e:
                row.error = "pid1term: %s" % e
                break
            row.runs += 1
            sent.append(offset_us / 1000)
            if kind == "hang":
                row.hangs += 1
                lost.append(offset_us / 1000)
            elif kind != "exit" or int(value) != 128 + signo:
                row.wrong += 1
                row.notes.append("offset %.1f ms: %s %s" % (offset_us / 1000, kind, value))
            else:
                times.append(int(us) / 1000)
            with open(err, "rb") as f:
                row.tracebacks += runs.crashed(f.read().decode("utf-8", "replace"))
        row.figure("latest lost ms", max(lost) if lost else None, "%.0f")
        if lost:
            row.notes.append("lost per 25 ms of offset: " + ", ".join(
                "%d-%d %d/%d" % (b, b + 25, sum(b <= o < b + 25 for o in lost),
                                 sum(b <= o < b + 25 for o in sent))
                for b in range(0, window_ms, 25) if any(b <= o < b + 25 for o in sent)))
        row.figure("stop ms (median)", runs.median(times), "%.0f")
        rows.append(row)
        ctx.log("early signal: %s %s done" % (mode, name))
    return rows
