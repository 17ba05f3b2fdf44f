"""The running core: one signalfd for every signal luasup handles, the
reaper, and the children luasup started. Kernel events come in here and are
handed to whoever waits for them; what a signal means is the mode's policy."""

import asyncio
import os
import signal

from . import linux, log, pid1, process, signals
from .process import Child
from .reaper import Reaper

# Signals a process raises on itself by writing to a closed pipe or past a
# file size limit: they are luasup's own business, never to be relayed.
_SELF_INFLICTED = {signal.SIGPIPE, signal.SIGXFSZ}


class Supervisor:
    def __init__(self, loop, grace):
        self.loop = loop
        self.grace = grace
        self.reaper = Reaper()
        self.children = {}  # pid -> Child, while it runs
        self.group_signals = True  # relay to each child's process group
        self.on_signal = self.forward
        self.loop_signals = set(signals.STOPPING)  # what on_signal must see
        self.exit_code = loop.create_future()
        self.stop_signal = signal.SIGTERM
        self.closed = False  # no new children once shutdown has begun
        self._pid = os.getpid()
        self._sigfd = -1

    def open(self):
        """Take over signals and reaping. Call before starting any child."""
        signal.pthread_sigmask(signal.SIG_BLOCK, signals.HANDLED)
        self._sigfd = linux.signalfd(signals.HANDLED)
        self.loop.add_reader(self._sigfd, self._signals_ready)
        pid1.become_reaper()
        self.reaper.reap()  # exits that came before the signalfd existed

    def _signals_ready(self):
        try:
            buf = os.read(self._sigfd, linux.SIGINFO_SIZE * 64)
        except BlockingIOError:
            return
        received = list(linux.parse_siginfo(buf))
        # Reap first, so nothing is relayed to a child that already exited.
        if any(signo == signal.SIGCHLD for signo, _, _ in received):
            self.reaper.reap()
        for signo, _code, sender in received:
            if signo == signal.SIGCHLD:
                continue
            if sender == self._pid and signo in _SELF_INFLICTED:
                continue
            if log.enabled("debug"):
                log.debug("received %s from pid %d" % (signals.name(signo), sender))
            self.on_signal(signo)

    def spawn(self, argv, opts, name=None):
        pid, captures, stdin_w = process.spawn(self.loop, argv, opts)
        child = Child(pid, name, captures, stdin_w)
        self.children[pid] = child
        self.reaper.watch(pid, lambda status: self._reaped(child, status))
        (log.info if name else log.debug)("started %s" % child.label())
        return child

    def _reaped(self, child, status):
        del self.children[child.pid]
        child.on_reaped(status)

    def forward(self, signo):
        for child in list(self.children.values()):
            child.signal(signo, self.group_signals)

    def request_exit(self, code, stop_signal=signal.SIGTERM):
        """Begin shutdown once: luasup will exit with `code`."""
        if not self.exit_code.done():
            self.stop_signal = stop_signal
            self.exit_code.set_result(code)
