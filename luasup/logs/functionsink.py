"""A function sink: records handed to a Lua callback (logs.fn), which runs
in a Lua task of its own, one record at a time and in order.

The queue is the sink's own: nothing is encoded, the batches themselves
wait there (counted by the bytes of their lines). The Lua task takes what
is due with one wait (the op log_fn_next), a whole take() at once, and
calls the callback for each record; its next wait tells that those were
delivered. So a callback that is slow, or waits, only fills this queue."""

import asyncio
import time

from ..lines import Piece
from . import record
from .sink import Sink


class _Held:
    """A batch in the queue, sized as its lines are."""

    __slots__ = ("batch", "size")

    def __init__(self, batch):
        self.batch = batch
        self.size = batch.size()

    def __len__(self):
        return self.size


class FunctionSink(Sink):
    kind = "function"

    def __init__(self, loop, name, table, **queue):
        # name: its task's, "logs.fn FILE:LINE" (where the callback is defined)
        super().__init__(loop, "function %s" % name.partition(" ")[2], **queue)
        self._table = table  # a Lua table from a Python list
        self._handed = None  # (lines, bytes) handed to Lua and not yet done
        self.errors = 0  # records whose callback raised an error

    def encode(self, batch):
        return _Held(batch)

    def wake(self):
        self._wakeup.set()  # the Lua task delivers: no task of the base's

    async def next_batch(self, errors):
        """The records due, for the Lua task, once the ones it had are done:
        a flat list of (name, stream, pid, time, mono, lines, continued)
        per batch, continued a list of the indexes of lines that go on in
        the next record, or False."""
        self.errors += int(errors)
        if self._handed is not None:
            self.done(*self._handed)
            self._handed = None
        while True:
            due = self.due_in(time.monotonic())
            if due == 0:
                break
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), due)
            except asyncio.TimeoutError:
                pass
        items, lines = self.take()
        self._handed = (lines, sum(map(len, items)))
        flat = []
        for held in items:
            batch = held.batch
            records = batch.lines
            # pieces: an unfinished last line, or cuts of a line longer than the cap
            continued = (type(records[-1]) is Piece or batch.size() > record.LINE_CAP) and [
                i for i, line in enumerate(records, 1) if type(line) is Piece]
            flat += [batch.name.encode("utf-8", "surrogateescape"), batch.stream.encode(), batch.pid,
                     batch.wall, batch.mono, list(records), continued]
        return (self._table(flat),)

    def stats(self):
        s = super().stats()
        s["errors"] = self.errors
        return s
