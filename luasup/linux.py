"""The few Linux calls the standard library does not expose: signalfd and
prctl(PR_SET_CHILD_SUBREAPER). Everything else goes through `os`/`signal`."""

import ctypes
import os
import struct

_libc = ctypes.CDLL(None, use_errno=True)

_SFD_NONBLOCK = os.O_NONBLOCK
_SFD_CLOEXEC = os.O_CLOEXEC
_PR_SET_CHILD_SUBREAPER = 36

# struct signalfd_siginfo is 128 bytes; we need signo, code and sender pid.
SIGINFO_SIZE = 128
_SIGINFO_HEAD = struct.Struct("=IiiI")


class _SigSet(ctypes.Structure):
    _fields_ = [("val", ctypes.c_ulong * (1024 // (8 * ctypes.sizeof(ctypes.c_ulong))))]


def _check(result):
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def signalfd(signals):
    """A non-blocking, close-on-exec signalfd for `signals` (which the caller
    must already have blocked)."""
    mask = _SigSet()
    _libc.sigemptyset(ctypes.byref(mask))
    for sig in signals:
        _check(_libc.sigaddset(ctypes.byref(mask), int(sig)))
    return _check(_libc.signalfd(-1, ctypes.byref(mask), _SFD_NONBLOCK | _SFD_CLOEXEC))


def parse_siginfo(buf):
    """Yield (signo, si_code, sender_pid) for each record read from a signalfd."""
    for off in range(0, len(buf) - SIGINFO_SIZE + 1, SIGINFO_SIZE):
        signo, _errno, code, pid = _SIGINFO_HEAD.unpack_from(buf, off)
        yield signo, code, pid


def set_child_subreaper():
    _check(_libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
