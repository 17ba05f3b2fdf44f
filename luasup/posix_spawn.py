"""glibc's posix_spawnp(3) through ctypes, so that a child starts in the
signal state of child_signals.

os.posix_spawn cannot ask for that state: glibc ignores its two internal
signals (32, 33) in every child unless they are in the attribute's
sigdefault set, and its sigaddset refuses them. Here the sets are written bit
by bit, once: the attributes never change while luasup runs."""

import ctypes
import os

from . import child_signals

_libc = ctypes.CDLL(None, use_errno=True)
_p = ctypes.c_void_p
for _name, _args in {
        "posix_spawnattr_init": [_p],
        "posix_spawnattr_setflags": [_p, ctypes.c_short],
        "posix_spawnattr_setsigmask": [_p, _p],
        "posix_spawnattr_setsigdefault": [_p, _p],
        "posix_spawn_file_actions_init": [_p],
        "posix_spawn_file_actions_destroy": [_p],
        "posix_spawn_file_actions_adddup2": [_p, ctypes.c_int, ctypes.c_int],
        "posix_spawn_file_actions_addopen": [_p, ctypes.c_int, ctypes.c_char_p,
                                             ctypes.c_int, ctypes.c_uint],
        "posix_spawnp": [_p, ctypes.c_char_p, _p, _p, _p, _p]}.items():
    getattr(_libc, _name).argtypes = _args

# <spawn.h>, glibc on Linux
_SETPGROUP, _SETSIGDEF, _SETSIGMASK, _SETSID = 0x02, 0x04, 0x08, 0x80
# Opaque glibc types, given room to spare: posix_spawnattr_t is 336 bytes on
# x86-64, posix_spawn_file_actions_t 80, sigset_t 128.
_ATTR_SIZE, _ACTIONS_SIZE = 1024, 256
_WORD = 8 * ctypes.sizeof(ctypes.c_ulong)

# luasup's environment, as the C library holds it (os.environ writes through)
_environ = ctypes.c_void_p.in_dll(_libc, "environ")


def _check(err):
    """posix_spawn functions return an error number instead of setting errno."""
    if err:
        raise OSError(err, os.strerror(err))


def _sigset(signals):
    words = (ctypes.c_ulong * (1024 // _WORD))()
    for sig in signals:
        words[(sig - 1) // _WORD] |= 1 << ((sig - 1) % _WORD)
    return words


def _attributes(flags):
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    _check(_libc.posix_spawnattr_init(attr))
    _check(_libc.posix_spawnattr_setflags(attr, flags | _SETSIGMASK | _SETSIGDEF))
    _check(_libc.posix_spawnattr_setsigmask(attr, _sigset(child_signals.MASK)))
    _check(_libc.posix_spawnattr_setsigdefault(attr, _sigset(child_signals.DEFAULT)))
    return attr


_made = {}  # (mask, defaults) -> {setsid: attributes}


def _attributes_now(setsid):
    """The attributes for child_signals' state as it is now: a re-exec'd
    luasup adopts the first luasup's after this module was imported (until
    then it is the mask luasup blocks, which children must not get)."""
    state = (child_signals.MASK, child_signals.DEFAULT)
    made = _made.get(state)
    if made is None:
        _made.clear()  # a state before a re-exec's adoption is not used again
        # The process group to join is left at 0: the child leads a new one.
        made = _made[state] = {False: _attributes(_SETPGROUP), True: _attributes(_SETSID)}
    return made[setsid]


def _c_string(value):
    """bytes for a char *: C would silently cut a string at a NUL."""
    value = os.fsencode(value)
    if b"\0" in value:
        raise ValueError("embedded null byte")
    return value


def _strings(items):
    """A NULL-terminated char *[]."""
    items = [_c_string(item) for item in items]
    return (ctypes.c_char_p * (len(items) + 1))(*items)


def _env_entries(env):
    entries = []
    for key, value in env.items():
        key = os.fsencode(key)
        if not key or b"=" in key:
            raise ValueError("illegal environment variable name")
        entries.append(key + b"=" + os.fsencode(value))  # NULs: checked by _strings
    return entries


def spawnp(argv, env, opens, dups, setsid):
    """Start argv[0] (searched in PATH) in a new process group, or a new
    session with setsid. env: a dict, or None for luasup's own environment.
    opens: (child fd, path, flags) opened in the child; dups: (fd, child fd).
    Returns the pid; raises OSError (the exec's error too) or ValueError."""
    args = _strings(argv)
    envp = _environ.value if env is None else _strings(_env_entries(env))
    actions = ctypes.create_string_buffer(_ACTIONS_SIZE)
    _check(_libc.posix_spawn_file_actions_init(actions))
    try:
        for fd, path, flags in opens:
            _check(_libc.posix_spawn_file_actions_addopen(actions, fd, _c_string(path),
                                                          flags, 0o644))
        for src, dst in dups:
            _check(_libc.posix_spawn_file_actions_adddup2(actions, src, dst))
        pid = ctypes.c_int()
        _check(_libc.posix_spawnp(ctypes.byref(pid), args[0], actions,
                                  _attributes_now(setsid), args, envp))
    finally:
        _libc.posix_spawn_file_actions_destroy(actions)
    return pid.value
