#!/usr/bin/env python3
"""Stress luasup with the floods, races and abuse that found its defects,
and report what went wrong (hangs, wrong exit codes, leftovers, tracebacks,
growth) with the times measured.

    python3 benchmarks/stress.py [--quick] [--only NAME[,NAME...]] [--json FILE]
                                 [--results] [--before FILE]

Every run is bounded in count and time; whatever is left is killed. Needs
root (PID namespaces) and gcc. See benchmarks/README.md."""

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

from harness import cbuild, procs  # noqa: E402
from harness.context import Context  # noqa: E402
from harness.stress import BY_NAME  # noqa: E402
from harness.stress.outcome import Row, table  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "RESULTS.md")
BEGIN, END = "<!-- stress results: begin -->", "<!-- stress results: end -->"


def _revision():
    repo = os.path.dirname(HERE)
    try:
        head = subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--", "luasup"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head + (" + uncommitted changes in luasup/" if dirty else "")


def section(meta, rows, before=None):
    """The RESULTS.md section for a run: its meta and data() rows, and
    optionally an earlier run's JSON for the `before` column."""
    lines = [BEGIN, "## Stress harness%s — %s" % (" (quick)" if meta["quick"] else "",
                                                  meta["date"]), ""]
    lines.append("`python3 benchmarks/stress.py%s` at revision %s; %s, %d CPUs, Linux %s; "
                 "took %.0f s. Every count but `runs` should be 0."
                 % (" --quick" if meta["quick"] else "", meta["revision"], meta["cpu"],
                    meta["cpus"], meta["kernel"], meta["seconds"]))
    if before is not None:
        lines.append("`before`: %s (revision %s)." % (before["meta"]["date"],
                                                      before["meta"]["revision"]))
    lines += ["", table(rows, before and before["rows"]), ""]
    notes = ["- %s, %s: %s" % (r["scenario"], r["case"], "; ".join(r["notes"][:5]))
             for r in rows if r["notes"]]
    if notes:
        lines += notes + [""]
    lines.append(END)
    return "\n".join(lines)


def write_results(text):
    """Put this run's section into RESULTS.md in place of the last one (or
    at its end); the rest of the file stays as it is."""
    with open(RESULTS) as f:
        current = f.read()
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        current = head + text + rest.split(END, 1)[1]
    else:
        current = current.rstrip("\n") + "\n\n" + text + "\n"
    with open(RESULTS, "w") as f:
        f.write(current)


def _cpu():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small counts: every scenario in seconds (the test suite's run)")
    parser.add_argument("--only", default="", help="comma-separated: " + ", ".join(BY_NAME))
    parser.add_argument("--json", help="write every count and figure here")
    parser.add_argument("--results", action="store_true",
                        help="write the table into benchmarks/RESULTS.md (its own section)")
    parser.add_argument("--before", help="an earlier --json file: its findings in a column")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args()

    names = [n for n in args.only.split(",") if n] or list(BY_NAME)
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        parser.error("unknown scenario %s (known: %s)" % (", ".join(unknown), ", ".join(BY_NAME)))
    if os.geteuid() != 0:
        sys.exit("the stress harness needs root: PID namespaces")
    before = None
    if args.before:
        with open(args.before) as f:
            before = json.load(f)

    procs.become_subreaper()
    tmpdir = tempfile.mkdtemp(prefix="luasup-stress-")
    started = time.monotonic()

    def log(text):
        sys.stderr.write("[%5.1fs] %s\n" % (time.monotonic() - started, text))
        sys.stderr.flush()

    rows = []
    try:
        # .pyc in a scratch cache, as an installed luasup has them: start-up
        # times (and so the early-signal window) are those of a real install
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = os.path.join(tmpdir, "pycache")
        ctx = Context(args.quick, cbuild.build(tmpdir), tmpdir, log, dict(os.environ))
        subprocess.run([ctx.luasup, "-e", "return 0"], timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for name in names:
            log("%s" % name)
            t0 = time.monotonic()
            try:
                found = BY_NAME[name].run(ctx)
            except Exception as e:  # a broken scenario is reported, the others still run
                row = Row(BY_NAME[name].NAME, "—")
                row.error = "%s: %s" % (type(e).__name__, e)
                found = [row]
            finally:
                procs.sweep()
            rows += found
            log("%s: %d problems, %.1f s" % (name, sum(r.problems for r in found),
                                             time.monotonic() - t0))
    finally:
        procs.sweep()
        if args.keep:
            log("scratch directory kept: %s" % tmpdir)
        else:
            shutil.rmtree(tmpdir, ignore_errors=True)

    meta = {"date": datetime.date.today().isoformat(), "quick": args.quick,
            "revision": _revision(), "cpu": _cpu(), "cpus": os.cpu_count(),
            "kernel": platform.release(), "seconds": round(time.monotonic() - started, 1),
            "scenarios": names}
    data = [r.data() for r in rows]
    text = section(meta, data, before)
    print(text.split("\n", 1)[1].rsplit("\n", 1)[0])
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": data}, f, indent=1)
        log("wrote %s" % args.json)
    if args.results:
        write_results(text)
        log("wrote the stress section of %s" % RESULTS)
    problems = sum(r.problems for r in rows)
    log("%d problems" % problems)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
