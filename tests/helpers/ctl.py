"""A policy run by the real luasup with its control socket, and `luasup ctl`
run against it (as root, or as another user through setpriv).

Each `Policy` writes its Lua to a file in its own directory, sends luasup's
output to files there (nothing to drain, and a test can read it at any
time) and serves the socket at the path it is given."""

import json
import os
import signal
import subprocess

from helpers import DEADLINE, LUASUP, command, env_for, luasup_pid, stop, wait_until

# `init`, `sup` and `logs` in scope; a ring that `ctl logs` reads, and the
# console as well, so luasup's own lines still reach its stderr.
HEAD = """local init = require('init')
local sup = require('supervise')
local logs = require('logs')
local ring = logs.ring{lines = 2000}
logs.route{to = {logs.console{}, ring}}
local function exists(path)
    local f = io.open(path)
    if f then f:close() end
    return f ~= nil
end
"""


def as_user(uid, gid=None):
    """The argv prefix that runs a command as uid (a number or a name).
    It keeps CAP_DAC_READ_SEARCH, to reach a luasup installed where only
    root may look (a Python under /root): it lets it read and search, not
    write, so connecting to a socket of mode 0600 is still refused."""
    return ["setpriv", "--reuid=%s" % uid, "--regid=%s" % (uid if gid is None else gid),
            "--clear-groups", "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]


NOBODY = as_user("nobody", "nogroup")


def ctl(socket, *args, user=None, env=None, timeout=DEADLINE):
    """Run `luasup ctl` to completion; socket None: the client finds it
    itself. user: an argv prefix (NOBODY, as_user(uid))."""
    argv = [LUASUP, "ctl"] + (["--socket", socket] if socket else []) + [str(a) for a in args]
    # cwd /: another user may not enter the test's temporary directory
    return subprocess.run((user or []) + argv, capture_output=True, text=True, timeout=timeout,
                          env=env or env_for(), cwd="/")


def lines(path):
    """The lines of a file a child writes, none while it does not exist."""
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def one_line_error(result, code, text=None):
    """Assert the client failed with `code` and one stderr line
    `luasup ctl: ...` (containing text)."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    err = result.stderr.splitlines()
    assert len(err) == 1 and err[0].startswith("luasup ctl: "), result.stderr
    if text is not None:
        assert text in err[0], result.stderr
    return err[0]


class Policy:
    """`luasup POLICY` (HEAD + body), serving its control socket at `socket`
    (passed as LUASUP_CTL unless env says otherwise)."""

    def __init__(self, body, directory, socket=None, pidns=False, env=None, head=HEAD, luasup=LUASUP):
        """luasup: the command that starts luasup (a re-exec runs it again)."""
        self.directory = str(directory)
        self.socket = socket or os.path.join(self.directory, "ctl.sock")
        self.script = os.path.join(self.directory, "policy.lua")
        with open(self.script, "w") as f:
            f.write(head + body)
        self.env = env or env_for(LUASUP_CTL=self.socket)
        self.out = open(os.path.join(self.directory, "luasup.out"), "w")
        self.err_path = os.path.join(self.directory, "luasup.err")
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen(command([self.script], pidns, luasup), env=self.env,
                                     stdout=self.out, stderr=self.err, text=True)
        self.pid = luasup_pid(self.proc, pidns)

    def path(self, name):
        return os.path.join(self.directory, name)

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def ctl(self, *args, **kw):
        return ctl(self.socket, *args, **kw)

    def json(self, *args):
        """The --json result of a command that must succeed."""
        result = self.ctl("--json", *args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return json.loads(result.stdout)

    def wait_serving(self):
        """Wait until `ctl list` answers: the socket is served."""
        wait_until(lambda: os.path.exists(self.socket) or self.proc.poll() is not None,
                   what="the control socket at %s" % self.socket)
        wait_until(lambda: self.ctl("list").returncode == 0 or self.proc.poll() is not None,
                   what="`luasup ctl list` to answer")
        assert self.proc.poll() is None, self.stderr()
        return self

    def status(self, name):
        return self.json("status", name)

    def wait_state(self, name, state):
        """The status of name once it is in state."""
        return wait_until(lambda: (lambda st: st if st["state"] == state else None)(self.status(name)),
                          what="%s to be %s" % (name, state))

    def follow(self, *args):
        """A `luasup ctl ARGS` that keeps running (logs -f, events): a Popen
        whose stdout is a pipe."""
        return subprocess.Popen([LUASUP, "ctl", "--socket", self.socket] + list(args),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(),
                                cwd="/")

    def terminate(self):
        """SIGTERM luasup; its exit code."""
        os.kill(self.pid, signal.SIGTERM)
        return self.proc.wait(timeout=DEADLINE)

    def close(self):
        """luasup and everything under it gone, whatever state it is in."""
        if self.proc.poll() is None:
            # stopped first, so that it cannot restart a service whose
            # process stop() has just killed (the new one would outlive it)
            os.kill(self.pid, signal.SIGSTOP)
        stop(self.proc)
        self.out.close()
        self.err.close()

    def __enter__(self):
        try:
            return self.wait_serving()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc):
        self.close()
