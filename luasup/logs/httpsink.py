"""An http sink: batches of records POSTed to a URL, as Loki's push API
wants them (`{"streams": [{"stream": {labels}, "values": [[ns, line],
...]}]}`, one stream per service and output stream) or as NDJSON.

A batch goes until the server takes it: network errors, timeouts, 408,
429 and 5xx are retried with the same batch after an exponential backoff
(or the server's Retry-After), so each record arrives once when the server
finally says 2xx. Any other answer means the batch will never be taken: it
is dropped and counted as rejected. While a batch waits, new records queue
within max_bytes and the oldest (or newest) are dropped beyond it, so a
dead endpoint holds at most max_bytes plus the batch in hand (in luasup's
RSS up to about twice that: the heap's fragmentation, measured flat)."""

import asyncio
import json

from .. import http_client, log
from ..connect import FAILURES, ProbeError, describe
from ..deadline import within
from . import record
from .sink import Sink

BACKOFF_FIRST = 0.5  # seconds before the first retry, doubling after each failure
BACKOFF_MAX = 30.0
RETRY_AFTER_MAX = 300.0  # a server's Retry-After is honoured up to this
ANSWER_BYTES = 65536  # of an answer's body kept, for the message of a rejection
SHOWN_BYTES = 200  # of that body in the message
MAX_STREAMS = 4096  # (name, stream) pairs whose labels and last time are kept
RETRIED = frozenset((408, 429))  # and every 5xx

CONTENT_TYPE = {"loki": b"application/json", "ndjson": b"application/x-ndjson"}


