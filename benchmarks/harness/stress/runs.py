"""Bounded runs of luasup for the stress scenarios: every wait has a
deadline, whatever is left is killed, and stderr is kept to look for
tracebacks."""

import os
import select
import signal
import time

from .. import procs, subjects

# What luasup's stderr must never hold: a Python traceback (KeyboardInterrupt
# included), libuv's assertion, a crash.
CRASH_MARKS = ("Traceback (most recent call last)", "KeyboardInterrupt", "Assertion",
               "Segmentation fault", "core dumped", "Fatal Python error")


def crashed(text):
    return any(mark in text for mark in CRASH_MARKS)


def env(**extra):
    out = subjects.luasup_env("uvloop")
    out.update({k: str(v) for k, v in extra.items()})
    return out


def script(ctx, source):
    path = ctx.path("stress") + ".lua"
    with open(path, "w") as f:
        f.write(source)
    return path


def finish(launch, timeout):
    """luasup's exit code, or None (and the whole tree killed) when it has
    not exited within timeout seconds."""
    try:
        return launch.wait(timeout)
    except procs.Timeout:
        launch.close()
        return None


def stop(launch, timeout, signo=signal.SIGTERM):
    """Send signo; (exit code or None, seconds until it exited)."""
    sent = time.monotonic()
    try:
        os.kill(launch.pid, signo)
    except ProcessLookupError:
        pass
    code = finish(launch, timeout)
    return code, time.monotonic() - sent


def stderr_of(launch):
    try:
        with open(launch.errfile, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def lines(stream, deadline):
    """The lines (bytes) of a pipe until its end or the time.monotonic()
    deadline, whichever comes first."""
    fd, pending = stream.fileno(), b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return
        data = os.read(fd, 65536)
        if not data:
            if pending:
                yield pending
            return
        pending += data
        *complete, pending = pending.split(b"\n")
        yield from complete


def alive(pids):
    return [p for p in pids if procs.alive(p)]


def kill(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def status_kib(pid, field):
    """A KiB field of /proc/PID/status (b"VmRSS:"), or None once pid is gone."""
    try:
        with open("/proc/%d/status" % pid, "rb") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_kib(pid):
    return status_kib(pid, b"VmRSS:")


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def median(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
