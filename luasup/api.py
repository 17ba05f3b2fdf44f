"""The Python half of the `init` module (lua/init.lua and lua/luasup/*.lua
are the other half).

`core()` is the table Lua sees as luasup.core: plain functions that never
raise into Lua (a Python exception inside a Lua coroutine arrives as an empty
error), returning (nil, message) on failure instead. `ops()` are the waits
a task can yield for; the bridge awaits them."""

import asyncio
import itertools
import os
import time

from . import console, log, procfs, process, signals
from .bridge import OpError, TaskError
from .spawnopts import SpawnRefused, options_from_lua
from .deadline import within

LOG_TAIL_WAIT = 0.1  # seconds a wait for a child also waits for its log streams to end


def exit_code(value):
    """The main chunk's result -> 0..255; None for a number that is not an
    integer (nan and inf too), which must not pass for success."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    if isinstance(value, float) and not value.is_integer():
        return None
    return int(value) & 0xFF


def _lua_list(table):
    return [table[i] for i in range(1, len(table) + 1)]


class Api:
    def __init__(self, loop, supervisor, bridge, capture_limit):
        self.loop = loop
        self.sup = supervisor
        self.bridge = bridge
        self.capture_limit = capture_limit
        self._joined = set()  # tasks someone waits for: their errors go there
        self._followed = {}  # (child, fd) -> the line queue of a stdout=function callback
        # Lua knows a child by a number, not the Child itself: lupa leaks a
        # little Lua heap for each Python object handed to Lua, which would
        # add up in a restart loop. Lua gives the number back once it has
        # dropped the child (release_children).
        self._children = {}  # handle -> Child
        self._tasks = {}  # handle -> asyncio.Task, likewise (a handle names one or the other)
        self._readers = {}  # handle -> the ChunkQueue of its stdout (io.popen)
        self._handles = itertools.count(1)
        # Lua's io library opens files without close-on-exec. Rather than
        # scan /proc/self/fd before every spawn, scan once at start (fds
        # luasup was given) and again only after Lua may have opened one.
        self._fds_opened = True
        # Further groups of init functions, each with a core() and ops() of
        # its own and a Lua module that adds its functions to `init`.
        from .capture import line_cap
        from .ctl.control import Control
        from .lifecycle import Lifecycle
        from .logs.api import Logs
        from .probes import Probes
        self.lifecycle = Lifecycle(loop, supervisor)
        self.logs = Logs(loop, line_cap, bridge.runtime.table, supervisor, self.start_task)
        self.control = Control(loop, supervisor, bridge, self.logs)
        from .reexec import Reexec
        probes = Probes(loop, supervisor)
        self.reexec = Reexec(loop, supervisor, bridge, probes, self.control, self.logs, self.lifecycle,
                             self._children, self._handles)
        self.extensions = [self.lifecycle, probes, self.logs, self.control, self.reexec]

    def core(self):
        table = {
            b"pid": os.getpid(),
            b"signals": {n.encode(): v for n, v in signals.BY_NAME.items()},
            b"max_signal": max(signals.BY_NUMBER),
            b"relayable": {s: True for s in signals.FORWARDABLE},
            b"signal_name": lambda signo: signals.name(int(signo)).encode(),
            b"kill": self.kill,
            b"spawn": self.spawn,
            b"signal_child": self.signal_child,
            b"child_running": lambda handle: self._children[handle].running,
            b"child_lines": self.child_lines,
            b"child_stats": self.child_stats,
            b"pipe_reader": self.pipe_reader,
            b"close_pipe": self.close_pipe,
            b"close_stdin": lambda handle: self._children[handle].close_stdin(),
            b"release": self.release,
            b"start_task": self.lua_task,
            b"run_task": self.run_task,
            b"cancel_task": lambda handle: self._tasks[handle].cancel(),
            b"task_done": lambda handle: self._tasks[handle].done(),
            b"task_name": lambda handle: self._tasks[handle].get_name().encode(),
            b"report_error": self.report_error,
            b"now": self.loop.time,  # the clock of the loop's timers
            b"clock": time.monotonic,  # init.now: not the loop's time cached per step
            b"fds_opened": self.fds_opened,
            b"print": console.stdout.write,
            b"print_err": console.stderr.write,  # relayed lines on stderr (supervise's output probe)
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
            b"line": self.line,
            b"read_pipe": self.read_pipe,
            b"follow_line": self.follow_line,
            b"write": self.write,
            b"ready": self.ready,
            b"join": self.join,
            b"wait_any": self.wait_any,
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

    def spawn(self, argv, lua_opts=None):
        argv = [os.fsdecode(a) for a in _lua_list(argv)]
        try:
            if self.sup.closed:
                raise SpawnRefused("luasup is shutting down")
            opts, name, notify = options_from_lua(self.loop, lua_opts, self.capture_limit)
            opts.log_name = opts.log_name or name or os.path.basename(argv[0])
            opts.close_strays = self._fds_opened
        except SpawnRefused as e:
            return None, ("unable to spawn %s: %s" % (argv[0], e)).encode()
        try:
            child = self.sup.spawn(argv, opts, name)
        except (OSError, ValueError) as e:  # ValueError: e.g. an embedded NUL
            if notify:
                notify.close()
            return None, ("unable to spawn %s: %s" % (argv[0], process.failure_text(e))).encode()
        self._fds_opened = False
        child.notify = notify
        if notify:
            child.on_exit.append(lambda c: c.notify.close())
        handle = next(self._handles)
        self._children[handle] = child
        return handle, child.pid

    def release(self, *handles):
        for handle in handles:
            self._children.pop(handle, None)
            self._tasks.pop(handle, None)
            self._readers.pop(handle, None)

    def fds_opened(self):
        self._fds_opened = True

    def signal_child(self, handle, signo):
        return self._children[handle].signal(int(signo), group=True)

    def child_lines(self, handle, fd):
        capture = self._children[handle].captures.get(int(fd))
        if capture is None or capture.relayed:
            return None, b"lines: this stream of the child is not captured"
        return capture.lines()

    def pipe_reader(self, handle):
        """Read the child's captured stdout in order and without loss, for
        read_pipe (io.popen's handles)."""
        self._readers[handle] = self._children[handle].captures[1].reader()

    def close_pipe(self, handle):
        """Close luasup's ends of an io.popen command's pipes, as pclose
        does: a command still writing gets SIGPIPE rather than waiting on a
        full pipe, one reading gets end of file. Lua may ask after it has
        released the child (a handle it dropped unclosed)."""
        child = self._children.get(handle)
        if child is None:
            return
        child.close_stdin()
        if self._readers.pop(handle, None) is not None:
            child.captures[1].close()

    def child_stats(self, handle):
        child = self._children[handle]
        if not child.running:
            return None, b"not running"
        stats = procfs.tree_stats(child.pid)
        return self.bridge.runtime.table({k.encode(): v for k, v in stats.items()})

    def start_task(self, name, fn, *args):
        task = self.bridge.start(name, fn, *args)
        task.add_done_callback(self._task_done)
        return task

    def lua_task(self, name, fn, *args):
        """start_task for Lua: the task's handle (see _children)."""
        handle = next(self._handles)
        self._tasks[handle] = self.start_task(name, fn, *args)
        return handle

    def run_task(self, name, fn, *args):
        """start_task for a task nobody will wait for or cancel: nothing is
        returned to Lua."""
        self.start_task(name, fn, *args)

    def _task_done(self, task):
        if task.cancelled():
            return
        error = task.exception()
        if isinstance(error, TaskError) and task not in self._joined:
            log.error("error in task %s: %s" % (error.name, error.text))

    def report_error(self, name, text):
        log.error("error in task %s: %s" % (os.fsdecode(name), text.decode("utf-8", "replace")))

    # -- waits -------------------------------------------------------------

    async def sleep(self, seconds):
        await asyncio.sleep(seconds)
        return (seconds,)

    async def sleep_until(self, deadline):
        await asyncio.sleep(max(0.0, deadline - self.loop.time()))
        return ()

    async def wait(self, handle, timeout=None):
        child = self._children[handle]
        # Every exec-and-wait round trip comes through here: awaiting the
        # event directly spares the loop iterations `within` costs.
        if child.running:
            if timeout is None:
                await child.exited.wait()
            else:
                try:
                    await within(child.exited.wait(), timeout)
                except asyncio.TimeoutError:
                    return (None,)
        await self._log_streams_closed(child)
        reason, code = child.outcome()
        return (reason.encode(), code)

    @staticmethod
    async def _log_streams_closed(child):
        """A child's records on the log bus come from its pipes, which end a
        moment after its exit: what waits for the exit gets them in the
        sinks first (bounded: a process it left behind may keep a pipe)."""
        pending = [c.closed.wait() for c in child.captures.values()
                   if c.published and not c.closed.is_set()]
        if pending:
            try:
                await within(asyncio.gather(*pending), LOG_TAIL_WAIT)
            except asyncio.TimeoutError:
                pass

    async def stream(self, handle, fd):
        capture = self._children[handle].captures.get(int(fd))
        if capture is None:  # inherited, null or a file: nothing kept here
            return (None,)
        await capture.closed.wait()
        return (capture.value() or None,)

    async def line(self, queue):
        line, continues = await queue.next()
        return (line, True) if continues else (line,)

    async def read_pipe(self, handle):
        return (await self._readers[handle].next(),)

    async def follow_line(self, handle, fd):
        key = (handle, int(fd))
        queue = self._followed.get(key)
        if queue is None:
            queue = self.child_lines(handle, fd)
            if isinstance(queue, tuple):  # (None, message)
                raise OpError(queue[1].decode())
            self._followed[key] = queue
        line = None
        try:
            line, continues = await queue.next()
        finally:
            if line is None:  # the end of the stream, or the task was cancelled
                del self._followed[key]
        return (line, True) if continues else (line,)

    async def write(self, handle, data):
        child = self._children[handle]
        try:
            await process.write_stdin(self.loop, child, data)
        except OSError as e:
            return (None, (e.strerror or str(e)).encode())
        return (True,)

    async def ready(self, handle, timeout=None):
        child = self._children[handle]
        notify = child.notify
        if notify is None:
            raise OpError("ready: the child was not started with notify = true")

        async def ready_or_gone():
            while not notify.ready and child.running:
                notify.changed = notify.changed or asyncio.Event()
                notify.changed.clear()
                waiter = asyncio.ensure_future(notify.changed.wait())
                exited = asyncio.ensure_future(child.exited.wait())
                await asyncio.wait({waiter, exited}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                exited.cancel()
        try:
            await within(ready_or_gone(), timeout)
        except asyncio.TimeoutError:
            return (None, b"timeout")
        return (True,) if notify.ready else (None, b"exited")

    async def join(self, handle):
        task = self._tasks[handle]
        self._joined.add(task)
        try:
            await asyncio.wait({task})
        finally:
            self._joined.discard(task)
        if task.cancelled():
            raise OpError("the task was cancelled")
        error = task.exception()
        if isinstance(error, TaskError):
            raise OpError(error.text)
        if error is not None:
            raise error
        return task.result()

    async def wait_any(self, handles, n, timeout=None):
        waiters = {}
        tasks = [self._tasks.get(handles[i]) for i in range(1, int(n) + 1)]
        for i, task in enumerate(tasks, 1):
            if task is None:  # a child
                waiters[asyncio.ensure_future(self._children[handles[i]].exited.wait())] = i
            else:
                self._joined.add(task)
                waiters[asyncio.ensure_future(asyncio.wait({task}))] = i
        # that wrapper needs a step of its own to see a task already done
        await asyncio.sleep(0)
        try:
            done, _ = await asyncio.wait(waiters, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            for task in tasks:
                self._joined.discard(task)
        if not done:
            return (None,)
        return (min(waiters[w] for w in done),)

    async def forever(self):
        # init.exit in a function sink's callback: that task delivers the
        # records that come while everything stops, so it goes on
        if asyncio.current_task() in self.logs.tasks:
            return ()
        await self.loop.create_future()
