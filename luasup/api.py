"""The Python half of the `init` module (lua/init.lua is the other half).

`core()` is the table Lua sees as luasup.core: plain functions that never
raise into Lua (a Python exception inside a Lua coroutine arrives as an empty
error), returning (nil, message) on failure instead. `ops()` are the waits
a task can yield for; the bridge awaits them."""

import asyncio
import os

from . import log, signals
from .bridge import OpError


def exit_code(value):
    """A Lua value given to os.exit or returned by the main chunk -> 0..255."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    if isinstance(value, float) and not value.is_integer():
        return 0
    return int(value) & 0xFF


class Api:
    def __init__(self, loop, supervisor, bridge, capture_limit):
        self.loop = loop
        self.sup = supervisor
        self.bridge = bridge
        self.capture_limit = capture_limit
        # Further groups of init functions, each with a core() and ops() of
        # its own and a Lua module that adds its functions to `init`.
        from .probes import Probes
        self.extensions = [Probes(loop, supervisor)]

    def core(self):
        table = {
            b"pid": os.getpid(),
            b"signals": {n.encode(): v for n, v in signals.BY_NAME.items()},
            b"max_signal": max(signals.BY_NUMBER),
            b"kill": self.kill,
            b"spawn": self.spawn,
            b"signal_child": self.signal_child,
            b"child_running": self.child_running,
            b"start_task": self.start_task,
            b"report_error": self.report_error,
            b"now": self.loop.time,
            b"request_exit": self.request_exit,
        }
        for ext in self.extensions:
            table.update(ext.core())
        return table

    def ops(self):
        table = {
            b"sleep": self.sleep,
            b"sleep_until": self.sleep_until,
            b"wait": self.wait,
            b"stream": self.stream,
            b"forever": self.forever,
        }
        for ext in self.extensions:
            table.update(ext.ops())
        return table

    # -- plain calls -------------------------------------------------------

    def kill(self, pid, signo):
        try:
            os.kill(int(pid), int(signo))
        except OSError as e:
            return None, e.strerror.encode()
        return 0

    def spawn(self, *argv):
        try:
            child = self.sup.spawn([os.fsdecode(a) for a in argv],
                                   capture_limit=self.capture_limit)
        except OSError as e:
            return None, ("unable to spawn %s: %s" % (os.fsdecode(argv[0]), e.strerror)).encode()
        except ValueError as e:  # e.g. an embedded NUL byte
            return None, ("unable to spawn %s: %s" % (os.fsdecode(argv[0]), e)).encode()
        return child, child.pid

    def signal_child(self, child, signo):
        return child.signal(int(signo), group=True)

    def child_running(self, child):
        return child.running

    def start_task(self, name, fn, *args):
        self.bridge.start(name, fn, *args)

    def report_error(self, name, text):
        log.error("error in task %s: %s" % (os.fsdecode(name), text.decode("utf-8", "replace")))

    def request_exit(self, code):
        self.sup.request_exit(exit_code(code))

    # -- waits -------------------------------------------------------------

    async def sleep(self, seconds):
        await asyncio.sleep(seconds)
        return (seconds,)

    async def sleep_until(self, deadline):
        await asyncio.sleep(max(0.0, deadline - self.loop.time()))
        return ()

    async def wait(self, child):
        await child.exited.wait()
        reason, code = child.outcome()
        return (reason.encode(), code)

    async def stream(self, child, fd):
        capture = child.captures.get(int(fd))
        if capture is None:
            raise OpError("this stream of the child is not captured")
        await capture.closed.wait()
        return (capture.value() or None,)

    async def forever(self):
        await self.loop.create_future()
