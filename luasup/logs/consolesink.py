"""A console sink: records on luasup's own stdout or stderr, through
console.py's writers, which never block luasup. While a writer is congested
(nobody reads luasup's stdout fast enough) the sink waits, and its queue
fills: then it drops, or blocks the children routed to it if asked."""

from .. import console
from .sink import Sink


class ToStderr(bytes):
    """Queued bytes that go to stderr rather than stdout."""


class ConsoleSink(Sink):
    kind = "console"
    can_block = True

    def __init__(self, loop, stream, forms, **queue):
        super().__init__(loop, "console %s" % stream, **queue)
        self._stream = stream  # "same" | "stdout" | "stderr"
        self._forms = forms  # {"stdout": form, "stderr": form}: colour is per fd

    def encode(self, batch):
        to = batch.stream if self._stream == "same" else self._stream
        data = self._forms[to](batch)
        return ToStderr(data) if to == "stderr" else data

    async def deliver(self, items, lines):
        start = 0
        for i in range(1, len(items) + 1):  # one write per run of a stream
            if i == len(items) or type(items[i]) is not type(items[start]):
                out = console.stderr if type(items[start]) is ToStderr else console.stdout
                await self._write(out, b"".join(items[start:i]))
                start = i

    async def _write(self, out, data):
        """Write data in slices console.py takes whole, waiting out each
        congestion: a write it found no room for it would drop."""
        for at in range(0, len(data), console.CONGESTED):
            out.write(data[at:at + console.CONGESTED])
            if out.congested():
                relieved = self.loop.create_future()
                out.when_relieved(lambda: self.loop.call_soon_threadsafe(
                    lambda: relieved.done() or relieved.set_result(None)))
                await relieved
