"""Debounced file and directory watches for init.watch, on inotify.

A watch follows a path, not an inode: editors and config tools replace a
file (write a copy, rename it over the original), Kubernetes swaps a
symlink. So besides the path itself the watch looks at its parent
directory, filtered by name, and re-resolves the path whenever the entry
may have changed hands."""

import os

from . import inotify

# Changes of the watched file or directory itself (a directory's own
# entries being created, removed or renamed count as changes of it).
_SELF_MASK = (inotify.IN_MODIFY | inotify.IN_ATTRIB | inotify.IN_CLOSE_WRITE
              | inotify.IN_CREATE | inotify.IN_DELETE | inotify.IN_MOVED_FROM
              | inotify.IN_MOVED_TO | inotify.IN_DELETE_SELF | inotify.IN_MOVE_SELF)
# The entry in the parent appearing, vanishing or being replaced. Not
# IN_MODIFY: writes to the parent's other files must not wake luasup.
# IN_MASK_ADD in case the parent and the path turn out to be one inode.
_PARENT_MASK = (inotify.IN_CREATE | inotify.IN_DELETE | inotify.IN_MOVED_FROM
                | inotify.IN_MOVED_TO | inotify.IN_ONLYDIR | inotify.IN_MASK_ADD)
# Self events after which the watched inode is no longer what the path names.
_GONE = inotify.IN_DELETE_SELF | inotify.IN_MOVE_SELF | inotify.IN_IGNORED


class Watch:
    """Watches one path; `next_change()` returns once per burst of changes,
    `debounce` seconds after the burst's last event."""

    def __init__(self, loop, path, debounce):
        self.loop = loop
        self.path = path  # bytes
        self.debounce = debounce
        absolute = os.path.abspath(path)
        self._name = os.path.basename(absolute)
        self._parent = os.path.dirname(absolute)
        self._fd = inotify.open_instance()
        try:
            self._self_wd = inotify.add_watch(self._fd, path, _SELF_MASK)
            self._parent_wd = None
            if self._name:  # "/" has no parent to watch
                self._parent_wd = inotify.add_watch(self._fd, self._parent, _PARENT_MASK)
        except OSError:
            os.close(self._fd)
            raise
        self._target = self._resolve()
        self._timer = None
        self._pending = False
        self._waiter = None
        self.closed = False
        loop.add_reader(self._fd, self._readable)

    def _resolve(self):
        """What the path names now: (device, inode), or None."""
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def _readable(self):
        changed = False
        for wd, mask, name in inotify.read_events(self._fd):
            if mask & inotify.IN_Q_OVERFLOW:  # events were lost: assume the worst
                changed = True
                self._rewatch()
            elif wd == self._self_wd:
                if mask & _GONE:
                    if mask & inotify.IN_IGNORED:
                        self._self_wd = None
                    self._rewatch()
                if not mask & inotify.IN_IGNORED:
                    changed = True
            elif wd == self._parent_wd:
                if mask & inotify.IN_IGNORED:
                    self._parent_wd = None
                elif name == self._name or self._resolve() != self._target:
                    # another entry of the parent may be a link on the way
                    # to the file (a ConfigMap's ..data swapped)
                    changed = True
                    self._rewatch()
        if changed:
            self._restart_timer()

    def _rewatch(self):
        """Point the self watch at whatever the path names now, if anything."""
        try:
            wd = inotify.add_watch(self._fd, self.path, _SELF_MASK)
        except OSError:
            wd = None
        if self._self_wd is not None and wd != self._self_wd:
            inotify.rm_watch(self._fd, self._self_wd)
        self._self_wd = wd
        self._target = self._resolve()

    def _restart_timer(self):
        # Trailing edge: each event pushes the call back, so a burst of
        # writes gives one call once the file has been quiet for a while.
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_later(self.debounce, self._fire)

    def _fire(self):
        self._timer = None
        self._pending = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(True)

    async def next_change(self):
        """True after the next burst of changes (or one that came while the
        caller was busy); False once the watch is cancelled."""
        while not self.closed:
            if self._pending:
                self._pending = False
                return True
            self._waiter = self.loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return False

    def cancel(self):
        if self.closed:
            return
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
        self.loop.remove_reader(self._fd)
        os.close(self._fd)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(False)
