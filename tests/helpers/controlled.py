"""A luasup serving its control socket, `luasup ctl` run against it (from
a pipe or on a pseudo-terminal), and Python environments in which an
optional package is missing or its import is noted."""

import contextlib
import fcntl
import json
import os
import re
import select
import signal
import socket
import struct
import subprocess
import tempfile
import termios
import time

from helpers import DEADLINE, LUASUP, env_for, stop, wait_until
from helpers.supervision import sup_start


@contextlib.contextmanager
def serving(policy, env=None):
    """luasup running `policy` (Lua with init, sup and logs in scope; it
    ends with sup.run()) until the block ends. Yields the Popen once the
    socket answers; what luasup writes on stderr is in errors(proc)."""
    err = tempfile.TemporaryFile("w+")
    proc = sup_start("local logs = require('logs')\n" + policy + "\nreturn sup.run()",
                     env=env, stdout=subprocess.DEVNULL, stderr=err)
    proc.err = err
    try:
        path = (env or os.environ)["LUASUP_CTL"]  # conftest gives each test its own
        wait_until(lambda: _answers(path) or proc.poll() is not None, what="the socket")
        assert proc.poll() is None, errors(proc)
        yield proc
    finally:
        # stopped first, so that it cannot restart a service whose process
        # stop() has just killed (the new one would outlive it)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGSTOP)
        stop(proc)
        err.close()


def errors(proc):
    proc.err.seek(0)
    return proc.err.read()


def _answers(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def ctl(*args, env=None, **kw):
    """`luasup ctl ARGS` to completion: a CompletedProcess with text output."""
    return subprocess.run([LUASUP, "ctl"] + list(args), env=env or env_for(), capture_output=True,
                          text=True, timeout=DEADLINE, **kw)


def services():
    """{name: status} from `ctl --json list`."""
    result = ctl("--json", "list")
    assert result.returncode == 0, result.stderr
    return {s["name"]: s for s in json.loads(result.stdout)["services"]}


def wait_state(name, state):
    """The status of service `name` once it is in `state`."""
    def reached():
        status = services()[name]
        return status if status["state"] == state else None
    return wait_until(reached, what="%s %s" % (name, state))


def wait_restarted(name, old_pid):
    """The status of service `name` once it runs with a pid other than old_pid."""
    def restarted():
        status = services()[name]
        return status if status["state"] == "running" and status["pid"] != old_pid else None
    return wait_until(restarted, what="%s restarted" % name)


def python_env(tmp_path, hide=(), note=()):
    """An env for luasup in which the packages in `hide` cannot be imported
    (as if not installed) and imports of those in `note` are written to the
    file at env['NOTED_IMPORTS']: the submodules that importing the package
    loads (asking whether a package is installed is not noted)."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    noted = tmp_path / "noted-imports"
    (site / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Note:\n"
        "    @staticmethod\n"
        "    def find_spec(name, path=None, target=None):\n"
        "        if '.' in name and name.partition('.')[0] in %r:\n"
        "            with open(%r, 'a') as f:\n"
        "                f.write(name + '\\n')\n"
        "sys.meta_path.insert(0, _Note)\n"
        "for name in %r:\n"
        "    sys.modules[name] = None\n" % (set(note), str(noted), list(hide)))
    return env_for(PYTHONPATH=str(site), NOTED_IMPORTS=str(noted))


def noted_imports(env):
    """The packages whose import was noted (see python_env)."""
    try:
        with open(env["NOTED_IMPORTS"]) as f:
            return sorted({name.partition(".")[0] for name in f.read().split()})
    except FileNotFoundError:
        return []


def _take_terminal():
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """`luasup ctl ARGS` with a pseudo-terminal as stdin, stdout and stderr."""

    def __init__(self, args, env=None, rows=30, cols=120, controlling=False):
        """controlling: the terminal is the process's controlling terminal,
        so that a Ctrl-C sent to it is a SIGINT."""
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = dict(env or env_for())
        env.update(TERM="xterm-256color", COLUMNS=str(cols), LINES=str(rows))
        env.pop("NO_COLOR", None)
        self.proc = subprocess.Popen([LUASUP, "ctl"] + list(args), stdin=slave, stdout=slave,
                                     stderr=slave, env=env, start_new_session=True,
                                     preexec_fn=_take_terminal if controlling else None)
        self.master, self.slave = master, slave  # the slave kept to read its modes
        self.output = b""

    def send(self, data):
        os.write(self.master, data)

    def expect(self, pattern, timeout=DEADLINE):
        """Read until the output since the last match has `pattern` (a regex
        on bytes); the match."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.output)
            if m:
                self.output = self.output[m.end():]
                return m
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                raise AssertionError("no %r within %.0f s; got %r" % (pattern, timeout, self.output))

    def _read(self, timeout):
        if not select.select([self.master], [], [], timeout)[0]:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the other side is closed
            return False
        self.output += data
        return bool(data)

    def interrupt(self):
        self.proc.send_signal(signal.SIGINT)

    def wait(self, timeout=DEADLINE):
        """The exit code, reading what is left meanwhile (a full terminal
        would block the writer)."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.05)
        return self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
        os.close(self.slave)
