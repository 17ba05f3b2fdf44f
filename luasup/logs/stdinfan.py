"""logs.stdin: luasup's own stdin copied to the stdin of the children of
the names given (exec's `name`, a service's name) that were started with
stdin = 'pipe'. One name routes the input, several fan it out. A child
started later, a restarted service included, gets what arrives after it
started; end of file on luasup's stdin closes each child's stdin (and
the stdin of any started afterwards at once).

fd 0 is read by a thread of its own with ordinary blocking reads. It is
not made non-blocking: O_NONBLOCK belongs to the open file description,
which whoever else has that fd (children with stdin = 'inherit', the shell
that started luasup) shares. A thread also reads what epoll refuses to
watch, a regular file or /dev/null.

Writes to the children never block the loop: what a child does not take
at once waits in its queue, written as its pipe has room. The thread reads
a chunk only once the loop has queued the one before; once a child's
queue holds more than LIMIT bytes it reads no more (counted in `paused`)
until every queue is down to half of it: a child that does not read holds
up the others, as with tee, rather than miss input. Bytes queued for a
child that exits or closes its stdin are dropped (counted). Reading
begins when the first listed child starts (until then the input waits in
luasup's stdin); what arrives later while no listed child runs goes to
none (`read` counts it, `written` not)."""

import collections
import os
import threading

from .. import log

LIMIT = 1 << 16  # bytes queued for one child before reading pauses
_CHUNK = 1 << 16


class _Target:
    __slots__ = ("child", "queue", "queued", "watched")

    def __init__(self, child):
        self.child = child
        self.queue = collections.deque()
        self.queued = 0
        self.watched = -1  # the fd add_writer watches


class StdinFan:
    kind = "stdin"

    def __init__(self, loop, sup, names):
        self.loop = loop
        self.names = frozenset(names)
        self.label = "stdin to %s" % ", ".join(names)
        self._targets = {}  # child -> _Target
        self._room = threading.Event()  # the thread may read (the loop took its last chunk)
        self._room.set()
        self._full = False  # reading paused for a child's full queue
        self._posted = False  # a chunk is on its way to the loop
        self.eof = False
        self.read = self.written = self.dropped_bytes = self.paused = 0
        self._reading = False
        sup.spawned.append(self._spawned)
        for child in list(sup.children.values()):
            self._spawned(child)

    def _start_reading(self):
        """Once a listed child runs: what comes before would go to none."""
        if not self._reading:
            self._reading = True
            threading.Thread(target=self._reader, name="luasup stdin", daemon=True).start()

    # -- the reading thread --------------------------------------------------

    def _reader(self):
        while True:
            self._room.wait()
            try:
                data = os.read(0, _CHUNK)
            except InterruptedError:
                continue
            except OSError as e:
                log.warn("logs: unable to read luasup's stdin: %s: closing the children's stdin"
                         % (e.strerror or e))
                data = b""
            self._posted = True
            self._room.clear()  # until the loop has queued this chunk, and has room for another
            try:
                self.loop.call_soon_threadsafe(self._arrived, data)
            except RuntimeError:  # the loop is closed: luasup is exiting
                return
            if not data:
                return

    # -- the loop's side -------------------------------------------------------

    def _spawned(self, child):
        if child.log_name not in self.names or child.stdin_fd < 0:
            return
        if self.eof:
            child.close_stdin()
            return
        self._targets[child] = _Target(child)
        self._start_reading()
        child.stdin_fed = True
        child.before_stdin_close.append(self._let_go)
        child.on_exit.append(lambda c: c.close_stdin())  # its pipe is of no use now

    def _arrived(self, data):
        self._posted = False
        if not data:
            self.eof = True
            for target in list(self._targets.values()):
                if not target.queue:
                    target.child.close_stdin()
            return
        self.read += len(data)
        for target in list(self._targets.values()):
            target.queue.append(data)
            target.queued += len(data)
            self._write(target)
        self._check_room()

    def _write(self, target):
        fd = target.child.stdin_fd
        queue = target.queue
        while queue:
            try:
                n = os.write(fd, queue[0])
            except BlockingIOError:
                if target.watched < 0:
                    target.watched = fd
                    self.loop.add_writer(fd, self._writable, target)
                return
            except OSError:  # it closed its stdin, or exited
                self._let_go(target.child)
                return
            self.written += n
            target.queued -= n
            if n < len(queue[0]):
                queue[0] = queue[0][n:]
            else:
                queue.popleft()
        self._unwatch(target)
        if self.eof:
            target.child.close_stdin()

    def _writable(self, target):
        self._write(target)
        self._check_room()

    def _unwatch(self, target):
        if target.watched >= 0:
            self.loop.remove_writer(target.watched)
            target.watched = -1

    def _let_go(self, child):
        target = self._targets.pop(child, None)
        if target is None:
            return
        child.stdin_fed = False
        self._unwatch(target)
        self.dropped_bytes += target.queued
        self._check_room()

    def _check_room(self):
        if not self._full and any(t.queued > LIMIT for t in self._targets.values()):
            self._full = True
            self.paused += 1
        elif self._full and all(t.queued <= LIMIT // 2 for t in self._targets.values()):
            self._full = False
        if not self._full and not self._posted:
            self._room.set()

    def stats(self):
        return {"kind": self.kind, "label": self.label, "read": self.read, "written": self.written,
                "dropped_bytes": self.dropped_bytes, "paused": self.paused,
                "children": len(self._targets), "eof": self.eof}
