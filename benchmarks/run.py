#!/usr/bin/env python3
"""Run luasup's benchmarks beside tini, dumb-init, catatonit, supervisord,
s6 and runit, print the tables and write the numbers as JSON.

    python3 benchmarks/run.py [--quick] [--only NAME[,NAME...]] [--json FILE]

Needs root (PID namespaces), gcc, taskset, unshare and the peers; what is
missing is installed first by benchmarks/setup.sh. See benchmarks/README.md."""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import cbuild, procs, report  # noqa: E402
from harness.context import Context  # noqa: E402
from harness.warmup import warm_up  # noqa: E402
from harness.metrics import ALL, BY_NAME  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SETUP = os.path.join(HERE, "setup.sh")
OUT = os.path.join(HERE, "out")  # ignored by git
PEERS = ["tini", "dumb-init", "catatonit", "supervisord", "s6-svscan", "runsv"]
TOOLS = ["gcc", "taskset", "unshare", "bash", "sh", "sleep"]


def _package(name):
    """A Debian package's version: s6 and runit programs print none."""
    return _version(["dpkg-query", "-W", "-f", "${Version}", name])


def _version(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else None


def _revision():
    """The commit luasup was measured at, and whether luasup/ had edits."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    head = _version(["git", "-C", repo, "rev-parse", "--short", "HEAD"])
    dirty = _version(["git", "-C", repo, "status", "--porcelain", "--", "luasup"])
    return "%s%s" % (head, " + uncommitted changes in luasup/" if dirty else "")


def _bytecode_cache(tmpdir):
    """Every Python the benchmarks start (luasup, the floors) reads and
    writes its .pyc under one scratch prefix, as an installed luasup would
    have them: with PYTHONDONTWRITEBYTECODE set and an editable install,
    each start would otherwise compile luasup's modules from source and
    measure the compiler. The environment as found is kept for the one
    start-up row that shows what that costs."""
    found = dict(os.environ)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = os.path.join(tmpdir, "pycache")
    return found


def _meta(ctx, quick):
    with open("/proc/cpuinfo") as f:
        models = [l.split(":", 1)[1].strip() for l in f if l.startswith("model name")]
    import lupa
    import uvloop
    return {
        "date": datetime.date.today().isoformat(),
        "quick": quick,
        "cpus": os.cpu_count(),
        "cpu": models[0] if models else platform.processor(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "uvloop": uvloop.__version__,
        "lupa": lupa.__version__,
        "luasup": _version([ctx.luasup, "--version"]),
        "revision": _revision(),
        "env_as_found": {k: ctx.env_as_found[k] for k in ("PYTHONDONTWRITEBYTECODE",)
                         if k in ctx.env_as_found},
        "tini": _version(["tini", "--version"]),
        "dumb-init": _version(["dumb-init", "--version"]),
        "catatonit": _version(["catatonit", "--version"]),
        "supervisord": _version(["supervisord", "--version"]),
        "s6": _package("s6"),
        "runit": _package("runit"),
        "loadavg": open("/proc/loadavg").read().split()[:3],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes: a smoke run of every metric in seconds")
    parser.add_argument("--only", default="",
                        help="comma-separated metrics: " + ", ".join(BY_NAME))
    parser.add_argument("--json", default=os.path.join(OUT, "results.json"),
                        help="where the numbers go (default: benchmarks/out/results.json)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args()

    names = [n for n in args.only.split(",") if n] or [m.NAME for m in ALL]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        parser.error("unknown metric %s (known: %s)" % (", ".join(unknown), ", ".join(BY_NAME)))
    if os.geteuid() != 0:
        sys.exit("the benchmarks need root: PID namespaces (unshare --pid)")
    missing = [t for t in PEERS + TOOLS if shutil.which(t) is None]
    if missing:
        sys.stderr.write("installing what is missing (%s)\n" % " ".join(missing))
        subprocess.run(["sh", SETUP], check=False, timeout=900)
        missing = [t for t in PEERS + TOOLS if shutil.which(t) is None]
        if missing:
            sys.exit("still missing: %s" % " ".join(missing))

    procs.become_subreaper()
    tmpdir = tempfile.mkdtemp(prefix="luasup-bench-")
    started = time.monotonic()

    def log(text):
        sys.stderr.write("[%5.1fs] %s\n" % (time.monotonic() - started, text))
        sys.stderr.flush()

    try:
        env_as_found = _bytecode_cache(tmpdir)
        ctx = Context(args.quick, cbuild.build(tmpdir), tmpdir, log, env_as_found)
        warm_up(ctx)
        out = {"meta": _meta(ctx, args.quick), "metrics": {}}
        print(report.header(out["meta"]) + "\n", flush=True)
        results = []
        for name in names:
            t0 = time.monotonic()
            result = BY_NAME[name].run(ctx)
            result.notes.append("took %.1f s." % (time.monotonic() - t0))
            results.append(result)
            out["metrics"][name] = result.data()
            print(report.metric_table(result) + "\n", flush=True)
        out["meta"]["seconds"] = round(time.monotonic() - started, 1)
        out["meta"]["loadavg_after"] = open("/proc/loadavg").read().split()[:3]
        print(report.targets_table(results))
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
        log("wrote %s" % args.json)
    finally:
        procs.sweep()
        if args.keep:
            log("scratch directory kept: %s" % tmpdir)
        else:
            shutil.rmtree(tmpdir, ignore_errors=True)


if __name__ == "__main__":
    main()
