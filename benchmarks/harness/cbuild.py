"""Compiles the C helpers in benchmarks/csrc at run time (never committed as
binaries): the reference programs, and the loads whose own cost a Python
helper would add to what is measured."""

import os
import shutil
import subprocess

CSRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "csrc")


class BuildError(Exception):
    pass


def build(outdir):
    """{name: path} of every helper, compiled into outdir."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise BuildError("no C compiler: apt-get install -y gcc")
    bins = {}
    for source in sorted(os.listdir(CSRC)):
        if not source.endswith(".c"):
            continue
        name = source[:-2]
        out = os.path.join(outdir, name)
        result = subprocess.run([cc, "-O2", "-Wall", "-o", out, os.path.join(CSRC, source)],
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise BuildError("%s: %s" % (source, result.stderr.strip()))
        bins[name] = out
    return bins
