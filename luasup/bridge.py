"""Runs Lua tasks as asyncio tasks.

A task is a coroutine in the Lua state (see lua/luasup/task.lua). Resuming
it runs Lua until it finishes, fails, or yields a request: an op name and
its arguments. The op is awaited here and its results resume the coroutine.
While one task waits, the loop runs the others."""

import itertools
import time

from . import intake, log

# A step that keeps the loop this long delays signals, exits and timers.
_SLOW_STEP = 1.0


class TaskError(Exception):
    """A Lua task ended with an error; `text` has the message and traceback."""

    def __init__(self, name, text):
        super().__init__(text)
        self.name = name
        self.text = text


class OpError(Exception):
    """Raised by an op to make the waiting Lua call raise this message."""


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class Bridge:
    def __init__(self, loop, runtime):
        self.loop = loop
        self.runtime = runtime
        self.ops = {}  # op name (bytes) -> async function returning a tuple
        self.tasks = set()
        lua_task = runtime.require("luasup.task")
        self._create = lua_task.create
        self._resume = lua_task.resume
        self._drop = lua_task.drop
        self._raise = lua_task.RAISE
        self._ids = itertools.count(1)
        self._warned_slow = False

    def start(self, name, fn, *args):
        tid = next(self._ids)
        self._create(tid, name.encode() if isinstance(name, str) else name, fn, *args)
        task = self.loop.create_task(self._drive(tid, _text(name)), name=_text(name))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        # a task cancelled before its first step never runs _drive's finally
        task.add_done_callback(lambda _: self._drop(tid))
        return task

    async def _drive(self, tid, name):
        values = ()
        try:
            while True:
                started = time.monotonic()
                intake.busy = (name, started)
                out = self._resume(tid, *values)
                intake.busy = None
                took = time.monotonic() - started
                if took > _SLOW_STEP and not self._warned_slow:
                    self._warned_slow = True
                    log.warn("task %s kept the event loop busy for %.1f s without yielding"
                             % (name, took))
                if not isinstance(out, tuple):
                    out = (out,)
                tag = out[0]
                if tag == b"yield":
                    values = await self._carry_out(out[1], out[2:])
                elif tag == b"done":
                    return out[1:]
                else:
                    raise TaskError(name, _text(out[1]))
        finally:
            self._drop(tid)

    async def _carry_out(self, op_name, args):
        op = self.ops.get(op_name)
        if op is None:
            return (self._raise, b"luasup: unknown request " + bytes(op_name))
        try:
            return await op(*args)
        except OpError as e:
            return (self._raise, str(e).encode())
