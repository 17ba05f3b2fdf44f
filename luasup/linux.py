"""The one Linux call the standard library does not expose:
prctl(PR_SET_CHILD_SUBREAPER). Everything else goes through `os`/`signal`."""

import ctypes
import os

_PR_SET_CHILD_SUBREAPER = 36


def set_child_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
