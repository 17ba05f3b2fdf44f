"""Drain a child's output pipe as it arrives, keeping a bounded tail.

A child must never block on a pipe nobody reads, and a child that floods its
output must not grow luasup's memory without bound: the pipe is read as soon
as it is readable, and past `limit` bytes the oldest bytes are dropped."""

import asyncio
import collections
import os

CHUNK = 65536


class Capture:
    def __init__(self, loop, fd, limit):
        self._loop = loop
        self._fd = fd
        self._limit = limit
        self._chunks = collections.deque()
        self._size = 0
        self.dropped = 0
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
        self._chunks.append(data)
        self._size += len(data)
        if self._size > self._limit:
            self._trim()

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
            self.dropped += cut

    def value(self):
        """Everything kept so far (the newest `limit` bytes)."""
        if len(self._chunks) > 1:
            joined = b"".join(self._chunks)
            self._chunks.clear()
            self._chunks.append(joined)
        return self._chunks[0] if self._chunks else b""

    def close(self):
        if self._fd < 0:
            return
        self._loop.remove_reader(self._fd)
        os.close(self._fd)
        self._fd = -1
        self.closed.set()
