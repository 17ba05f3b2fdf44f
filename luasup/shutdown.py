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


def signal_everyone(sup, signo, last=True):
    """Every running child's process group, then every other process that is
    luasup's child (orphans it adopted) and the groups they are in. A stopped
    process among them also gets SIGCONT, so that it can handle the signal
    instead of dying by SIGKILL at the end of the grace period. Safe to call
    from any thread that holds or does not need sup.lock.

    last=False spares the children that stop last (log consumers, which
    take the lines the others write while they stop) and their groups."""
    me = os.getpid()
    spared = set() if last else sup.stopping_last()
    if signo == signal.SIGKILL and me == 1 and not spared:
        os.kill(-1, signal.SIGKILL)  # as PID 1: everything in the namespace but us
        return
    groups, lone = set(), set()
    for child in list(sup.children.values()):
        if child.pid not in spared and child.signal(signo, group=True):
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
        if parent != me or pid in sup.children or group in groups or group in spared:
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


def _only_last_left(sup):
    """Whether every process luasup still has (children and adopted
    orphans) stops last, or is in the group of one that does."""
    spared = sup.stopping_last()
    if len(spared) < len(sup.children):
        return False
    me = os.getpid()
    try:
        procs = procfs.table()
    except OSError:
        return False
    return all(parent != me or pid in spared or group in spared
               for pid, (_, parent, group) in procs.items())


async def _gone_but_last(sup):
    while True:
        sup.reaper.reaped.clear()
        sup.reaper.reap()
        if sup.reaper.no_children.is_set() or _only_last_left(sup):
            return
        await sup.reaper.reaped.wait()  # an exit: look again


async def _all_gone(sup, timeout, last=True):
    sup.reaper.reap()
    if not last and sup.stopping_last():
        waiting = _gone_but_last(sup)
    else:
        waiting = sup.reaper.no_children.wait()
    try:
        await within(waiting, timeout)
        return True
    except asyncio.TimeoutError:
        return False


async def stop_everything(sup, grace, signo=signal.SIGTERM, last=True):
    """Returns once luasup has no child left (or, after repeated SIGKILLs,
    only processes the kernel will not let die, which it reports).
    last=False leaves the children that stop last running (see
    signal_everyone): they are stopped by a later call."""
    sup.reaper.reap()
    if sup.reaper.no_children.is_set():
        return
    signal_everyone(sup, signo, last)
    if await _all_gone(sup, grace, last):
        return
    log.warn("processes still running %d ms after %s: sending SIGKILL"
             % (grace * 1000, signals.name(signo)))
    for _ in range(KILL_ROUNDS):
        signal_everyone(sup, signal.SIGKILL, last)
        if await _all_gone(sup, 1.0, last):
            return
    try:
        left = " ".join(map(str, procfs.children_of(os.getpid())))
    except OSError:
        left = "unknown"
    log.error("giving up waiting for pids %s, which SIGKILL did not end" % left)
