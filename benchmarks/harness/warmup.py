"""One untimed start of each Python program the benchmarks run, so the
bytecode cache is filled and the first timed start pays no compiling."""

import subprocess

from . import subjects


def warm_up(ctx):
    ctx.log("warming up the bytecode cache")
    runs = []
    for loop in subjects.LOOPS:
        env = subjects.luasup_env(loop)
        runs.append(([ctx.luasup, "--", "true"], env))
        runs.append((subjects.luasup_script(ctx, loop, "local init = require('init')\n"
                                            "return init.exec('true'):status()\n")[1], env))
        for lua in ([], ["lua"]):
            runs.append(([ctx.python, ctx.floor("startup.py"), loop] + lua + ["--", "true"], None))
        runs.append(([ctx.python, ctx.floor("signal_relay.py"), loop, "true"], None))
    for argv, env in runs:
        subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
