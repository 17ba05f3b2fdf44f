"""Drain a child's output pipe as it arrives.

A child must never block on a pipe nobody reads, and a child that floods its
output must not grow luasup's memory without bound: the pipe is read as soon
as it is readable. What is read is either kept for child:stdout() and
child:lines() (the newest `limit` bytes of each stream, and the newest
LUASUP_CAPTURE_TOTAL_BYTES across all of them), or relayed line by line with
a prefix to luasup's own stdout/stderr through console, or published line
by line on the log bus (logs/bus.py). Lines are cut at LUASUP_LINE_BYTES
(see lines.py)."""

import asyncio
import collections
import os
import select

from . import console
from .lines import Piece, Runs, Splitter

CHUNK = 65536
_SMALL = 4096  # reads smaller than this join the newest kept chunk
PARTIAL_WAIT = 0.5  # seconds an unfinished line waits for its end before it is published

line_cap = 65536


class Budget:
    """The bound on captured bytes across every child's streams. Over it,
    the oldest kept bytes, whichever child they came from, go first.

    Each kept chunk is a [data, capture] list shared with its capture; a
    chunk its capture dropped has data None and is skipped here."""

    def __init__(self, limit):
        self.limit = limit
        self.size = 0
        self._live = 0  # chunks still kept
        self._order = collections.deque()  # chunks in the order they came

    def added(self, chunk, grown, new):
        if new:
            self._order.append(chunk)
            self._live += 1
        self.size += grown
        while self.size > self.limit:
            oldest = self._order[0]
            if oldest[0] is None:
                self._order.popleft()
            else:  # only from that chunk: the capture's next ones are newer
                oldest[1].drop_head(min(self.size - self.limit, len(oldest[0])))
        if len(self._order) > 2 * self._live + 64:  # stale entries: sweep
            self._order = collections.deque(c for c in self._order if c[0] is not None)

    def removed(self, nbytes, chunks):
        self.size -= nbytes
        self._live -= chunks


budget = Budget(16 << 20)


def configure(settings):
    global line_cap, budget
    line_cap = settings.line_limit
    budget = Budget(settings.capture_total)


class LineQueue:
    """Lines for one child:lines() iterator, bounded like the capture."""

    def __init__(self, limit, seed=b""):
        self._limit = limit
        self._splitter = Splitter(line_cap)
        self._lines = collections.deque()
        self._size = 0
        self._changed = asyncio.Event()
        self.closed = False
        self.feed(seed)

    def feed(self, data):
        self._add(self._splitter.feed(data))

    def _add(self, lines):
        if not lines:
            return
        self._lines.extend(lines)
        self._size += sum(map(len, lines))
        while self._size > self._limit and len(self._lines) > 1:
            self._size -= len(self._lines.popleft())
        self._changed.set()

    def close(self):
        self._add(self._splitter.finish())
        self.closed = True
        self._changed.set()

    def unread(self):
        """The bytes of the lines not yet taken, and of the unfinished one."""
        return b"".join(line if type(line) is Piece else line + b"\n" for line in self._lines) \
            + self._splitter.held()

    async def next(self):
        """(the next line without its newline, True if it is a piece of a
        longer line), or (None, False) at the end of the stream."""
        while not self._lines:
            if self.closed:
                return None, False
            self._changed.clear()
            await self._changed.wait()
        line = self._lines.popleft()
        self._size -= len(line)
        if type(line) is Piece:
            return bytes(line), True
        return line, False


class ChunkQueue:
    """Every byte of a stream, in order, for a reader that takes them at its
    own pace (io.popen): past `limit` unread bytes the capture stops reading
    the pipe, so the child waits on it, as with a plain pipe, and nothing is
    dropped."""

    def __init__(self, capture, limit, seed=b""):
        self._capture = capture
        self._limit = limit
        self._chunks = collections.deque()
        self._size = 0
        self._changed = asyncio.Event()
        self.closed = False
        if seed:
            self.feed(seed)

    def feed(self, data):
        self._chunks.append(data)
        self._size += len(data)
        self._changed.set()
        if self._size > self._limit:
            self._capture.pause()

    def close(self):
        self.closed = True
        self._changed.set()

    async def next(self):
        """All the bytes unread so far, or None at the end of the stream."""
        while not self._chunks:
            if self.closed:
                return None
            self._changed.clear()
            await self._changed.wait()
        data = b"".join(self._chunks)
        self._chunks.clear()
        self._size = 0
        self._capture.unpause()
        return data


