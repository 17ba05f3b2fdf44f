"""Installations of luasup side by side, for re-exec tests: what
`pip install -U luasup` does to a virtualenv, made cheaply.

The old installation is the one under test: its console script, LUASUP.
Each newer one is a copy of its package (luasup/, the Lua library with it)
in a directory of its own, with its own `__version__` and any edits a test
makes, and a launcher script: `#!PYTHON` (this venv's interpreter, so lupa
and uvloop are those installed), the copy first on sys.path, then
`luasup.early.main()` as the console script does. INSTALLS/bin/luasup is a
symlink to the installation "installed now": luasup is started through it,
so its `sys.argv[0]`, the command a re-exec runs again, is that path, and
re-pointing the symlink is the upgrade. Not simulated: pip itself, and a
second interpreter or set of dependencies (all share this venv's)."""

import os
import re
import shutil
import sys

from helpers import LUASUP, REPO

PACKAGE = os.path.join(REPO, "luasup")
# the version of the package under test, read from it (never imported here)
__version__ = re.search(r'__version__ = "(.*)"', open(os.path.join(PACKAGE, "__init__.py")).read()).group(1)


class Installs:
    """INSTALLS/bin/luasup, the installation under test until use() says
    otherwise."""

    def __init__(self, directory):
        self.directory = str(directory)
        self.launchers = {"installed": LUASUP}
        os.makedirs(os.path.join(self.directory, "bin"))
        self.luasup = os.path.join(self.directory, "bin", "luasup")
        self.use("installed")

    def add(self, name, version, edits=()):
        """Installation `name` of luasup `version`: `edits` are (path
        inside the package, old text, new text), each old text present."""
        root = os.path.join(self.directory, name)
        package = os.path.join(root, "luasup")
        # compiled modules too: the ones edited are compiled again (their
        # mtime changed), the others need not be at each start
        shutil.copytree(PACKAGE, package)
        edits = [("__init__.py", '__version__ = "%s"' % __version__, '__version__ = "%s"' % version)] \
            + list(edits)
        for path, old, new in edits:
            path = os.path.join(package, path)
            with open(path) as f:
                text = f.read()
            assert old in text, (path, old)
            with open(path, "w") as f:
                f.write(text.replace(old, new, 1))
        launcher = os.path.join(root, "luasup-launcher")
        with open(launcher, "w") as f:
            f.write("#!%s\nimport sys\nsys.path.insert(0, %r)\nfrom luasup.early import main\nmain()\n"
                    % (sys.executable, root))
        os.chmod(launcher, 0o755)
        self.launchers[name] = launcher

    def use(self, name):
        """Make installation `name` ('installed': the one under test) the
        one bin/luasup runs (a rename: never a moment without bin/luasup)."""
        new = self.luasup + ".new"
        os.symlink(self.launchers[name], new)
        os.replace(new, self.luasup)
