"""Signal intake: the main thread's one job while the runtime thread runs
the event loop and the Lua script.

Every signal luasup handles is blocked in every thread and taken here with
sigwaitinfo, but SIGCHLD, which the loop reads from a signalfd of its own
(reaping is the loop's work: a hop through this thread would only delay
it). A signal the policy leaves to the default is relayed to the children
at once, from this thread, without waiting for the event loop; the rest
(stop signals, signals the script took) are posted to the loop.

The loop can be stuck: a Lua step that never yields, a C call that blocks
(`io.read`). So every post is also a probe: one the loop has not run
within STUCK_AFTER seconds means it is stuck. luasup then warns once, and
when a stop is pending (a stop signal arrived, or the loop had begun its
shutdown) it stops everything without the loop (takeover.py): a PID 1
stops within its grace period whatever the script does."""

import collections
import os
import signal
import threading
import time

from . import log, signals

STUCK_AFTER = 1.0

# Sent to the main thread by luasup itself to wake it; told apart from a
# SIGURG anyone else sends by its sender and by a count of the wakes sent
# (si_code would say SI_TKILL, but not every kernel fills it in).
_WAKE = signal.SIGURG
# What the main thread takes.
_TAKEN = [s for s in signals.HANDLED if s != signal.SIGCHLD]
# Signals a process raises on itself by writing to a closed pipe or past a
# file size limit: they are luasup's own business, never to be relayed.
_SELF_INFLICTED = {signal.SIGPIPE, signal.SIGXFSZ}

# (task name, monotonic start) of the Lua step running now, set by the
# bridge on the loop thread; read here to name the culprit.
busy = None


class Intake:
    def __init__(self):
        self._sup = None
        self._attached = threading.Event()
        self._finished = False
        self._main = threading.main_thread().ident
        self._pid = os.getpid()
        self._seq = 0  # posts made (written here only)
        self._ran = 0  # the last post the loop ran (written on the loop only)
        self._unrun = collections.deque()  # (seq, monotonic time posted)
        # (seq of its post, signo, monotonic time) of the last stop signal
        self._stop = None
        self._last_probe = 0.0
        self._warned = False
        self._wakes = 0  # wakes sent and not yet taken (see _WAKE)
        self._wakes_lock = threading.Lock()
        # A re-exec about to exec: signals are left pending for the new luasup.
        self._parked = False
        self._parking = threading.Event()  # the main thread takes no more signals
        self._unparked = threading.Event()

    # -- called from the loop thread -----------------------------------------

    def attach(self, sup):
        """Start taking signals for `sup` (signals that arrive before wait,
        blocked and pending, until now)."""
        self._sup = sup
        self._attached.set()

    def wake(self):
        """Make the main thread look again (the loop began its shutdown)."""
        if self._attached.is_set() and not self._finished:
            self._wake_main()

    def park(self):
        """Before a re-exec's exec: stop taking signals, so that they stay
        blocked and pending across the exec, for the new luasup. False when
        a signal was taken but the loop has not run what it posted yet (the
        loop must see it first: unpark and go on instead)."""
        self._parking.clear()
        self._unparked.clear()
        self._parked = True
        self._wake_main()
        return self._parking.wait(1.0) and self._oldest_unrun() is None

    def unpark(self):
        """The exec did not happen: take signals again."""
        if self._parked:
            self._parked = False
            self._unparked.set()

    def finish(self):
        """The runtime is done: serve() returns."""
        self._finished = True
        self._attached.set()
        self._wake_main()

    def _wake_main(self):
        with self._wakes_lock:
            self._wakes += 1
        signal.pthread_kill(self._main, _WAKE)

    # -- the main thread ---------------------------------------------------

    def serve(self):
        self._attached.wait()
        while not self._finished:
            if self._parked:
                self._parking.set()
                self._unparked.wait()
                continue
            timeout = self._timeout()
            if timeout is None:
                info = signal.sigwaitinfo(_TAKEN)
            else:
                info = signal.sigtimedwait(_TAKEN, timeout)
            if self._finished:
                return
            if info is not None and not self._is_wake(info):
                self._dispatch(info.si_signo, info.si_pid)
            self._check_stuck()

    def _is_wake(self, info):
        if info.si_signo != _WAKE or info.si_pid != self._pid:
            return False
        with self._wakes_lock:
            if not self._wakes:
                return False  # luasup sent itself SIGURG (init.kill): a signal like any
            self._wakes -= 1
        return True

    def _dispatch(self, signo, sender):
        sup = self._sup
        if sender == self._pid and signo in _SELF_INFLICTED:
            return
        if log.enabled("debug"):
            log.debug("received %s from pid %d" % (signals.name(signo), sender))
        if sup.takes(signo):
            seq = self._post(sup.on_signal, signo)
            if signo in signals.STOPPING:
                self._stop = (seq, signo, time.monotonic())
        else:
            sup.relay(signo)

    def _reap(self):
        self._sup.reaper.reap()

    def _post(self, fn, *args):
        self._seq += 1
        seq = self._seq
        self._unrun.append((seq, time.monotonic()))

        def run():
            self._ran = seq
            fn(*args)
        self._sup.loop.call_soon_threadsafe(run)
        return seq

    def _oldest_unrun(self):
        """When the oldest post the loop has not run yet was made, or None."""
        while self._unrun and self._unrun[0][0] <= self._ran:
            self._unrun.popleft()
        return self._unrun[0][1] if self._unrun else None

    def _stopping(self):
        """A stop is at stake: the loop has begun its shutdown, or a stop
        signal came less than a grace period ago (the script may have taken
        it, but a handler that never yields must not keep luasup up)."""
        if self._sup.shutting_down:
            return True
        stop = self._stop
        return stop is not None and (stop[0] > self._ran
                                     or time.monotonic() - stop[2] < self._sup.grace)

    def _timeout(self):
        """How long to wait for the next signal: forever when the loop is
        fine or already known stuck with nothing at stake; else until a post
        would show it stuck."""
        now = time.monotonic()
        oldest = self._oldest_unrun()
        stopping = self._stopping()
        if oldest is None and stopping and now - self._last_probe >= STUCK_AFTER:
            self._last_probe = now
            self._post(lambda: None)
            oldest = now
        if oldest is None:
            return STUCK_AFTER if stopping else None
        if self._warned and not stopping:
            return None
        return max(0.001, oldest + STUCK_AFTER - now)

    def _check_stuck(self):
        oldest = self._oldest_unrun()
        if oldest is None or time.monotonic() - oldest < STUCK_AFTER:
            return
        if not self._warned:
            self._warned = True
            step = busy
            where = ("task %s has kept it busy for %.1f s without yielding"
                     % (step[0], time.monotonic() - step[1]) if step else
                     "it is stuck in a blocking call")
            log.warn("the event loop has not run for %.1f s: %s"
                     % (time.monotonic() - oldest, where))
        if self._stopping():
            from .takeover import stop_without_loop
            sup = self._sup
            if sup.shutting_down:
                signo, code = sup.stop_signal, sup.pending_code
            else:
                signo = self._stop[1]
                code = 128 + signo
            stop_without_loop(sup, signo, code)  # does not return


INTAKE = Intake()