def _readable_now(fd):
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class Capture:
    def __init__(self, loop, fd, limit, relay=None, source=None):
        """relay: (fd, prefix) to forward lines to instead of keeping them;
        source: a logs.bus.Source to publish them on instead."""
        self._loop = loop
        self._fd = fd
        self._limit = limit
        self._relay = relay
        self._source = source
        self.relayed = relay is not None or source is not None
        self._held = False  # not read while the relay's output is congested
        self._splitter = Splitter(line_cap) if relay is not None else None
        self._runs = Runs(line_cap) if source is not None else None
        self._partial = None  # the timer that publishes an unfinished line
        self._last_read = 0.0
        self._open = False  # the last run published ended without a newline
        self._chunks = collections.deque()  # [bytearray, self], shared with budget
        self._size = 0
        self._budget = budget
        self._queues = []
        self._handing = False  # held for a re-exec's hand-over: nothing resumes reading
        self.closed = asyncio.Event()
        os.set_blocking(fd, False)
        loop.add_reader(fd, self._readable)

    # -- re-exec (handover.py) ---------------------------------------------

    def hold(self):
        """Stop reading for a hand-over: what the pipe holds waits there
        for the luasup that takes it over (or for release())."""
        self.pause()
        self._handing = True

    def release(self):
        """Read again: the hand-over failed, or this is the new luasup's
        capture and its new owners are in place."""
        self._handing = False
        if self._held:
            self._resume()
        if self._source is not None and self._runs.pending() and self._partial is None:
            self._last_read = self._loop.time()
            self._partial = self._loop.call_later(PARTIAL_WAIT, self._publish_partial)

    def handover(self):
        """This stream, held, for the new luasup (see adopt): its pipe, what
        becomes of what is read, and what was read but not passed on yet.
        A kept stream carries only what its line reader has not taken:
        its other reader (child:stdout) is a Lua task, which ends at the exec."""
        if self._relay is not None:
            fd, prefix = self._relay
            how, read = {"relay": [fd, prefix.decode("latin-1")]}, self._splitter.held()
        elif self._source is not None:
            how = {"source": [self._source.name, self._source.stream], "open": self._open}
            read = self._runs.held()
            if self._partial is not None:
                self._partial.cancel()
                self._partial = None
        else:
            how, read = {}, self._queues[0].unread() if self._queues else b""
        how.update(fd=self._fd, limit=self._limit, read=read.decode("latin-1"))
        return how

    @classmethod
    def adopt(cls, loop, how, pid):
        """The capture a hand-over describes (see handover), held until
        release()."""
        relay = source = None
        if "relay" in how:
            fd, prefix = how["relay"]
            relay = (fd, prefix.encode("latin-1"))
        elif "source" in how:
            from .logs import bus
            name, stream = how["source"]
            source = bus.Source(bus.current, name, stream, pid)
        capture = cls(loop, how["fd"], how["limit"], relay, source)
        capture.hold()
        read = how["read"].encode("latin-1")
        if relay is not None:
            capture._splitter.feed(read)
        elif source is not None:
            capture._runs.feed(read)
            capture._open = how["open"]
        elif read:
            capture._keep(read)
        return capture

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
        if self._source is not None:
            self._last_read = self._loop.time()
            self._publish(self._runs.feed(data))
            if self._runs.pending() and self._partial is None:
                self._partial = self._loop.call_later(PARTIAL_WAIT, self._publish_partial)
            return
        if self._relay is not None:
            self._forward(self._splitter.feed(data))
            return
        for queue in self._queues:
            queue.feed(data)
        self._keep(data)

    def _keep(self, data):
        newest = self._chunks[-1] if self._chunks else None
        new = newest is None or len(newest[0]) >= _SMALL or len(data) >= _SMALL
        if new:
            newest = [bytearray(data), self]
            self._chunks.append(newest)
        else:
            newest[0] += data
        self._size += len(data)
        self._budget.added(newest, len(data), new)
        if self._size > self._limit:
            self.drop_head(self._size - self._limit)

    def drop_head(self, excess):
        """Drop the oldest `excess` bytes kept (all, if fewer are kept)."""
        cut = gone = 0
        while excess > 0 and self._chunks:
            head = self._chunks[0]
            size = len(head[0])
            if size <= excess:
                self._chunks.popleft()
                head[0] = None
                gone += 1
            else:
                del head[0][:excess]
                size = excess
            cut += size
            excess -= size
        self._size -= cut
        self._budget.removed(cut, gone)

    def _forward(self, lines):
        if not lines:
            return
        fd, prefix = self._relay
        out = console.output(fd)
        out.write(prefix + (b"\n" + prefix).join(lines) + b"\n")
        # stop reading: the child then waits on its pipe, as it would on
        # luasup's stdout itself, and nothing of it is dropped
        if out.congested() and self.pause():
            out.when_relieved(self._wake_soon)

    def _publish(self, run):
        if not run:
            return
        self._open = not run.endswith(b"\n")
        sink = self._source.publish(run)
        # a sink that blocks: stop reading, as for a congested relay
        if sink is not None and self.pause():
            sink.when_relieved(self._wake_soon)

    def _publish_partial(self):
        """A line still unfinished after PARTIAL_WAIT goes out as a piece
        (its end follows as the next record, marked as its continuation)."""
        self._partial = None
        if self._fd < 0:
            return
        left = self._last_read + PARTIAL_WAIT - self._loop.time()
        if left > 0:  # the wait counts from the last read
            self._partial = self._loop.call_later(left, self._publish_partial)
        # not while its end may be in the pipe unread (held back, or the
        # loop was busy): the next read re-arms the wait
        elif not self._held and not _readable_now(self._fd):
            self._publish(self._runs.flush())

    @property
    def published(self):
        """Whether its lines go to the log bus."""
        return self._source is not None

    def pause(self):
        """Stop reading until unpause() (a reader that falls behind, a
        congested relay); whether this call stopped it."""
        if self._fd < 0 or self._held:
            return False
        self._held = True
        self._loop.remove_reader(self._fd)
        return True

    def unpause(self):
        if self._held:
            self._resume()

    def _wake_soon(self):
        """From console's writer thread."""
        try:
            self._loop.call_soon_threadsafe(self._resume)
        except RuntimeError:
            pass  # the loop is closed: luasup is exiting

    def _resume(self):
        if self._handing:
            return
        self._held = False
        if self._fd >= 0:
            self._loop.add_reader(self._fd, self._readable)

    def value(self):
        """Everything kept so far."""
        return b"".join(chunk[0] for chunk in self._chunks)

    def lines(self):
        """A LineQueue of what is kept so far and all that arrives later."""
        return self._fed(LineQueue(self._limit, self.value()))

    def reader(self):
        """A ChunkQueue of what is kept so far and all that arrives later."""
        return self._fed(ChunkQueue(self, self._limit, self.value()))

    def _fed(self, queue):
        """queue, fed from now on with what arrives (closed if nothing will)."""
        if self.closed.is_set():
            queue.close()
        else:
            self._queues.append(queue)
        return queue

    def close(self):
        if self._fd < 0:
            return
        if not self._held:
            self._loop.remove_reader(self._fd)
        os.close(self._fd)
        self._fd = -1
        if self._relay is not None:
            self._forward(self._splitter.finish())
        if self._source is not None:
            if self._partial is not None:
                self._partial.cancel()
            rest = self._runs.flush()
            if rest:  # the stream's last line, finished by its end
                self._publish(rest + b"\n")
            self._source.close(self._open)
        for queue in self._queues:
            queue.close()
        self._queues = []
        self.closed.set()
