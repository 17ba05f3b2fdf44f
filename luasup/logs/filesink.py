"""A file sink: appends in a thread of its own (a slow or hung disk holds
up only this sink), rotates by renaming once the file would pass its size
(app.log -> app.log.1 -> ... -> app.log.KEEP; never copy-and-truncate, which
loses what is written meanwhile), re-creates the file when someone else
deleted or moved it, and reopens it on request (after an outside rotation)."""

import glob
import os
import stat
import threading
import time

from .. import log
from .sink import Sink


class FileSink(Sink):
    kind = "file"
    can_block = True

    def __init__(self, loop, path, form, size=0, keep=5, age=0, **queue):
        super().__init__(loop, "file %s" % path, **queue)
        self.path = path
        self._form = form
        self._size_limit = size  # 0: no rotation
        self._keep = keep
        self._age = age  # seconds a rotated file is kept; 0: no limit
        self._rotate_failed = False
        self._fd = -1
        self._open()  # a bad path fails here, at the declaration
        self._cond = threading.Condition(self._lock)
        self._napping = False  # the thread waits for a batch's time: no need to wake it
        self._reopen = False
        self._failing = None  # the error while writes fail, reported once
        self.rotations = 0
        self._thread = None

    def encode(self, batch):
        return self._form(batch)

    def _open(self):
        # O_NONBLOCK: a FIFO nobody reads must fail here (ENXIO), not hold
        # the loop (or this thread) in open()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK,
                     0o644)
        os.set_blocking(fd, True)
        st = os.fstat(fd)
        if self._size_limit and not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise ValueError("%s is not a regular file: it cannot be rotated" % self.path)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = fd
        self._id = (st.st_dev, st.st_ino)
        self._size = st.st_size
        self._rotate_at = self._size_limit

    def same_file(self, other):
        return self._id == other._id

    def close(self):
        """Before its thread starts: a declaration that is refused."""
        os.close(self._fd)
        self._fd = -1

    def reopen(self):
        with self._cond:
            self._reopen = True
        self.wake()

    def wake(self):
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="luasup %s" % self.label,
                                            daemon=True)
            self._thread.start()
        with self._cond:
            # waking a thread costs more than the write: only when it would
            # otherwise sleep on, or a batch is full
            if not self._napping or self.queued >= self.batch_bytes or self._hurry or self._reopen:
                self._cond.notify()

    def _work(self):
        while True:
            with self._cond:
                while not self._reopen:
                    due = self.due_in(time.monotonic())
                    if due == 0:
                        break
                    self._napping = due is not None
                    self._cond.wait(due)
                self._napping = False
                reopen, self._reopen = self._reopen, False
            if reopen:
                self._guard(self._open)
            items, lines = self.take()
            if items:
                data = b"".join(items)
                try:
                    written = self._guard(self._write, data)
                except Exception as e:  # a defect: lose this batch, not the thread
                    log.error("logs: %s: delivery failed: %r" % (self.label, e))
                    written = False
                self.loop.call_soon_threadsafe(self.done if written else self.lost, lines, len(data))

    def _guard(self, step, *args):
        """Run step; an OSError is reported once until a step succeeds."""
        try:
            step(*args)
        except OSError as e:
            if self._failing is None:
                log.warn("logs: %s: %s: dropping lines until it works again"
                         % (self.label, e.strerror or e))
            self._failing = e
            return False
        if self._failing is not None:
            self._failing = None
            log.info("logs: %s: writing again" % self.label)
        return True

    def _write(self, data):
        try:
            st = os.stat(self.path)
            if (st.st_dev, st.st_ino) != self._id:
                self._open()  # moved away or replaced: write where it is named
        except FileNotFoundError:
            self._open()
        while self._size_limit and self._size + len(data) > self._rotate_at:
            # fill the file up to its last whole line that fits, then rotate
            cut = data.rfind(b"\n", 0, self._rotate_at - self._size) + 1
            if not cut and not self._size:  # one line longer than a whole file
                cut = data.find(b"\n") + 1 or len(data)
            self._append(data[:cut])
            data = data[cut:]
            if not self._try_rotate():
                break
        self._append(data)

    def _append(self, data):
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
            self._size += n

    def _try_rotate(self):
        """Rotate; if it fails, warn once and write on past the size, to
        try again once the file has grown by another size."""
        try:
            self._rotate()
        except OSError as e:
            if not self._rotate_failed:
                log.warn("logs: %s: unable to rotate: %s: writing on past its size"
                         % (self.label, e.strerror or e))
            self._rotate_failed = True
            self._rotate_at = self._size + self._size_limit
            return False
        if self._rotate_failed:
            self._rotate_failed = False
            log.info("logs: %s: rotating again" % self.label)
        return True

    def _rotate(self):
        if self._keep > 0:
            for i in range(self._keep - 1, 0, -1):
                older = "%s.%d" % (self.path, i)
                if os.path.exists(older):
                    os.replace(older, "%s.%d" % (self.path, i + 1))
            os.replace(self.path, self.path + ".1")
        else:
            os.unlink(self.path)
        self._open()
        self.rotations += 1
        if self._age:
            cutoff = time.time() - self._age
            for old in glob.glob(glob.escape(self.path) + ".*"):
                suffix = old[len(self.path) + 1:]
                if suffix.isdigit() and os.stat(old).st_mtime < cutoff:
                    os.unlink(old)

    def stats(self):
        s = super().stats()
        s["rotations"] = self.rotations
        return s
