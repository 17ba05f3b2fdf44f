"""The final stage: signal everything, wait out the grace period, SIGKILL
what is left, reap it all. Nothing luasup started outlives it."""

import asyncio
import os
import signal

from . import log, procfs, signals
from .deadline import within

# SIGKILL rounds after the grace period, a second apart: each reaches the
# orphans the one before created.
KILL_ROUNDS = 10


def signal_everyone(sup, signo):
    """Every running child's process group, then every other process that is
    luasup's child (orphans it adopted) and the groups they are in. A stopped
    process among them also gets SIGCONT, so that it can handle the signal
    instead of dying by SIGKILL at the end of the grace period. Safe to call
    from any thread that holds or does not need sup.lock."""
    me = os.getpid()
    if signo == signal.SIGKILL and me == 1:
        os.kill(-1, signal.SIGKILL)  # as PID 1: everything in the namespace but us
        return
    groups, lone = set(), set()
    for child in list(sup.children.values()):
        if child.signal(signo, group=True):
            groups.add(child.pid)
    try:
        procs = procfs.table()
    except OSError as e:  # e.g. the fd table is full: /proc cannot be listed
        log.warn("unable to list orphans to send %s: %s" % (signals.name(signo), e.strerror))
        if me == 1:
            os.kill(-1, signo)
        return
    own_group = os.getpgrp()
    for pid, (_, parent, group) in procs.items():
        if parent != me or pid in sup.children or group in groups:
            continue
        # Orphans that share a group are all reached through it, even when
        # its leader is long gone; one in luasup's own group, on its own.
        if group != own_group and _send(os.killpg, group, signo):
            groups.add(group)
        else:
            _send(os.kill, pid, signo)
            lone.add(pid)
    if signo in (signal.SIGKILL, signal.SIGCONT):
        return
    for pid, (state, _, group) in procs.items():
        if state in "Tt":
            if group in groups:
                _send(os.killpg, group, signal.SIGCONT)
            elif pid in lone:
                _send(os.kill, pid, signal.SIGCONT)


def _send(kill, target, signo):
    try:
        kill(target, signo)
    except OSError:
        return False  # gone meanwhile, or (a group) not ours to signal
    return True


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
    signal_everyone(sup, signo)
    if await _all_gone(sup, grace):
        return
    log.warn("processes still running %d ms after %s: sending SIGKILL"
             % (grace * 1000, signals.name(signo)))
    for _ in range(KILL_ROUNDS):
        signal_everyone(sup, signal.SIGKILL)
        if await _all_gone(sup, 1.0):
            return
    try:
        left = " ".join(map(str, procfs.children_of(os.getpid())))
    except OSError:
        left = "unknown"
    log.error("giving up waiting for pids %s, which SIGKILL did not end" % left)