def _json_text(text):
    """str that may hold surrogate escapes (bytes that were not UTF-8) as
    text JSON can carry: those bytes become \\xNN."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _answer(status, body):
    """A status and the start of its body, on one line."""
    shown = " ".join(body[:SHOWN_BYTES].decode("utf-8", "backslashreplace").split())
    return "HTTP %d: %s" % (status, shown) if shown else "HTTP %d" % status


def _retry_after(fields):
    """Seconds a 429 or 503 asked to wait, or None (an HTTP date is not
    worth a parser: the backoff serves instead)."""
    value = dict(fields).get(b"retry-after", b"").strip()
    if value.isdigit():
        return min(float(value), RETRY_AFTER_MAX)
    return None


class HttpSink(Sink):
    kind = "http"

    def __init__(self, loop, url, form, labels, headers, timeout, **queue):
        try:
            http_client.parse_url(url)
        except ProbeError as e:
            raise ValueError(str(e)) from None
        if form not in CONTENT_TYPE:
            raise ValueError("format must be 'loki' or 'ndjson', got %r" % form)
        # (a query may carry an API key: messages show the url without it)
        super().__init__(loop, "http %s" % url.partition("?")[0], **queue)
        self.url = url
        self.form = form
        self.labels = {_json_text(k): _json_text(v) for k, v in labels}  # added to every record
        self.timeout = timeout
        given = {name.lower() for name, _ in headers}
        self._headers = list(headers)
        if b"content-type" not in given:
            self._headers.append((b"Content-Type", CONTENT_TYPE[form]))
        self._streams = {}  # (name, stream) -> [its labels as JSON and a NUL, last ns given], oldest first
        self._nudge = asyncio.Event()  # retry now rather than at the end of the backoff
        self._refused = False  # the batch just handled was rejected, not delivered
        self._failing = None  # why the batch in hand has not gone yet
        self._rejecting = None  # the status of the last batch, when it was rejected
        self.rejected = self.rejected_bytes = self.retries = 0
        self.sending = 0  # lines of the batch in hand

    # -- queueing (the loop's thread, per batch of records) -------------------

    def encode(self, batch):
        if self.form == "ndjson":
            return record.json_lines(batch, self.labels)
        key = (batch.name, batch.stream)
        state = self._streams.get(key)
        if state is None:
            if len(self._streams) >= MAX_STREAMS:  # names that keep changing: drop the oldest
                self._streams.pop(next(iter(self._streams)))
            labels = {"service": _json_text(batch.name), "stream": batch.stream}
            labels.update(self.labels)
            labels = json.dumps(labels, ensure_ascii=False, separators=(",", ":"))
            state = self._streams[key] = [labels.encode() + b"\0", 0]
        # Loki refuses a stream's entries that go back in time: each record
        # gets a nanosecond of its own, after the stream's last one.
        n = len(batch.lines)
        if not n:
            return b""
        first = max(int(batch.wall * 1e9), state[1] + 1)
        state[1] = first + n - 1
        # one decode for the batch: lines hold no newline, and a byte that is
        # not UTF-8 becomes \xNN text, never a newline
        texts = b"\n".join(batch.lines).decode("utf-8", "backslashreplace").split("\n")
        pairs = json.dumps(list(zip(map(str, range(first, first + n)), texts)),
                           ensure_ascii=False, separators=(",", ":"))
        # queued as plain bytes: the stream's labels, a NUL (which JSON text
        # never holds) and the [ns, line] pairs; an attribute would cost a
        # dict per batch that max_bytes does not count
        return state[0] + pairs[1:-1].encode()

    def _body(self, items):
        if self.form == "ndjson":
            return b"".join(items)
        streams = {}  # labels -> its values, in order
        for item in items:
            labels, _, values = item.partition(b"\0")
            streams.setdefault(labels, []).append(values)
        return b'{"streams":[' + b",".join(
            b'{"stream":%s,"values":[%s]}' % (labels, b",".join(values))
            for labels, values in streams.items()) + b"]}"

    # -- delivering (a task on the loop) ---------------------------------------

    async def deliver(self, items, lines):
        body = self._body(items)
        self.sending = lines
        self._nudge.clear()  # from now on a flush or drain cuts a backoff short
        backoff = BACKOFF_FIRST
        try:
            while True:
                try:
                    status, answer, fields = await within(
                        http_client.post(self.url, self._headers, body, ANSWER_BYTES), self.timeout)
                except FAILURES as e:
                    reason, wait = describe(e), None
                else:
                    if 200 <= status < 300:
                        self._delivered()
                        return
                    if status not in RETRIED and status < 500:
                        self._reject(status, answer, lines, sum(map(len, items)))
                        return
                    reason, wait = _answer(status, answer), _retry_after(fields)
                self._failed(reason)
                await self._pause(backoff if wait is None else wait)
                backoff = min(backoff * 2, BACKOFF_MAX)
        finally:
            self.sending = 0

    def _failed(self, reason):
        self.retries += 1
        if self._failing is None:
            log.warn("logs: %s: %s: retrying with backoff, holding up to %d bytes"
                     % (self.label, reason, self.max_bytes))
        self._failing = reason

    def _delivered(self):
        self._rejecting = None
        if self._failing is not None:
            self._failing = None
            log.info("logs: %s: delivering again" % self.label)

    def _reject(self, status, answer, lines, size):
        self.rejected += lines
        self.rejected_bytes += size
        self._refused = True
        self._failing = None
        # Once per run of the same answer: when luasup's own lines go to this
        # sink, a warning per batch would be a batch of its own, rejected in
        # turn, for ever.
        if status != self._rejecting:
            log.warn("logs: %s: rejected %d lines: %s" % (self.label, lines, _answer(status, answer)))
        self._rejecting = status

    async def _pause(self, seconds):
        try:
            await within(self._nudge.wait(), seconds)
        except asyncio.TimeoutError:
            pass
        self._nudge.clear()

    def done(self, lines, size):
        if self._refused:  # counted as rejected, not delivered
            self._refused = False
            lines = size = 0
        super().done(lines, size)

    def flush(self):
        self._nudge.set()
        super().flush()

    async def drain(self, deadline, final=True):
        """As Sink.drain, trying a batch waiting out its backoff again at
        once; at the deadline of a final drain the sink stops retrying."""
        self._nudge.set()
        if await super().drain(deadline) or not final:
            return self._idle.is_set()
        left = self.sending + sum(n for _, n, _ in self._items)
        log.warn("logs: %s: %d lines not delivered by the exit (%s)"
                 % (self.label, left, self._failing or "still sending"))
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})
            self._task = None
        return False

    def stats(self):
        s = super().stats()
        s.update(rejected=self.rejected, rejected_bytes=self.rejected_bytes,
                 retries=self.retries, sending=self.sending)
        return s
