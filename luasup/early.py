"""The first code luasup runs, before any heavy import.

As PID 1, a signal whose disposition is the default is dropped by the
kernel: until luasup blocks its signals (they then wait for the signal
thread), a SIGTERM is lost. So this module blocks them at once, and notes
the signal state luasup was started with, which children get back (as tini
does: `nohup luasup -- cmd` leaves SIGHUP ignored in cmd)."""

import os
import signal

# Python itself ignores these two before any of our code runs, so whether
# luasup's parent ignored them cannot be known: children get the default.
_SET_BY_PYTHON = {signal.SIGPIPE, signal.SIGXFSZ}

# The mask luasup was started with (a set of signal numbers)...
ORIGINAL_MASK = frozenset(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, ()))
# ... and the signals it was started with ignored.
ORIGINAL_IGNORED = frozenset(
    int(s) for s in signal.valid_signals()
    if s not in _SET_BY_PYTHON and signal.getsignal(s) == signal.SIG_IGN)

from .signals import HANDLED  # noqa: E402 (only `signal` underneath)

signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)


def _open_standard_fds():
    """With 0, 1 or 2 closed, the first files luasup opens would take their
    numbers, and writing "to stderr" would go into an event loop's fd."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


_open_standard_fds()


def main():
    from .cli import main as cli_main
    cli_main()
