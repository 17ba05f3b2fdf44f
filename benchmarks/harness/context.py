"""What every metric is given: the helpers, where luasup is, a scratch
directory, and whether this is the quick smoke run."""

import itertools
import os
import shutil
import sys

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLOORS = os.path.join(BENCH_DIR, "floors")


def find_luasup():
    # The console script beside this interpreter, not a version manager's
    # shim: a shim is a shell script that would add its own start-up time.
    beside = os.path.join(os.path.dirname(sys.executable), "luasup")
    if os.access(beside, os.X_OK):
        return beside
    found = shutil.which("luasup")
    if found is None:
        raise SystemExit("luasup is not installed: pip install -e .")
    return found


class Context:
    def __init__(self, quick, bins, tmpdir, log, env_as_found):
        self.quick = quick
        self.env_as_found = env_as_found
        self.bins = bins
        self.tmpdir = tmpdir
        self.log = log
        self.luasup = find_luasup()
        self.python = sys.executable
        self._names = itertools.count(1)

    def pick(self, full, quick):
        return quick if self.quick else full

    def path(self, stem):
        """A fresh path in the scratch directory."""
        return os.path.join(self.tmpdir, "%s-%d" % (stem, next(self._names)))

    def floor(self, name):
        return os.path.join(FLOORS, name)
