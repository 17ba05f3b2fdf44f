"""The signal state every child starts with: the mask luasup was started
with and the signals it was started with ignored (as tini does: `nohup
luasup -- cmd` leaves SIGHUP ignored in cmd), every other disposition at its
default, and nothing luasup blocked or ignored for itself."""

import signal

from .early import ORIGINAL_IGNORED, ORIGINAL_MASK

NSIG = 65  # Linux signals are 1..64

# glibc's own two signals. Python's signal module refuses them, so early.py
# cannot see whether luasup was started with them ignored; the kernel can.
# luasup never sets them to SIG_IGN itself (glibc only installs handlers).
GLIBC_INTERNAL = frozenset(range(signal.SIGRTMIN - 2, signal.SIGRTMIN))


def _ignored_now():
    with open("/proc/self/status", "rb") as f:
        for line in f:
            if line.startswith(b"SigIgn:"):
                bits = int(line.split()[1], 16)
                return {n for n in range(1, NSIG) if bits >> (n - 1) & 1}
    return set()


MASK = ORIGINAL_MASK
IGNORED = ORIGINAL_IGNORED | (GLIBC_INTERNAL & _ignored_now())
DEFAULT = frozenset(range(1, NSIG)) - IGNORED - {signal.SIGKILL, signal.SIGSTOP}


def restore():
    """Put the forked child (before exec) in that state. Dispositions with a
    handler go back to the default at exec by themselves; ignored ones stay."""
    for sig in DEFAULT - GLIBC_INTERNAL:
        signal.signal(sig, signal.SIG_DFL)
    for sig in IGNORED - GLIBC_INTERNAL:  # 32, 33 are already as inherited
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_SETMASK, MASK)
