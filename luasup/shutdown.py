"""The final stage: signal everything, wait out the grace period, SIGKILL
what is left, reap it all. Nothing luasup started outlives it."""

import asyncio
import os
import signal

from . import log, procfs, signals
from .deadline import within


def _signal_everyone(sup, signo):
    """Every running child's process group, then every other process that is
    luasup's child: orphans it adopted, in groups of their own."""
    if signo == signal.SIGKILL and os.getpid() == 1:
        os.kill(-1, signal.SIGKILL)  # as PID 1: everything in the namespace but us
        return
    done = set()
    for child in list(sup.children.values()):
        if child.signal(signo, group=True):
            done.add(child.pid)
    for pid in procfs.children_of(os.getpid()):
        try:
            group = os.getpgid(pid)
            if group in done:
                continue
            done.add(group)
            if group == pid:
                os.killpg(pid, signo)
            else:
                os.kill(pid, signo)
        except OSError:
            pass  # exited meanwhile


async def _all_gone(sup, timeout):
    sup.reaper.reap()
    try:
        await within(sup.reaper.no_children.wait(), timeout)
        return True
    except asyncio.TimeoutError:
        return False


async def stop_everything(sup, grace, signo=signal.SIGTERM):
    """Returns once luasup has no child left (or, after repeated SIGKILLs,
    only processes the kernel will not let die, which it reports)."""
    sup.reaper.reap()
    if sup.reaper.no_children.is_set():
        return
    _signal_everyone(sup, signo)
    if await _all_gone(sup, grace):
        return
    log.warn("processes still running %d ms after %s: sending SIGKILL"
             % (grace * 1000, signals.name(signo)))
    for _ in range(10):  # each round reaches orphans the last one created
        _signal_everyone(sup, signal.SIGKILL)
        if await _all_gone(sup, 1.0):
            return
    log.error("giving up waiting for pids %s, which SIGKILL did not end"
              % " ".join(map(str, procfs.children_of(os.getpid()))))
