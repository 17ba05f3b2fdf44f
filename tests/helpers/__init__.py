"""Small helpers so each test reads as the scenario it checks: run the real
`luasup` binary (optionally as PID 1 of a fresh PID namespace), wait for
conditions with a deadline, and look at process trees through /proc."""

import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LUA_EXAMPLES = os.path.join(REPO, "lua")
PY = sys.executable
# The console script beside this Python, not a version manager's shim
# (which would add its own start-up cost to every run).
_beside = os.path.join(os.path.dirname(sys.executable), "luasup")
LUASUP = _beside if os.access(_beside, os.X_OK) else (shutil.which("luasup") or "luasup")
LOOPS = ["uvloop", "asyncio"]
DEADLINE = 30.0


def helper(name):
    """Path of a helper program in this package (run with PY)."""
    return os.path.join(HERE, name)


def env_for(loop="uvloop", **extra):
    env = dict(os.environ)
    env["LUASUP_LOOP"] = loop
    env.pop("LUASUP_LOG_LEVEL", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def command(args, pidns=False, luasup=LUASUP):
    """The argv that runs luasup (the command `luasup`), as PID 1 of a new
    PID namespace if pidns."""
    argv = [luasup] + list(args)
    if pidns:
        argv = ["unshare", "--pid", "--fork", "--mount-proc"] + argv
    return argv


def run(args, pidns=False, loop="uvloop", timeout=DEADLINE, env=None, **kw):
    """Run luasup to completion; a CompletedProcess with text output."""
    return subprocess.run(command(args, pidns), env=env or env_for(loop),
                          capture_output=True, text=True, timeout=timeout, **kw)


def start(args, pidns=False, loop="uvloop", env=None, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(command(args, pidns), env=env or env_for(loop), text=True, **kw)


def wait_until(predicate, timeout=DEADLINE, what="condition"):
    """Poll predicate until it returns something truthy; fail at the deadline."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def stat(pid):
    """(state, ppid, pgid) of pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()
    return fields[0].decode(), int(fields[1]), int(fields[2])


def children(ppid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            s = stat(int(entry))
            if s and s[1] == ppid:
                found.append(int(entry))
    return found


def descendants(pid):
    """Every process below pid (pid itself excluded)."""
    out, todo = [], [pid]
    by_parent = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            s = stat(int(entry))
            if s:
                by_parent.setdefault(s[1], []).append(int(entry))
    while todo:
        for child in by_parent.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def zombies(pids):
    return [p for p in pids if (stat(p) or ("?",))[0] == "Z"]


def luasup_pid(proc, pidns):
    """The host pid of the luasup process behind a Popen from start()."""
    if not pidns:
        return proc.pid
    return wait_until(lambda: (children(proc.pid) or [None])[0], what="luasup under unshare")


def read_line(stream, timeout=DEADLINE):
    """One line from a pipe, failing at the deadline rather than hanging.
    Reads a byte at a time from the fd, so nothing sits in a buffer where
    select() cannot see it."""
    import select
    fd = stream.fileno()
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError("no complete line within %.0f s (got %r)" % (timeout, line))
        byte = os.read(fd, 1)
        if not byte:
            break
        line += byte
    return line.decode()


def stop(proc):
    """Make sure a Popen'd luasup and everything under it is gone."""
    if proc.poll() is None:
        for pid in descendants(proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        proc.kill()
    proc.wait(timeout=DEADLINE)


def terminate(proc, timeout=DEADLINE):
    """SIGTERM a Popen'd luasup (if it still runs), let it stop as it does,
    and make sure it and everything under it is gone; its (stdout, stderr)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=timeout)
    finally:
        stop(proc)


def lua_quote(text):
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
