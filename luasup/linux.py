"""The few Linux calls the standard library does not expose:
prctl(PR_SET_CHILD_SUBREAPER) and signalfd. Everything else goes through
`os`/`signal`."""

import ctypes
import os

_PR_SET_CHILD_SUBREAPER = 36
_libc = ctypes.CDLL(None, use_errno=True)


class _SigSet(ctypes.Structure):
    _fields_ = [("val", ctypes.c_ulong * (1024 // (8 * ctypes.sizeof(ctypes.c_ulong))))]


def _check(result):
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def set_child_subreaper():
    _check(_libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))


def signalfd(signals):
    """A non-blocking, close-on-exec signalfd for `signals` (which every
    thread must already block)."""
    mask = _SigSet()
    _libc.sigemptyset(ctypes.byref(mask))
    for sig in signals:
        _check(_libc.sigaddset(ctypes.byref(mask), int(sig)))
    return _check(_libc.signalfd(-1, ctypes.byref(mask), os.O_NONBLOCK | os.O_CLOEXEC))
