"""Start-up: wall time of `INIT -- true` and of a script that execs `true`,
from spawn to exit, timed by a C loop (spawntime) so no Python start-up is
in the clock but the subject's own.

The floors are Python programs that do the same job with nothing
luasup-specific: asyncio and the loop (floors/startup.py), and for scripts
the same plus a LuaJIT runtime. They are what the design cannot go below."""

import subprocess

from .. import procs, stats, subjects
from ..result import Column, Result

NAME = "startup"
TARGET = 1.1
NO_PYC = "%s, no .pyc"


def _floor(ctx, loop, lua):
    options = [loop] + (["lua"] if lua else [])
    name = "floor: python + %s%s" % (loop, " + LuaJIT" if lua else "")
    return name, [ctx.python, ctx.floor("startup.py")] + options + ["--", "true"], None


def _as_found(ctx, loop):
    """The environment the harness was started in, bytecode settings and all."""
    env = dict(ctx.env_as_found)
    env["LUASUP_LOOP"] = loop
    return env


def _subjects(ctx):
    """(name, argv, env, name of its floor or None)"""
    for init in subjects.wrappers(ctx):
        floor = None
        for loop in subjects.LOOPS:
            if init.name == "luasup -- (%s)" % loop:
                floor = _floor(ctx, loop, False)[0]
        yield init.name, init.outside(["true"]), init.env, floor
    for loop in subjects.LOOPS:
        name, argv, env = subjects.luasup_script(
            ctx, loop, "local init = require('init')\n"
            "return init.exec('true'):status()\n")
        yield name, argv, env, _floor(ctx, loop, True)[0]
    if ctx.env_as_found.get("PYTHONDONTWRITEBYTECODE"):
        # no .pyc for an editable install: every start compiles luasup
        yield (NO_PYC % "luasup -- (uvloop)", [ctx.luasup, "--", "true"],
               _as_found(ctx, "uvloop"), _floor(ctx, "uvloop", False)[0])
        name, argv, _ = subjects.luasup_script(
            ctx, "uvloop", "local init = require('init')\n"
            "return init.exec('true'):status()\n")
        yield NO_PYC % name, argv, _as_found(ctx, "uvloop"), _floor(ctx, "uvloop", True)[0]
    for loop in subjects.LOOPS:
        for lua in (False, True):
            yield _floor(ctx, loop, lua) + (None,)


def _times(ctx, argv, env, count):
    done = subprocess.run([ctx.bins["spawntime"], str(count)] + argv, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=30 + 5 * count)
    lines = [l.split() for l in done.stdout.splitlines()]
    if done.returncode != 0 or len(lines) != count:
        raise RuntimeError("spawntime failed: %s" % done.stderr.strip()[-300:])
    bad = [status for _, status in lines if status != "0"]
    if bad:
        raise RuntimeError("exit status %s" % bad[0])
    return [int(ns) for ns, _ in lines]


def run(ctx):
    result = Result(NAME, "start-up", "ms", [
        Column("median", "median"), Column("p10–p90", "spread"),
        Column("floor", "floor", "%s"), Column("× floor", "ratio", "%.2f"),
        Column("runs", "n", "%d")],
        "spawn to exit of `INIT -- true` / a script execing true")
    rounds, per_round = ctx.pick((6, 5), (1, 2))
    samples, errors, floors, order = {}, {}, {}, []
    for r in range(rounds):
        ctx.log("start-up: round %d/%d" % (r + 1, rounds))
        for name, argv, env, floor in _subjects(ctx):
            if name not in order:
                order.append(name)
            floors[name] = floor
            if name in errors:
                continue
            try:
                samples.setdefault(name, []).extend(_times(ctx, argv, env, per_round))
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                errors[name] = str(e)
    procs.sweep()
    medians = {n: stats.percentile(s, 50) * 1e-6 for n, s in samples.items()}
    for name in order:
        if name in errors:
            result.failed(name, errors[name])
            continue
        s = stats.summary(samples[name], 1e-6)
        floor = floors[name]
        s["ratio"] = stats.ratio(s["median"], medians.get(floor)) if floor else None
        result.add(name, floor=floor, **s)
        if floor and not name.endswith(NO_PYC % ""):
            result.target("%s ≤ %.1f× %s" % (name, TARGET, floor), s["ratio"],
                          s["ratio"] is not None and s["ratio"] <= TARGET, TARGET)
    result.notes.append("not PID 1 (tini runs with -s); supervisord is absent: it "
                        "never exits on its own.")
    result.notes.append("every Python here runs with a warm bytecode cache (as an "
                        "installed luasup would); `no .pyc` rows use the environment "
                        "as found (PYTHONDONTWRITEBYTECODE=1, editable install) and "
                        "are not held to the target.")
    return result
