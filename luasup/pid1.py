"""Being PID 1, or a child subreaper when not, and the terminal hand-off."""

import os

from . import linux, log


def become_reaper():
    """Orphans are reparented to PID 1; anywhere else luasup asks the kernel
    to reparent its descendants' orphans to it, so it reaps them the same."""
    if os.getpid() == 1:
        return
    try:
        linux.set_child_subreaper()
    except OSError as e:
        log.warn("unable to become a child subreaper: %s; orphans of children will"
                 " not be reaped by luasup (run it as PID 1 to fix this)" % e.strerror)


def foreground_tty():
    """stdin's fd when it is a terminal whose foreground group is luasup's,
    the case where the child should get the terminal; else None."""
    try:
        if os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp():
            return 0
    except OSError:
        pass
    return None
