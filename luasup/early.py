"""The first code luasup runs, before any heavy import.

As PID 1, a signal whose disposition is the default is dropped by the
kernel: until luasup blocks its signals (they then wait for the signal
thread), a SIGTERM is lost. So this module blocks them at once, and notes
the signal state luasup was started with, which children get back (as tini
does: `nohup luasup -- cmd` leaves SIGHUP ignored in cmd)."""

# _signal, the C module under `signal`: importing `signal` itself costs
# several ms (enum), all of them inside the window where SIGTERM is lost.
import _signal

# The mask luasup was started with (signal numbers), and then block every
# signal luasup handles (signals.HANDLED: all but KILL, STOP and the two
# glibc keeps for its threads; signals.py checks the two agree).
ORIGINAL_MASK = frozenset(int(s) for s in _signal.pthread_sigmask(_signal.SIG_BLOCK, ()))
_signal.pthread_sigmask(_signal.SIG_BLOCK, [
    s for s in range(1, _signal.NSIG)
    if s not in (_signal.SIGKILL, _signal.SIGSTOP, _signal.SIGRTMIN - 2, _signal.SIGRTMIN - 1)])

import os  # noqa: E402

# Python itself ignores these two before any of our code runs, so whether
# luasup's parent ignored them cannot be known: children get the default.
_SET_BY_PYTHON = {_signal.SIGPIPE, _signal.SIGXFSZ}
# The signals luasup was started with ignored.
ORIGINAL_IGNORED = frozenset(
    s for s in range(1, _signal.NSIG)
    if s not in _SET_BY_PYTHON and _signal.getsignal(s) == _signal.SIG_IGN)


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
    try:
        cli_main()
    except SystemExit as e:
        if e.code is not None and not isinstance(e.code, int):
            raise  # a message to print: Python's own exit does that
        _exit_now(e.code or 0)
    _exit_now(0)


def _exit_now(code):
    """Exit without tearing the interpreter down: that takes longer than all
    of luasup's start-up imports (10-15 ms measured), and nothing in it
    matters once the children are stopped and the output is flushed."""
    import sys
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass  # None (started with it closed), closed or gone
    console = sys.modules.get("luasup.console")
    if console is not None:  # (loaded whenever a script ran)
        console.flush_c_stdio()
        console.flush()  # what the atexit hook would have written out
    os._exit(code)
