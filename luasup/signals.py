"""Signal names and numbers, and which signals luasup relays to children."""

import signal

# Every signal luasup never relays: CHLD is how it learns of exits, KILL and
# STOP cannot be caught.
_NEVER = {signal.SIGCHLD, signal.SIGKILL, signal.SIGSTOP}


def _canonical(num):
    try:
        return signal.Signals(num).name
    except ValueError:  # real-time signals have no enum member of their own
        off = num - signal.SIGRTMIN
        return "SIGRTMIN+%d" % off if off else "SIGRTMIN"


BY_NUMBER = {int(s): _canonical(s) for s in signal.valid_signals()}
BY_NUMBER[signal.SIGRTMAX] = "SIGRTMAX"
# Names users may write: the canonical ones plus aliases (SIGIOT, SIGCLD, ...).
BY_NAME = {n: int(getattr(signal, n)) for n in dir(signal)
           if n.startswith("SIG") and not n.startswith("SIG_")
           and isinstance(getattr(signal, n), int)}
BY_NAME.update((n, num) for num, n in BY_NUMBER.items())

# What luasup blocks and takes with sigwaitinfo: everything but KILL/STOP.
# (early.py blocks the same set by hand, before this module is imported.)
# glibc reserves the two signals below SIGRTMIN for its threads.
GLIBC_INTERNAL = frozenset(range(signal.SIGRTMIN - 2, signal.SIGRTMIN))
HANDLED = sorted(int(s) for s in signal.valid_signals()
                 if s not in (signal.SIGKILL, signal.SIGSTOP) and s not in GLIBC_INTERNAL)
FORWARDABLE = frozenset(s for s in HANDLED if s not in _NEVER)
STOPPING = frozenset({signal.SIGTERM, signal.SIGINT})


def parse(value):
    """A signal given as a number, "TERM" or "SIGTERM" -> its number, or None."""
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("ascii", "replace")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value <= signal.SIGRTMAX else None
    if isinstance(value, str):
        name = value.upper()
        if not name.startswith("SIG"):
            name = "SIG" + name
        return BY_NAME.get(name)
    return None


def name(num):
    return BY_NUMBER.get(num, "signal %d" % num)
