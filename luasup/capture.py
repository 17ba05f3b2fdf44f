"""Drain a child's output pipe as it arrives.

A child must never block on a pipe nobody reads, and a child that floods its
output must not grow luasup's memory without bound: the pipe is read as soon
as it is readable. What is read is either kept (the newest `limit` bytes,
older ones dropped) for child:stdout() and child:lines(), or relayed line by
line with a prefix to one of luasup's own fds."""

import asyncio
import collections
import os

CHUNK = 65536


class LineQueue:
    """Lines for one child:lines() iterator, bounded like the capture."""

    def __init__(self, limit, seed=b""):
        self._limit = limit
        self._lines = collections.deque()
        self._size = 0
        self._partial = b""
        self._changed = asyncio.Event()
        self.closed = False
        self.feed(seed)

    def feed(self, data):
        parts = (self._partial + data).split(b"\n")
        self._partial = parts.pop()
        for line in parts:
            self._lines.append(line)
            self._size += len(line)
        while self._size > self._limit and len(self._lines) > 1:
            self._size -= len(self._lines.popleft())
        if parts:
            self._changed.set()

    def close(self):
        if self._partial:
            self._lines.append(self._partial)
            self._partial = b""
        self.closed = True
        self._changed.set()

    async def next(self):
        """The next line without its newline, or None at end of stream."""
        while not self._lines:
            if self.closed:
                return None
            self._changed.clear()
            await self._changed.wait()
        line = self._lines.popleft()
        self._size -= len(line)
        return line


class Capture:
    def __init__(self, loop, fd, limit, relay=None):
        """relay: (fd, prefix) to forward lines to instead of keeping them."""
        self._loop = loop
        self._fd = fd
        self._limit = limit
        self._relay = relay
        self.relayed = relay is not None
        self._partial = b""
        self._chunks = collections.deque()
        self._size = 0
        self._queues = []
        self.closed = asyncio.Event()
        os.set_blocking(fd, False)
        loop.add_reader(fd, self._readable)

    def _readable(self):
        try:
            data = os.read(self._fd, CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close()
            return
        if self._relay is not None:
            self._forward(data)
            return
        for queue in self._queues:
            queue.feed(data)
        self._chunks.append(data)
        self._size += len(data)
        if self._size > self._limit:
            self._trim()

    def _forward(self, data, final=False):
        out, prefix = self._relay
        data = self._partial + data
        cut = data.rfind(b"\n") + 1
        if final and cut < len(data):
            data, cut = data + b"\n", len(data) + 1
        elif len(data) - cut > CHUNK:  # an endless line still gets out
            data, cut = data + b"\n", len(data) + 1
        self._partial = data[cut:]
        if cut:
            lines = data[:cut].splitlines(True)
            _write_all(out, b"".join(prefix + line for line in lines))

    def _trim(self):
        excess = self._size - self._limit
        while excess:
            head = self._chunks[0]
            if len(head) <= excess:
                self._chunks.popleft()
                cut = len(head)
            else:
                self._chunks[0] = head[excess:]
                cut = excess
            excess -= cut
            self._size -= cut

    def value(self):
        """Everything kept so far (the newest `limit` bytes)."""
        if len(self._chunks) > 1:
            joined = b"".join(self._chunks)
            self._chunks.clear()
            self._chunks.append(joined)
        return self._chunks[0] if self._chunks else b""

    def lines(self):
        """A LineQueue of what is kept so far and all that arrives later."""
        queue = LineQueue(self._limit, self.value())
        if self.closed.is_set():
            queue.close()
        else:
            self._queues.append(queue)
        return queue

    def close(self):
        if self._fd < 0:
            return
        self._loop.remove_reader(self._fd)
        os.close(self._fd)
        self._fd = -1
        if self._relay is not None:
            self._forward(b"", final=True)
        for queue in self._queues:
            queue.close()
        self._queues = []
        self.closed.set()


def _write_all(fd, data):
    """Relayed output goes out whole; a full stdout pipe holds luasup back
    as it would hold back the child writing there directly."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            import select
            select.select([], [fd], [])
        except OSError:
            return  # luasup's own stdout is gone: nothing to relay to
