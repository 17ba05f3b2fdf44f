"""Output relay throughput: a child writes B bytes to stdout; the time is
the writer's own, from its first write to its last returning, so start-up
is left out. Everything is pinned to one CPU, so the relay's cost shows as
time the writer waits.

The reference is writer | reader with nothing between. Inits that let the
child inherit their stdout are that same pipe; luasup's script mode
captures the output (init.exec(...):stdout()) and supervisord copies it to
its own stdout, so those two really relay."""

import os
import subprocess

from .. import procs, stats, subjects
from ..result import Column, Result

NAME = "relay"
CPU = "0"
TARGET_INHERIT = 0.95  # "1.0x": the same pipe, within the noise
TARGET_CAPTURED = 0.5


def _pinned(argv):
    return ["taskset", "-c", CPU] + list(argv)


def _subjects(ctx, writer):
    yield "writer → reader, no init (reference)", writer, None, "inherit"
    for init in subjects.wrappers(ctx):
        yield init.name, init.outside(writer), init.env, "inherit"
    for loop in subjects.LOOPS:
        name, argv, env = subjects.luasup_script(
            ctx, loop, "local init = require('init')\n"
            "local child = init.exec(%s)\n"
            "child:stdout()\n"
            "return child:status()\n" % ", ".join(map(subjects.lua_string, writer)))
        yield name, argv, env, "captured"
    name, argv, env = subjects.supervisord(ctx, writer, stdout="/dev/stdout")
    yield name, argv, env, "relay"


def _once(ctx, argv, env, timefile, size, to_reader):
    reader = None
    stdout = subprocess.DEVNULL
    if to_reader:
        r, w = os.pipe()
        reader = subprocess.Popen(_pinned([ctx.bins["reader"]]), stdin=r,
                                  stdout=subprocess.PIPE)
        os.close(r)
        stdout = w
    try:
        with procs.Launch(_pinned(argv), ctx.path("err"), env=env, stdout=stdout) as init:
            if reader is not None:
                os.close(w)  # the reader sees EOF once the init's side closes
            try:
                procs.wait_until(lambda: os.path.exists(timefile), 120, "writer's time")
            except procs.Timeout as e:
                raise procs.Timeout("%s %s" % (e, init.stderr_tail())) from None
    finally:
        if reader is not None:
            try:
                received = int(reader.communicate(timeout=30)[0] or 0)
            except subprocess.TimeoutExpired:
                reader.kill()
                reader.wait()
                raise procs.Timeout("reader never saw the end of its input") from None
    if reader is not None and received < size:
        raise RuntimeError("reader got %d of %d bytes" % (received, size))
    with open(timefile) as f:
        return int(f.read())


def run(ctx):
    result = Result(NAME, "output relay throughput", "MiB/s", [
        Column("mode", "mode", "%s"), Column("median", "median", "%.0f"),
        Column("p10–p90", "spread", "%.0f"), Column("× pipe", "ratio", "%.2f"),
        Column("runs", "n", "%d")],
        "a child writes B bytes to stdout, all on one CPU")
    size = ctx.pick(512, 4) << 20
    rounds = ctx.pick(5, 1)
    result.notes.append("%d MiB per run, 64 KiB writes, taskset -c %s for every process."
                        % (size >> 20, CPU))
    rates, modes, errors, order = {}, {}, {}, []
    # An untimed first run: the first pipe of a run is slow (cold caches,
    # clock ramping up), and the reference would pay for it alone.
    timefile = ctx.path("writer-time")
    try:
        _once(ctx, [ctx.bins["writer"], str(size), timefile], None, timefile, size, True)
    except (procs.Timeout, RuntimeError, OSError, ValueError):
        pass  # the reference's own row will say what is wrong
    for r in range(rounds):
        ctx.log("relay: round %d/%d" % (r + 1, rounds))
        timefile = ctx.path("writer-time")
        writer = [ctx.bins["writer"], str(size), timefile]
        for name, argv, env, mode in _subjects(ctx, writer):
            if name not in order:
                order.append(name)
            modes[name] = mode
            if name in errors:
                continue
            if os.path.exists(timefile):
                os.unlink(timefile)
            try:
                ns = _once(ctx, argv, env, timefile, size, mode != "captured")
            except (procs.Timeout, RuntimeError, OSError, ValueError) as e:
                errors[name] = str(e)
                continue
            rates.setdefault(name, []).append(size / (1 << 20) / (ns * 1e-9))
        procs.sweep()
    ref = rates.get(order[0])
    ref_median = stats.percentile(ref, 50) if ref else None
    for name in order:
        if name in errors:
            result.failed(name, errors[name], mode=modes[name])
            continue
        s = stats.summary(rates[name])
        s["ratio"] = stats.ratio(s["median"], ref_median)
        result.add(name, mode=modes[name], **s)
        if name.startswith("luasup"):
            limit = TARGET_CAPTURED if modes[name] == "captured" else TARGET_INHERIT
            result.target("%s ≥ %.2f× pipe" % (name, limit), s["ratio"],
                          s["ratio"] is not None and s["ratio"] >= limit, limit)
    return result
