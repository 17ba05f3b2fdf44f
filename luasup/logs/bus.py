"""The bus: routes each batch of records to the sinks the policy chose.

Routes are tried in the order they were declared; a record goes to the
sinks of every route that matches it, each sink once, until a route marked
drop or final matches it. A route matches by name, stream and a Lua pattern
(translated once into a regular expression: luapattern.py). A record no
route matches goes to a console sink that prefixes it with its name (so
with no route at all, everything does); a last `drop` route discards them.

Which routes can apply to a child's stream is worked out once per
(name, stream), so a batch from a child no pattern route concerns costs one
dictionary lookup and a put per sink."""

import asyncio
import os
import threading

from .. import log
from ..lines import Piece
from .record import Batch

current = None  # the Bus, once the script's runtime is up


class Route:
    def __init__(self, names, stream, regex, sinks, stop):
        self.names = names  # frozenset of str, or None for every name
        self.stream = stream  # "stdout" | "stderr" | None
        self.regex = regex  # compiled bytes regex, or None
        self.sinks = sinks  # tuple of Sink
        self.stop = stop  # drop / final: what it matched goes no further

    def applies(self, name, stream):
        return ((self.names is None or name in self.names)
                and (self.stream is None or self.stream == stream))


class _Plan:
    """The routes that can apply to one (name, stream)."""

    def __init__(self, routes, default):
        self.routes = routes
        self.default = default  # () -> the sink of records no route matched
        self.simple = None  # sinks, when no route of the plan has a pattern
        if not routes:
            self.simple = [default()]
        elif all(r.regex is None for r in routes):
            sinks = []
            for route in routes:
                for sink in route.sinks:
                    if sink not in sinks:
                        sinks.append(sink)
                if route.stop:
                    break
            self.simple = sinks


class Watch:
    """Waits for the first line of a name (and stream) that matches a
    pattern: a service's output readiness, without a Lua call per line."""

    def __init__(self, loop, name, stream, regex):
        self.name, self.stream, self.regex = name, stream, regex
        self.line = loop.create_future()

    def matched(self, line):
        if not self.line.done():
            self.line.set_result(bytes(line))


class _Stderr:
    """Where luasup's own lines no route took go: stderr, as without a bus."""

    @staticmethod
    def put(batch, can_wait):
        from .. import console
        console.stderr.write(b"".join(map(log.line, batch.lines)))

    @staticmethod
    def congested():
        return False


def _stderr():
    return _Stderr


def _whole_lines(lines):
    """(start, end) of each line in lines, a line being its Pieces and the
    plain line that ends it (or Pieces alone, at the end, unfinished)."""
    spans = []
    start = 0
    for i, line in enumerate(lines):
        if type(line) is not Piece:
            spans.append((start, i + 1))
            start = i + 1
    if start < len(lines):
        spans.append((start, len(lines)))
    return spans


