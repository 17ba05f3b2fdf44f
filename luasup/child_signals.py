"""The signal state every child starts with: the mask luasup was started
with and the signals it was started with ignored (as tini does: `nohup
luasup -- cmd` leaves SIGHUP ignored in cmd), every other disposition at its
default, and nothing luasup blocked or ignored for itself.

glibc's two internal signals (32, 33) are always at their default in
children, as in a program started plainly: glibc's posix_spawn would ignore
them in every child, and a luasup started that way would pass them on."""

import ctypes
import os
import signal

from .early import ORIGINAL_IGNORED, ORIGINAL_MASK
from .signals import GLIBC_INTERNAL

MASK = ORIGINAL_MASK
IGNORED = ORIGINAL_IGNORED
DEFAULT = frozenset(range(1, signal.NSIG)) - IGNORED - {signal.SIGKILL, signal.SIGSTOP}

# rt_sigaction's number where luasup is known to run
_SYS_RT_SIGACTION = {"x86_64": 13, "aarch64": 134}


def _unignore_glibc_signals():
    """A forked child keeps what luasup ignores, so luasup's own 32 and 33
    go back to the default if it was started with them ignored. glibc's
    sigaction refuses them: this is the system call itself. glibc never
    ignores them, it only installs handlers (which exec resets)."""
    nr = _SYS_RT_SIGACTION.get(os.uname().machine)
    if nr is None:
        return
    syscall = ctypes.CDLL(None, use_errno=True).syscall
    old = (ctypes.c_ulong * 4)()  # the kernel's struct sigaction, handler first
    default = (ctypes.c_ulong * 4)()
    for sig in GLIBC_INTERNAL:
        size = ctypes.c_long(8)  # of the kernel's sigset_t
        if syscall(ctypes.c_long(nr), ctypes.c_long(sig), None, old, size) == 0 \
                and old[0] == int(signal.SIG_IGN):
            syscall(ctypes.c_long(nr), ctypes.c_long(sig), default, None, size)


_unignore_glibc_signals()


def restore():
    """Put the forked child (before exec) in that state. Dispositions with a
    handler go back to the default at exec by themselves; ignored ones stay."""
    for sig in DEFAULT - GLIBC_INTERNAL:  # Python refuses those two
        signal.signal(sig, signal.SIG_DFL)
    for sig in IGNORED:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_SETMASK, MASK)


def adopt(mask, ignored):
    """After a re-exec: the state the first luasup was started with, which
    this one cannot see (it starts with every signal blocked)."""
    global MASK, IGNORED, DEFAULT
    MASK, IGNORED = frozenset(mask), frozenset(ignored)
    DEFAULT = frozenset(range(1, signal.NSIG)) - IGNORED - {signal.SIGKILL, signal.SIGSTOP}
