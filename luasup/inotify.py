"""inotify through libc: the standard library has no binding for it."""

import ctypes
import os
import struct

_libc = ctypes.CDLL(None, use_errno=True)

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_MASK_ADD = 0x20000000

_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC

# struct inotify_event: int wd; uint32_t mask, cookie, len; char name[len]
_HEAD = struct.Struct("=iIII")

_libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]


def _check(result):
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def open_instance():
    """A new non-blocking, close-on-exec inotify file descriptor."""
    return _check(_libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC))


def add_watch(fd, path, mask):
    """Watch `path` (bytes); returns the watch descriptor. Raises OSError."""
    if b"\0" in path:
        raise OSError(22, "path contains a NUL byte")
    return _check(_libc.inotify_add_watch(fd, path, mask))


def rm_watch(fd, wd):
    """Stop watch `wd`; quietly, since the kernel may have dropped it already."""
    _libc.inotify_rm_watch(fd, wd)


def read_events(fd):
    """Every queued event as (wd, mask, name) tuples; [] when none is queued."""
    events = []
    while True:
        try:
            buf = os.read(fd, 65536)
        except BlockingIOError:
            return events
        off = 0
        while off + _HEAD.size <= len(buf):
            wd, mask, _cookie, length = _HEAD.unpack_from(buf, off)
            off += _HEAD.size
            name = buf[off:off + length].rstrip(b"\0")
            off += length
            events.append((wd, mask, name))