class Bus:
    def __init__(self, loop, default_sink):
        self.loop = loop
        self.sinks = []
        self.routes = []
        self._default = default_sink  # () -> the console sink used with no routes
        self._plans = {}
        self._carried = {}  # (name, stream, pid) -> the sinks its unfinished line went to
        self.configured = False  # a sink or route was declared
        self.own = False  # luasup's own lines are records too (a route names 'luasup')
        self._thread = threading.get_ident()
        self._tapping = False
        self.muted = ()  # tasks whose own lines stay on stderr (function sinks' callbacks)
        self.watches = {}  # name -> [Watch] waiting for a line of that name
        self.sources = 0  # child streams still open
        self._sources_done = None  # an asyncio.Event while drain() waits for them

    def add_sink(self, sink):
        self.sinks.append(sink)
        self.configured = True

    def add_route(self, route):
        self.routes.append(route)
        self._plans.clear()
        self.configured = True
        if route.names is not None and "luasup" in route.names and not self.own:
            self.own = True
            log.tap = self._own_line

    def plan(self, name, stream):
        plan = self._plans.get((name, stream))
        if plan is None:
            if len(self._plans) > 4096:  # names that keep changing (jobs by date)
                self._plans.clear()
            default = _stderr if name == "luasup" else self._default
            plan = _Plan([r for r in self.routes if r.applies(name, stream)], default)
            self._plans[(name, stream)] = plan
        return plan

    def publish(self, batch, can_wait=True):
        """Route batch; a congested blocking sink it went to, or None."""
        if self.watches and batch.name in self.watches:
            self._watched(batch)
        plan = self.plan(batch.name, batch.stream)
        sinks = plan.simple
        if sinks is not None:
            for sink in sinks:
                sink.put(batch, can_wait)
        else:
            sinks = self._by_pattern(batch, plan, can_wait)
        for sink in sinks:
            if sink.congested():
                return sink
        return None

    def _by_pattern(self, batch, plan, can_wait):
        """Route line by line. The pieces of a line longer than the cap go
        where the whole line goes, decided on what this batch has of it; a
        line begun in an earlier batch goes where its beginning went."""
        lines = batch.lines
        source = (batch.name, batch.stream, batch.pid)
        if not lines:  # a stream's end: to the sinks its unfinished line went to
            carried = self._carried.pop(source, ())
            for sink in carried:
                sink.put(batch, can_wait)
            return list(carried)
        spans = _whole_lines(lines)  # (start, end) of each line's pieces
        carried = self._carried.pop(source, None)
        chosen = {}  # sink -> indexes of its spans
        if carried is not None:  # the first span ends a line begun before
            for sink in carried:
                chosen[sink] = {0}
        first = 0 if carried is None else 1
        remaining = range(first, len(spans))
        texts = [lines[a] if b - a == 1 else b"".join(lines[a:b]) for a, b in spans]
        matched = set(range(first))
        for route in plan.routes:
            if not remaining:
                break
            if route.regex is None:
                hit = remaining
            else:
                search = route.regex.search
                hit = [i for i in remaining if search(texts[i])]
            matched.update(hit)
            if hit:
                for sink in route.sinks:
                    chosen.setdefault(sink, set()).update(hit)
            if route.stop and hit:
                gone = set(hit)
                remaining = [i for i in remaining if i not in gone]
        if len(matched) < len(spans):
            chosen.setdefault(plan.default(), set()).update(
                i for i in range(len(spans)) if i not in matched)
        if spans and type(lines[-1]) is Piece:  # its end comes in a later batch
            last = len(spans) - 1
            self._carried[source] = [sink for sink, picked in chosen.items() if last in picked]
        for sink, picked in chosen.items():  # only sinks that got lines hold the child back
            if len(picked) == len(spans):
                sink.put(batch, can_wait)
            else:
                sink.put(batch.part([line for i in sorted(picked) for line in lines[spans[i][0]:spans[i][1]]]),
                         can_wait)
        return list(chosen)

    def watch(self, watch):
        self.watches.setdefault(watch.name, []).append(watch)

    def unwatch(self, watch):
        watches = self.watches.get(watch.name, [])
        if watch in watches:
            watches.remove(watch)
            if not watches:
                del self.watches[watch.name]

    def _watched(self, batch):
        for watch in list(self.watches[batch.name]):
            if watch.stream is None or watch.stream == batch.stream:
                search = watch.regex.search
                for line in batch.lines:
                    if search(line):
                        watch.matched(line)
                        self.unwatch(watch)
                        break

    def _own_line(self, record):
        """log.py's tap: one of luasup's own messages, as a record named
        luasup. Whether log.py should also write it to stderr (no route took it)."""
        if self._tapping:
            return True  # a line about the bus while it handles one: stderr only
        if threading.get_ident() != self._thread:
            # from a writer thread, the watchdog, the exit: the loop may be
            # stuck or gone, and these are the lines a user must see
            return True
        if self.muted and asyncio.current_task() in self.muted:
            return True  # logged by a function sink's callback: it must not get it back
        batch = Batch("luasup", "stderr", os.getpid(), record + b"\n")
        if not self.plan("luasup", "stderr").routes:  # not for the bus after all
            return True
        self._tapping = True
        try:
            self.publish(batch, can_wait=False)
        finally:
            self._tapping = False
        return False

    def source_closed(self):
        self.sources -= 1
        if not self.sources and self._sources_done is not None:
            self._sources_done.set()

    async def drain(self, deadline):
        """At exit: the last lines of child streams still being read, then
        what every sink holds, delivered by deadline (time.monotonic());
        whether it all went."""
        import asyncio
        import time
        if self.sources:
            self._sources_done = asyncio.Event()
            try:
                await asyncio.wait_for(self._sources_done.wait(), max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                pass
        results = await asyncio.gather(*(s.drain(deadline) for s in self.sinks))
        return all(results)

    async def flush(self, deadline):
        """Before a re-exec: what every sink holds, delivered by deadline
        (time.monotonic()); the labels of the sinks that could not. The
        sinks batch again after."""
        sinks = list(self.sinks)
        results = await asyncio.gather(*(s.drain(deadline, False) for s in sinks))
        for sink in sinks:
            sink.batch_again()
        return [s.label for s, delivered in zip(sinks, results) if not delivered]


class Source:
    """One child stream's entry to the bus (capture.py)."""

    __slots__ = ("bus", "name", "stream", "pid")

    def __init__(self, bus, name, stream, pid):
        self.bus, self.name, self.stream, self.pid = bus, name, stream, pid
        bus.sources += 1

    def publish(self, raw):
        return self.bus.publish(Batch(self.name, self.stream, self.pid, raw))

    def close(self, unfinished):
        """The stream has ended; unfinished: its last line went out
        without its end (a sink may have left it open)."""
        if unfinished:
            self.bus.publish(Batch(self.name, self.stream, self.pid, None, []), can_wait=False)
        self.bus.source_closed()
