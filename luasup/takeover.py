"""Stopping everything without the event loop, when the loop is stuck (a Lua
step that never yields, a blocking C call) and a stop is due.

Runs on the main thread. It takes the reaper's lock for good, so the loop
thread can never reap again should it wake up, does what shutdown.py does
with threads instead of the loop, and ends the process: nothing of the
script (tasks, on_exit hooks) runs any more."""

import os
import signal
import threading

from . import console, log, signals
from .shutdown import KILL_ROUNDS, signal_everyone


def _reap_until_none(gone):
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            gone.set()
            return
        except InterruptedError:
            continue


def stop_without_loop(sup, signo, code):
    # A loop thread stuck inside reap() would hold the lock for ever: go on
    # without it after a second rather than not stop at all.
    sup.lock.acquire(timeout=1.0)
    log.warn("stopping without the event loop: %s to every process, on_exit hooks skipped"
             % signals.name(signo))
    gone = threading.Event()
    threading.Thread(target=_reap_until_none, args=(gone,), daemon=True).start()
    signal_everyone(sup, signo)
    if not gone.wait(sup.grace):
        log.warn("processes still running %d ms after %s: sending SIGKILL"
                 % (sup.grace * 1000, signals.name(signo)))
        for _ in range(KILL_ROUNDS):
            signal_everyone(sup, signal.SIGKILL)
            if gone.wait(1.0):
                break
    console.flush(0.1)  # os._exit skips the atexit flush
    os._exit(code)
