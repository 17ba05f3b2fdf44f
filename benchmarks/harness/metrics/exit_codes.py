"""Exit-code propagation: does the init exit with its child's code, 128+N
when the child died of signal N, and 128+N when the init itself was sent
SIGTERM or SIGINT (which it relays, and the child dies of)?

Each init runs as PID 1 of a fresh PID namespace, as in a container; the
code is what `unshare` passes on from it. supervisord does not exit when
its program does, so it is only asked the signal cases."""

import os
import signal

from .. import procs, subjects
from ..result import Column, Result

NAME = "exit_codes"

CASES = [
    ("exit 0", ["code", "0"], None, 0),
    ("exit 7", ["code", "7"], None, 7),
    ("child SIGKILLed", ["signal", str(int(signal.SIGKILL))], None, 128 + signal.SIGKILL),
    ("SIGTERM to init", ["wait"], signal.SIGTERM, 128 + signal.SIGTERM),
    ("SIGINT to init", ["wait"], signal.SIGINT, 128 + signal.SIGINT),
]


# Cases that do not apply: supervisord keeps running when its program
# exits; a script decides its own code, and `return child:status()` gives 9
# for a SIGKILLed child by the luavisors convention.
_SUPERVISOR_NA = {"exit 0", "exit 7", "child SIGKILLed"}
_SCRIPT_NA = {"child SIGKILLed"}


def _subjects(ctx):
    """(name, cmd -> (argv, env), cases that do not apply)"""
    for init in subjects.wrappers(ctx):
        yield init.name, (lambda cmd, init=init: (init.argv(cmd), init.env)), set()
    for loop in subjects.LOOPS:
        def script(cmd, loop=loop):
            _, argv, env = subjects.luasup_script(
                ctx, loop, "local init = require('init')\n"
                "return init.exec(%s):status()\n" % ", ".join(map(subjects.lua_string, cmd)))
            return argv, env
        yield "luasup script (%s)" % loop, script, _SCRIPT_NA
    if not ctx.quick:  # its 1-s loop tick would dominate a smoke run
        yield "supervisord", (lambda cmd: subjects.supervisord(ctx, cmd)[1:]), _SUPERVISOR_NA


def _case(ctx, build, args, sig):
    ready = ctx.path("ready")
    cmd = [ctx.bins["exiter"]] + args + ([ready] if args == ["wait"] else [])
    argv, env = build(cmd)
    with procs.Launch(procs.in_pidns(argv), ctx.path("err"), env=env) as run:
        if sig is not None:
            init = procs.pidns_init(run.proc)
            procs.wait_until(lambda: os.path.exists(ready), 20, "ready child")
            os.kill(init, sig)
        code = run.wait(30)
    # unshare re-raises a signal that killed the init: say so, it is no code
    return code if code >= 0 else "killed by %s" % signal.Signals(-code).name


def run(ctx):
    columns = [Column(name, name, "%s") for name, _, _, _ in CASES]
    columns.append(Column("correct", "correct", "%s"))
    result = Result(NAME, "exit-code propagation", "exit code", columns,
                    "the init's exit code for each way its child ends")
    for name, build, not_applicable in _subjects(ctx):
        ctx.log("exit codes: %s" % name)
        row = {}
        right = total = 0
        for case, args, sig, expected in CASES:
            if case in not_applicable:
                row[case] = "n/a"
                continue
            try:
                got = _case(ctx, build, args, sig)
            except (procs.Timeout, OSError) as e:
                got = "failed: %s" % e
            total += 1
            right += got == expected
            row[case] = got if got == expected else "%s ≠ %d" % (got, expected)
        procs.sweep()
        added = result.add(name, correct="%d/%d" % (right, total), right=right, total=total,
                           **row)
        if name.startswith("luasup"):
            result.target("%s: every code right" % name, right, right == total, total)
    result.notes.append("n/a: supervisord keeps running when its program exits; a "
                        "luasup script decides its own code (`return child:status()` "
                        "gives 9 for SIGKILL, by the luavisors convention).")
    return result
