"""The log bus's functions for Lua (lua/logs.lua is the Lua half, with the
argument checks). Like api.Api, core functions never raise into Lua:
failures come back as (nil, message)."""

import asyncio
import errno
import itertools
import os

from . import bus, record
from .bus import Bus, Route, Watch

# Each kind of sink, and the forms, are imported by the first declaration
# of that kind: every script pays for this module at start, few for them all.

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
    def __init__(self, loop, line_cap, table, sup, start_task):
        self.loop = loop
        self._table = table  # a Lua table from a dict or list
        self._sup = sup
        self._start_task = start_task  # (name, fn, *args) -> the asyncio task of a Lua task
        self.tasks = set()  # function sinks' tasks: they run on until the sinks are drained
        self._stdin = None  # the StdinFan, once logs.stdin was called
        record.LINE_CAP = line_cap
        self._sinks = {}  # id -> Sink
        self._watches = {}  # id -> bus.Watch
        self._ids = itertools.count(1)
        self._default = None
        self.carried_rings = []  # what a re-exec handed over of the rings, in order
        self.bus = bus.current = Bus(loop, self._default_sink)
        self.bus.muted = self.tasks

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
            b"log_process": self._declare(self.process),
            b"log_fn": self.fn,
            b"log_stdin": self.stdin,
            b"log_stdin_stats": lambda: self._lua_stats(self._stdin),
            b"log_http": self._declare(self.http),
            b"log_route": self.route,
            b"log_stats": lambda sid: self._lua_stats(self._sinks[sid]),
            b"log_flush": lambda sid: self._sinks[sid].flush(),
            b"log_reopen": lambda sid: self._sinks[sid].reopen(),
            b"log_tail": self.tail,
            b"log_configured": lambda: self.bus.configured,
            b"log_watch": self.watch,
            b"log_unwatch": self.unwatch,
        }

    def ops(self):
        return {b"log_watch_wait": self.watch_wait,
                b"log_fn_next": lambda sid, errors: self._sinks[sid].next_batch(errors)}

    def _lua_stats(self, sink):
        return self._table({k.encode(): (v.encode() if isinstance(v, str) else v)
                            for k, v in sink.stats().items()})

    def _declare(self, make):
        def declare(*args):
            try:
                sink = make(*args)
            except ValueError as e:
                return None, str(e).encode()
            except OSError as e:
                why = "it is a FIFO with no reader" if e.errno == errno.ENXIO else e.strerror
                return None, ("cannot open %s: %s" % (_text(e.filename), why)).encode()
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
        from . import form
        from .consolesink import ConsoleSink
        forms = {name: form.make(_text(fmt), _text(prefix),
                                 _is_terminal(fd) if colour == b"auto" else bool(colour))
                 for name, fd in (("stdout", 1), ("stderr", 2))}
        return ConsoleSink(self.loop, _text(stream), forms, **self._queue("console", *queue))

    def file(self, path, prefix, fmt, size, keep, age, *queue):
        from . import form
        from .filesink import FileSink
        sink = FileSink(self.loop, _text(path), form.make(_text(fmt), _text(prefix)),
                        int(size), int(keep), float(age), **self._queue("file", *queue))
        # two sinks on one file would each rotate it under the other
        if any(isinstance(s, FileSink) and s.same_file(sink) for s in self._sinks.values()):
            sink.close()
            raise ValueError("%s is the file of another file sink already: route both to that one"
                             % sink.path)
        return sink

    def ring(self, lines, size):
        from .ring import RingSink
        sink = RingSink(self.loop, int(lines), int(size))
        if self.carried_rings:  # the policy declares its rings in the same order again
            sink.adopt(self.carried_rings.pop(0))
        return sink

    def handover(self):
        """What the ring sinks keep, in the order they were declared, for
        the luasup a re-exec hands over to."""
        return [s.handover() for s in self._sinks.values() if s.kind == "ring"]

    def process(self, argv, exec_opts, name, fmt, prefix, *queue):
        from ..spawnopts import SpawnRefused, options_from_lua
        from . import form
        from .processsink import ProcessSink
        argv = [os.fsdecode(argv[i]) for i in range(1, len(argv) + 1)]
        if self._sup.closed:
            raise ValueError("unable to spawn %s: luasup is shutting down" % argv[0])
        try:
            opts, _, _ = options_from_lua(self.loop, exec_opts, 0)
        except SpawnRefused as e:
            raise ValueError("unable to spawn %s: %s" % (argv[0], e)) from None
        opts.stdin, opts.stdout, opts.stderr = "pipe", "inherit", "inherit"
        name = _text(name) if name is not None else os.path.basename(argv[0])
        return ProcessSink(self.loop, self._sup, argv, opts, name, form.make(_text(fmt), _text(prefix)),
                           **self._queue("process", *queue))

    def fn(self, name, runner, *queue):
        """A function sink, and the Lua task that runs its callback:
        runner(sid) (lua/logs.lua)."""
        name = _text(name)
        from .functionsink import FunctionSink
        sid = self._declare(lambda *q: FunctionSink(self.loop, name, self._table,
                                                    **self._queue("function", *q)))(*queue)
        if isinstance(sid, tuple):  # (None, message)
            return sid
        task = self._start_task(name, runner, sid)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return sid

    def stdin(self, names):
        from .stdinfan import StdinFan
        names = [_text(names[i]) for i in range(1, len(names) + 1)]
        if self._stdin is not None:
            return None, ("luasup's stdin already goes to %s" % ", ".join(sorted(self._stdin.names))).encode()
        self._stdin = StdinFan(self.loop, self._sup, names)
        return True

    def http(self, url, fmt, labels, headers, timeout, *queue):
        """labels, headers: Lua lists of names and values, flattened."""
        from .httpsink import HttpSink  # only policies that ship logs pay for it
        labels = [_text(labels[i]) for i in range(1, len(labels) + 1)]
        headers = [bytes(headers[i]) for i in range(1, len(headers) + 1)]
        return HttpSink(self.loop, _text(url), _text(fmt), zip(labels[::2], labels[1::2]),
                        list(zip(headers[::2], headers[1::2])), float(timeout),
                        **self._queue("http", *queue))

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
        try:
            await asyncio.wait({watch.line}, timeout=timeout)
        finally:
            self.unwatch(wid)  # a watch is waited for once: it costs a search of every line
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

    def ring_sink(self, sid=None):
        """The ring sink sid, or the first ring declared; None without one."""
        if sid is not None:
            return self._sinks.get(sid)
        return next((s for s in self._sinks.values() if s.kind == "ring"), None)

    def tail(self, sid, name, n):
        sink = self._sinks[sid]
        records = sink.tail(_text(name) if name is not None else None, int(n) if n is not None else None)
        return self._table([{b"time": wall, b"stream": stream.encode(), b"pid": pid, b"line": bytes(line),
                 b"name": nm.encode("utf-8", "surrogateescape")}
                for wall, stream, pid, line, nm in records])

    async def drain(self, deadline):
        return await self.bus.drain(deadline)

    async def flush(self, deadline):
        return await self.bus.flush(deadline)
