"""Starting, finding and ending processes, with every wait bounded.

The harness makes itself a child subreaper: whatever an init under test
leaves behind is reparented here, where `sweep` kills and reaps it, so no
benchmark outlives its measurement."""

import ctypes
import os
import signal
import subprocess
import time

_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def table():
    """{pid: (state, ppid, comm)} for every process, from one pass over /proc."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "rb") as f:
                data = f.read()
        except OSError:
            continue
        close = data.rindex(b")")
        fields = data[close + 2:].split(None, 2)
        comm = data[data.index(b"(") + 1:close].decode("utf-8", "replace")
        out[int(entry)] = (fields[0].decode(), int(fields[1]), comm)
    return out


def children(pid, procs=None):
    procs = table() if procs is None else procs
    return [p for p, (_, ppid, _) in procs.items() if ppid == pid]


def descendants(pid, procs=None):
    procs = table() if procs is None else procs
    by_parent = {}
    for p, (_, ppid, _) in procs.items():
        by_parent.setdefault(ppid, []).append(p)
    found, todo = [], [pid]
    while todo:
        for child in by_parent.get(todo.pop(), ()):
            found.append(child)
            todo.append(child)
    return found


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return data[data.rindex(b")") + 2:][:1] != b"Z"


class Timeout(Exception):
    pass


def wait_until(predicate, timeout, what, interval=0.005):
    """predicate()'s first truthy value; Timeout once `timeout` s have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Timeout("no %s within %.0f s" % (what, timeout))
        time.sleep(interval)
        interval = min(interval * 2, 0.05)


def in_pidns(argv):
    """argv as PID 1 of a fresh PID namespace. --kill-child ties the
    namespace to unshare: killing unshare takes down everything inside."""
    return ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"] + list(argv)


def pidns_init(proc, timeout=10):
    """The host pid of the PID 1 that `unshare` (proc) started."""
    return wait_until(lambda: (children(proc.pid) or [None])[0], timeout,
                      "process inside the PID namespace")


def kill_tree(pid, procs=None):
    for p in descendants(pid, procs) + [pid]:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


def sweep():
    """Kill and reap every child of the harness. Only call it when no
    Popen of the harness is still running (it would reap that one too)."""
    for _ in range(5):
        snapshot = table()  # one pass over /proc: thousands of strays happen
        strays = children(os.getpid(), snapshot)
        if not strays:
            return
        for pid in strays:
            kill_tree(pid, snapshot)
        for pid in strays:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


class Launch:
    """A Popen that is killed, with its whole tree, when the block ends.

    stderr goes to a file, so a failure can say what the init said; or,
    given `stderr` (an fd), there, and errfile is not written."""

    def __init__(self, argv, errfile, env=None, stdin=subprocess.DEVNULL,
                 stdout=subprocess.DEVNULL, stderr=None):
        self.errfile = errfile
        if stderr is not None:
            self.proc = subprocess.Popen(argv, env=env, stdin=stdin, stdout=stdout,
                                         stderr=stderr, start_new_session=True)
        else:
            with open(errfile, "wb") as err:
                self.proc = subprocess.Popen(argv, env=env, stdin=stdin, stdout=stdout,
                                             stderr=err, start_new_session=True)
        self.pid = self.proc.pid

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Timeout("still running after %.0f s" % timeout) from None

    def close(self):
        if self.proc.poll() is None:
            kill_tree(self.proc.pid)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass

    def stderr_tail(self, limit=400):
        try:
            with open(self.errfile, "rb") as f:
                text = f.read().decode("utf-8", "replace").strip()
        except OSError:
            return ""
        return text[-limit:]
