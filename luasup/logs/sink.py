"""A sink's queue: what the bus gave it and it has not delivered yet,
bounded in bytes so that a slow or dead destination costs at most that much
memory and never holds up the loop, the reaper or another sink.

When the queue is full a sink drops its oldest or its newest records,
counting them, with one warning line when a burst of drops begins and a
count when it ends; or, if asked (console and file only), it blocks: the
bus stops reading the pipes of the children routed to it until it drains
(capture.py), so they wait on their pipe as they would on a slow disk.

Records leave the queue in batches: once batch_bytes are queued, or the
oldest has waited batch_time seconds (0: at once). Most sinks deliver from
a task on the loop (deliver()); the file sink from a thread of its own."""

import asyncio
import collections
import threading
import time

from .. import log

DROP_OLDEST, DROP_NEWEST, BLOCK = "drop-oldest", "drop-newest", "block"
FULL = (DROP_OLDEST, DROP_NEWEST, BLOCK)


class Sink:
    can_block = False

    def __init__(self, loop, label, max_bytes, full, batch_bytes, batch_time):
        if full not in FULL:
            raise ValueError("full must be one of %s, got %r" % (", ".join(FULL), full))
        if full == BLOCK and not self.can_block:
            raise ValueError("full = 'block' is only for console and file sinks")
        self.loop = loop
        self.label = label  # names the sink in messages: "file /var/log/app.log"
        self.max_bytes = max_bytes
        self.full = full
        self.batch_bytes = max(1, min(batch_bytes, max_bytes))
        self.batch_time = batch_time
        self._lock = threading.Lock()  # put() on the loop, take() maybe in a thread
        self._items = collections.deque()  # (data, lines, mono)
        self.queued = 0  # bytes
        self._taken = 0  # batches take() gave and done() has not counted yet
        self.delivered = self.delivered_bytes = 0
        self.dropped = self.dropped_bytes = 0
        self._burst = None  # [lines, bytes] dropped since this burst began
        self._relieved = []  # callbacks once a blocked queue has drained
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()  # nothing queued nor being delivered
        self._idle.set()
        self._hurry = False  # deliver what is queued without waiting for a batch
        self._draining = False
        self._task = None

    # -- the bus's side (the loop's thread) -------------------------------

    def encode(self, batch):
        """The batch as this sink queues it: bytes, or anything with a len."""
        raise NotImplementedError

    def put(self, batch, can_wait=True):
        """Queue batch. A publisher that cannot be held back (can_wait
        false: luasup's own lines) has its records dropped by a full
        blocking sink rather than grow it without bound."""
        data = self.encode(batch)
        if not data:
            return
        lines = batch.count()
        began = False
        queued = self.queued
        with self._lock:
            newest = self.full == DROP_NEWEST or (self.full == BLOCK and not can_wait)
            if newest and self._items and self.queued + len(data) > self.max_bytes:
                began = self._drop(lines, len(data))
            else:
                self._items.append((data, lines, batch.mono))
                self.queued += len(data)
                while self.full == DROP_OLDEST and self.queued > self.max_bytes and len(self._items) > 1:
                    old, old_lines, _ = self._items.popleft()
                    self.queued -= len(old)
                    began = self._drop(old_lines, len(old)) or began
                self._idle.clear()
        if began:  # outside the lock: the line may come back here as a record
            log.warn("logs: %s is full (%d bytes queued): dropping its %s lines"
                     % (self.label, max(queued, self.queued), "newest" if newest else "oldest"))
        self.wake()

    def _drop(self, lines, size):
        """Count a drop; whether it began a burst."""
        self.dropped += lines
        self.dropped_bytes += size
        began = self._burst is None
        if began:
            self._burst = [0, 0]
        self._burst[0] += lines
        self._burst[1] += size
        return began

    def congested(self):
        return self.full == BLOCK and self.queued > self.max_bytes

    def when_relieved(self, callback):
        """Call callback (from any thread) once the queue is down to half."""
        with self._lock:
            if self.queued > self.max_bytes // 2:
                self._relieved.append(callback)
                return
        callback()

    # -- the delivering side -----------------------------------------------

    def due_in(self, now):
        """Seconds until a batch is due (0: now), None if nothing is queued."""
        if not self._items:
            return None
        if self.queued >= self.batch_bytes or self.batch_time <= 0 or self._hurry:
            return 0
        return max(0.0, self._items[0][2] + self.batch_time - now)

    def take(self, limit=None):
        """Up to `limit` bytes of the queue (at least one item), in order."""
        limit = self.batch_bytes if limit is None else limit
        out = []
        size = lines = 0
        with self._lock:
            while self._items and (not out or size + len(self._items[0][0]) <= limit):
                data, n, _ = self._items.popleft()
                out.append(data)
                size += len(data)
                lines += n
            self.queued -= size
            if out:
                self._taken += 1
            relieved = []
            if self._relieved and self.queued <= self.max_bytes // 2:
                relieved, self._relieved = self._relieved, []
            burst = None
            if self._burst is not None and self.queued <= self.max_bytes // 2:
                burst, self._burst = self._burst, None
        for callback in relieved:
            callback()
        if burst:
            log.warn("logs: %s dropped %d lines (%d bytes) while full" % (self.label, burst[0], burst[1]))
        return out, lines

    def done(self, lines, size):
        """Count what take() gave and has been delivered."""
        self.delivered += lines
        self.delivered_bytes += size
        with self._lock:
            self._taken -= 1
            idle = not self._items and not self._taken
        if idle:
            self._hurry = self._draining
            self._idle.set()

    def lost(self, lines, size):
        """Count what take() gave and could not be delivered."""
        self.dropped += lines
        self.dropped_bytes += size
        self.done(0, 0)

    def wake(self):
        if self._task is None:
            self._task = self.loop.create_task(self._run())
        self._wakeup.set()

    def flush(self):
        """Deliver what is queued now, batch full or not."""
        self._hurry = True
        self.wake()

    async def _run(self):
        while True:
            due = self.due_in(time.monotonic())
            if due is None or due > 0:
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), due)
                except asyncio.TimeoutError:
                    pass
                continue
            items, lines = self.take()
            size = sum(map(len, items))
            try:
                await self.deliver(items, lines)
            except Exception as e:  # a defect: lose this batch, not the sink
                log.error("logs: %s: delivery failed: %r" % (self.label, e))
                self.lost(lines, size)
                continue
            self.done(lines, size)

    async def deliver(self, items, lines):
        """Deliver what take() gave, however long it takes."""
        raise NotImplementedError

    async def drain(self, deadline, final=True):
        """Deliver what is queued by deadline (time.monotonic()); whether it
        all went. From now on nothing waits for a batch to fill (until
        batch_again). `final`: luasup exits, as opposed to a re-exec that
        may not happen (a sink then keeps going)."""
        self._draining = self._hurry = True
        self.wake()
        left = deadline - time.monotonic()
        if left > 0 and not self._idle.is_set():
            try:
                await asyncio.wait_for(self._idle.wait(), left)
            except asyncio.TimeoutError:
                pass
        return self._idle.is_set()

    def batch_again(self):
        """After drain (a re-exec that did not happen): batches fill again."""
        self._draining = self._hurry = False

    def stats(self):
        return {"kind": self.kind, "label": self.label, "queued": self.queued,
                "delivered": self.delivered, "delivered_bytes": self.delivered_bytes,
                "dropped": self.dropped, "dropped_bytes": self.dropped_bytes}
