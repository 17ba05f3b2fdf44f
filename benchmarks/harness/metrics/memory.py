"""Memory: the init's own PSS, RSS and USS (/proc/PID/smaps_rollup) while
it holds 1 and then K idle children, each set-up measured alone (a second
copy of the same program running beside it would share its pages and
lower its PSS). The ratio is to supervisord holding the same children."""

import time

from .. import procs, procstat, sleepers, stats
from ..result import Column, Result

NAME = "memory"
TARGETS = {1: 22, 100: 26}  # MiB of PSS


def run(ctx):
    result = Result(NAME, "memory", "MiB PSS", [
        Column("children", "children", "%d"), Column("median", "median"),
        Column("p10–p90", "spread"), Column("RSS", "rss"), Column("USS", "uss"),
        Column("× supervisord", "ratio", "%.2f")],
        "the init's proportional set size while holding idle children")
    counts = ctx.pick((1, 100), (1,))
    reps = ctx.pick(3, 1)
    settle = ctx.pick(0.5, 0.1)
    for count in counts:
        samples, errors, order = {}, {}, []
        for rep in range(reps):
            ctx.log("memory: %d children, round %d/%d" % (count, rep + 1, reps))
            for name, argv, env in sleepers.setups(ctx, count):
                if name not in order:
                    order.append(name)
                if name in errors:
                    continue
                r = sleepers.Running(ctx, name, argv, env, count)
                try:
                    r.wait_ready(60)
                    time.sleep(settle)  # let start-up work (imports, GC) finish
                    samples.setdefault(name, []).append(procstat.memory(r.pid))
                except (procs.Timeout, OSError) as e:
                    errors[name] = str(e)
                finally:
                    r.close()
            procs.sweep()
        pss = {n: [m["pss"] / 1024 for m in s] for n, s in samples.items()}
        reference = pss.get("supervisord")
        ref_median = stats.percentile(reference, 50) if reference else None
        for name in order:
            if name in errors:
                result.failed(name, errors[name], children=count)
                continue
            s = stats.summary(pss[name])
            s["ratio"] = stats.ratio(s["median"], ref_median)
            s["rss"] = stats.percentile([m["rss"] / 1024 for m in samples[name]], 50)
            s["uss"] = stats.percentile([m["uss"] / 1024 for m in samples[name]], 50)
            result.add(name, children=count, **s)
            limit = TARGETS.get(count)
            if name.startswith("luasup") and limit is not None:
                result.target("%s, %d children: PSS ≤ %d MiB" % (name, count, limit),
                              s["median"], s["median"] <= limit, limit)
    result.notes.append("PSS shares pages with every other process mapping them (other "
                        "Python processes on the machine too); RSS and USS bracket it.")
    return result
