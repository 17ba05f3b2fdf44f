"""The log bus's functions for Lua (lua/logs.lua is the Lua half, with the
argument checks). Like api.Api, core functions never raise into Lua:
failures come back as (nil, message)."""

import asyncio
import itertools
import os

from . import bus, form, record
from .bus import Bus, Route, Watch
from .consolesink import ConsoleSink
from .filesink import FileSink
from .ring import RingSink

# queue defaults by kind: (max_bytes, batch_bytes, batch_time)
QUEUE = {
    "console": (1 << 20, 1 << 16, 0),
    "file": (4 << 20, 1 << 20, 0.05),  # a thread writes: wake it once per batch, not per read
    "http": (8 << 20, 1 << 20, 1.0),
    "process": (4 << 20, 1 << 16, 0),
    "function": (1 << 20, 1 << 16, 0),
}


def _text(value):
    return os.fsdecode(value) if isinstance(value, bytes) else value


def _is_terminal(fd):
    try:
        return os.isatty(fd)
    except OSError:
        return False


class Logs:
    def __init__(self, loop, line_cap, table):
        self.loop = loop
        self._table = table  # a Lua table from a dict or list
        record.LINE_CAP = line_cap
        self._sinks = {}  # id -> Sink
        self._watches = {}  # id -> bus.Watch
        self._ids = itertools.count(1)
        self._default = None
        self.bus = bus.current = Bus(loop, self._default_sink)

    def _default_sink(self):
        if self._default is None:
            self._default = self.console(b"same", b"{name} | ", b"text", False, None, None, None, None)
            self.bus.sinks.append(self._default)
        return self._default

    def core(self):
        return {
            b"log_console": self._declare(self.console),
            b"log_file": self._declare(self.file),
            b"log_ring": self._declare(self.ring),
            b"log_route": self.route,
            b"log_stats": lambda sid: self._table(
                {k.encode(): (v.encode() if isinstance(v, str) else v)
                 for k, v in self._sinks[sid].stats().items()}),
            b"log_flush": lambda sid: self._sinks[sid].flush(),
            b"log_reopen": lambda sid: self._sinks[sid].reopen(),
            b"log_tail": self.tail,
            b"log_configured": lambda: self.bus.configured,
            b"log_watch": self.watch,
            b"log_unwatch": self.unwatch,
        }

    def ops(self):
        return {b"log_watch_wait": self.watch_wait}

    def _declare(self, make):
        def declare(*args):
            try:
                sink = make(*args)
            except ValueError as e:
                return None, str(e).encode()
            except OSError as e:
                return None, ("cannot open %s: %s" % (_text(e.filename), e.strerror)).encode()
            self.bus.add_sink(sink)
            sid = len(self._sinks) + 1
            self._sinks[sid] = sink
            return sid
        return declare

    @staticmethod
    def _queue(kind, max_bytes, full, batch_bytes, batch_time):
        d_max, d_batch, d_time = QUEUE[kind]
        return {"max_bytes": int(max_bytes if max_bytes is not None else d_max),
                "full": _text(full) if full is not None else "drop-oldest",
                "batch_bytes": int(batch_bytes if batch_bytes is not None else d_batch),
                "batch_time": float(batch_time if batch_time is not None else d_time)}

    def console(self, stream, prefix, fmt, colour, *queue):
        forms = {name: form.make(_text(fmt), _text(prefix),
                                 _is_terminal(fd) if colour == b"auto" else bool(colour))
                 for name, fd in (("stdout", 1), ("stderr", 2))}
        return ConsoleSink(self.loop, _text(stream), forms, **self._queue("console", *queue))

    def file(self, path, prefix, fmt, size, keep, age, *queue):
        return FileSink(self.loop, _text(path), form.make(_text(fmt), _text(prefix)),
                        int(size), int(keep), float(age), **self._queue("file", *queue))

    def ring(self, lines, size):
        return RingSink(self.loop, int(lines), int(size))

    @staticmethod
    def _pattern(match):
        """The regex of a Lua pattern, or (None, message)."""
        from .luapattern import compile as compile_pattern
        try:
            return compile_pattern(match), None
        except ValueError as e:
            return None, ("bad pattern '%s': %s" % (_text(match), e)).encode()

    def watch(self, name, stream, match):
        regex, err = self._pattern(match)
        if err:
            return None, err
        watch = Watch(self.loop, _text(name), _text(stream) if stream else None, regex)
        self.bus.watch(watch)
        wid = next(self._ids)
        self._watches[wid] = watch
        return wid

    def unwatch(self, wid):
        watch = self._watches.pop(wid, None)
        if watch is not None:
            self.bus.unwatch(watch)
            watch.line.cancel()

    async def watch_wait(self, wid, timeout=None):
        """The line that matched, or nothing (cancelled, timed out)."""
        watch = self._watches.get(wid)
        if watch is None:
            return (None,)
        await asyncio.wait({watch.line}, timeout=timeout)
        if watch.line.done() and not watch.line.cancelled():
            return (watch.line.result(),)
        return (None,)

    def route(self, names, stream, match, sids, stop):
        regex = None
        if match is not None:
            regex, err = self._pattern(match)
            if err:
                return None, err
        names = None if names is None else frozenset(_text(names[i]) for i in range(1, len(names) + 1))
        sinks = tuple(self._sinks[sids[i]] for i in range(1, len(sids) + 1))
        self.bus.add_route(Route(names, _text(stream) if stream else None, regex, sinks, bool(stop)))
        return True

    def tail(self, sid, name, n):
        sink = self._sinks[sid]
        records = sink.tail(_text(name) if name is not None else None, int(n) if n is not None else None)
        return self._table([{b"time": wall, b"stream": stream.encode(), b"pid": pid, b"line": bytes(line),
                 b"name": nm.encode("utf-8", "surrogateescape")}
                for wall, stream, pid, line, nm in records])

    async def drain(self, deadline):
        return await self.bus.drain(deadline)
