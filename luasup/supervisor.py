"""The running core: the reaper, the children luasup started, and what to
do with the signals the intake (intake.py) takes on the main thread. What a
signal means is the mode's policy: `takes(signo)` says which signals go to
`on_signal` on the loop; every other one is relayed to the children at once
by the intake thread, without the loop."""

import os
import signal
import threading
import time

from . import linux, log, pid1, process, signals
from .intake import INTAKE
from .capture import Capture
from .notify import NotifySocket
from .process import Child
from .reaper import Reaper


class Supervisor:
    def __init__(self, loop, grace):
        self.loop = loop
        self.grace = grace
        self.lock = threading.Lock()
        self.reaper = Reaper(self.lock)
        self.children = {}  # pid -> Child, while it runs
        self.spawned = []  # callbacks(child) for each child started (logs.stdin)
        self.group_signals = True  # relay to each child's process group
        self.loop_signals = set(signals.STOPPING)  # what the default takes() gives on_signal
        self.on_signal = self.forward
        self.exit_code = loop.create_future()
        self.stop_signal = signal.SIGTERM
        # Plain copies of the shutdown's state, for the intake thread.
        self.shutting_down = False
        self.stopping_since = None  # time.monotonic() when the shutdown began
        self.pending_code = None
        self.closed = False  # no new children once shutdown has begun
        self.holding = False  # a re-exec is handing over: children's pipes are not read
        self.piped = []  # children whose pipes may still be open (see _track)

    def takes(self, signo):
        """Whether `signo` goes to on_signal on the loop (else: relayed)."""
        return signo in self.loop_signals

    def open(self):
        """Take over reaping. Call before starting any child."""
        pid1.become_reaper()
        self._sigchld = linux.signalfd([signal.SIGCHLD])
        self.loop.add_reader(self._sigchld, self._children_exited)
        self.reaper.reap()  # exits that came before the signalfd

    def _children_exited(self):
        try:
            # 128-byte signalfd_siginfo records: one reap collects every exit
            os.read(self._sigchld, 128 * 64)
        except BlockingIOError:
            return
        self.reaper.reap()

    def take_signals(self):
        """Have the intake hand signals to this supervisor. Call once the
        mode's on_signal and takes are in place: until then signals wait,
        blocked (a SIGTERM in the first milliseconds must not meet the
        default policy and be relayed instead of stopping luasup)."""
        INTAKE.attach(self)

    def spawn(self, argv, opts, name=None):
        # Under the lock: a signal the intake relays meanwhile waits until
        # the new child is on the list, instead of missing it.
        with self.lock:
            pid, captures, stdin_w = process.spawn(self.loop, argv, opts)
            child = Child(pid, name, captures, stdin_w)
            child.log_name = opts.log_name
            self._watch(child)
        self._track(child)
        if name or log.enabled("debug"):
            (log.info if name else log.debug)("started %s" % child.label())
        for callback in self.spawned:
            callback(child)
        return child

    def _watch(self, child):
        self.children[child.pid] = child

        def mark(status):
            child.wait_status = status
        self.reaper.watch(child.pid, mark, lambda status: self._reaped(child, status))

    def _track(self, child):
        """Remember the child's pipes until they end: a child's pipe may
        outlive it (a process it left behind writes on), and a re-exec
        carries every pipe still open."""
        if child.captures:
            # swept of the children whose pipes ended now and then, not at
            # each exit: a pipe ends a moment after its child exits (much
            # later if a process it left behind holds it)
            if len(self.piped) > 64 + 2 * len(self.children):
                self.piped = [c for c in self.piped if _open_captures(c)]
            self.piped.append(child)
        if self.holding:
            for capture in child.captures.values():
                capture.hold()

    # -- re-exec (handover.py) ---------------------------------------------

    def hold_output(self, holding=True):
        """Stop (holding) or go back to (not holding) reading every child's
        pipes, those of children started meanwhile too."""
        self.holding = holding
        for child in self.piped:
            for capture in _open_captures(child):
                capture.hold() if holding else capture.release()

    def handover(self):
        """The children, and the pipes of those that exited with a pipe
        still open, for the new luasup (see adopt)."""
        # a log consumer's stdin is not carried: it gets end of file, as its
        # sink is declared anew with a new consumer
        return [{"pid": c.pid, "name": c.name, "log_name": c.log_name, "stop_last": c.stop_last,
                 "stdin": -1 if c.stop_last else c.stdin_fd, "exited": not c.running,
                 "notify": c.notify.handover() if c.notify and c.running else None,
                 "streams": {str(fd): cap.handover() for fd, cap in c.captures.items()
                             if not cap.closed.is_set()}}
                for c in {**{c.pid: c for c in self.piped if _open_captures(c)}, **self.children}.values()]

    def adopt(self, described):
        """Take over the children a hand-over describes, before the first
        reap: one that exited meanwhile is a zombie of this pid, reaped as
        any child. Their pipes are held (not read) until released; the
        captures are returned for that."""
        captures = []
        with self.lock:
            for d in described:
                pid = d["pid"]
                streams = {int(fd): Capture.adopt(self.loop, how, pid) for fd, how in d["streams"].items()}
                captures += streams.values()
                child = Child(pid, d["name"], streams, d["stdin"])
                child.log_name, child.stop_last = d["log_name"], d["stop_last"]
                if d["notify"]:
                    child.notify = NotifySocket(self.loop, d["notify"])
                    child.on_exit.append(lambda c: c.notify.close())
                if d["exited"]:  # reaped already: only its pipes are left to read
                    child.wait_status = 0
                    child.exited.set()
                elif _still_ours(pid):
                    self._watch(child)
                else:  # its exit comes as any other, with the status lost
                    self.children[pid] = child
                    self.loop.call_soon(self._reaped, child, LOST_STATUS)
                self.piped.append(child)
        return captures

    def stopping_last(self):
        """Pids of the running children that the shutdown stops last."""
        return {pid for pid, child in self.children.items() if child.stop_last}

    def _reaped(self, child, status):
        del self.children[child.pid]
        child.on_reaped(status)

    def forward(self, signo):
        for child in list(self.children.values()):
            child.signal(signo, self.group_signals)

    def relay(self, signo):
        """forward() from another thread: the lock keeps the reaper from
        reaping (and the kernel from reusing) a pid between the check that
        the child runs and the kill."""
        with self.lock:
            self.forward(signo)

    def request_exit(self, code, stop_signal=signal.SIGTERM):
        """Begin shutdown once: luasup will exit with `code`."""
        if not self.exit_code.done():
            self.stop_signal = stop_signal
            self.pending_code = code
            self.shutting_down = True
            self.stopping_since = time.monotonic()
            self.exit_code.set_result(code)
            INTAKE.wake()  # it watches over the shutdown from now on


def _open_captures(child):
    return [c for c in child.captures.values() if not c.closed.is_set()]


# The exit status of a child handed over that someone else reaped during
# the hand-over (a shell the new luasup was started through): exit code 255.
LOST_STATUS = 255 << 8


def _still_ours(pid):
    """Whether pid is still a child of this process, running or a zombie."""
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        log.warn("re-exec: pid %d was reaped by another process during the hand-over:"
                 " its exit status is lost (taken as exit code 255)" % pid)
        return False
    return True
