"""The only caller of waitpid in luasup (but for takeover.py, which takes
over when the loop is stuck).

Every exit status, of a child luasup started or of an orphan the kernel
reparented to it, is collected here. A status is handed to whoever watches
that pid. A status nobody watches is an orphan's and is dropped: a child is
watched from the moment it is spawned (spawning and reaping both happen on
the loop thread), so a status can never reach a later process that got the
same pid."""

import asyncio
import os


class Reaper:
    def __init__(self, lock):
        # Held around waitpid and the marking of the reaped: a thread that
        # signals children under it never signals a pid already reaped (and
        # maybe reused).
        self.lock = lock
        self._watchers = {}  # pid -> (mark(status), callback(status))
        # Set whenever waitpid says luasup has no child left at all.
        self.no_children = asyncio.Event()
        # Set whenever reap() collected an exit, a child's or an orphan's.
        self.reaped = asyncio.Event()

    def watch(self, pid, mark, callback):
        """Once `pid` is reaped: `mark(status)` under the lock, then
        `callback(status)`."""
        self.no_children.clear()
        self._watchers[pid] = (mark, callback)

    def reap(self):
        """Collect every exit that is ready; never blocks."""
        reaped = []
        with self.lock:
            while True:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    self.no_children.set()
                    break
                if pid == 0:
                    break
                self.reaped.set()
                watcher = self._watchers.pop(pid, None)
                if watcher is not None:
                    watcher[0](status)
                    reaped.append((watcher[1], status))
        for callback, status in reaped:
            callback(status)
