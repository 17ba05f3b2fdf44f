"""The only caller of waitpid in luasup.

Every exit status, of a child luasup started or of an orphan the kernel
reparented to it, is collected here. A status is handed to whoever watches
that pid; a status nobody watches yet is kept (bounded) in case its watcher
registers late."""

import asyncio
import collections
import os

# Orphans nobody will ever claim also land in the unclaimed table, so it has
# to be bounded; a late watcher is only ever a few loop iterations late.
_UNCLAIMED_MAX = 4096


class Reaper:
    def __init__(self):
        self._watchers = {}
        self._unclaimed = collections.OrderedDict()
        # Set whenever waitpid says luasup has no child left at all.
        self.no_children = asyncio.Event()

    def watch(self, pid, callback):
        """Call `callback(wait_status)` once `pid` is reaped."""
        self.no_children.clear()
        status = self._unclaimed.pop(pid, None)
        if status is None:
            self._watchers[pid] = callback
        else:
            callback(status)

    def reap(self):
        """Collect every exit that is ready; never blocks."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.no_children.set()
                return
            if pid == 0:
                return
            callback = self._watchers.pop(pid, None)
            if callback is not None:
                callback(status)
                continue
            self._unclaimed[pid] = status
            if len(self._unclaimed) > _UNCLAIMED_MAX:
                self._unclaimed.popitem(last=False)
