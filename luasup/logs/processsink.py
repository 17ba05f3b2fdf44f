"""A process sink: records written to the stdin of a long-running consumer
(a log shipper such as vector, or a script of one's own), started by
luasup like any child and restarted when it dies.

Writes never block the loop: the pipe is non-blocking and a full one is
waited for with add_writer, so a consumer that reads slowly only fills
this sink's queue, which then drops as its `full` option says.

When the consumer dies, what it had not read yet is still in the pipe:
FIONREAD gives how much, and the newest bytes written are kept (as many as
the pipe holds), so that tail goes to the next consumer first, from the
start of the line it cuts, followed by the rest of the batch being
written. So a restarted consumer loses nothing luasup wrote; what the dead
one had read but not acted on (its own buffers) is lost, and a line it had
read only the start of is given whole to the next one.

At luasup's exit the queue is drained within the deadline, then the
consumer's stdin is closed: it gets end of file and the rest of the
deadline to finish before the shutdown's final stop (shutdown.py stops it
after every other child, whose last lines it must receive)."""

import array
import asyncio
import fcntl
import os
import signal
import termios
import time

from .. import log, signals
from ..process import failure_text
from .sink import Sink

BACKOFF_FIRST = 0.5  # seconds before the first restart
BACKOFF_MAX = 30.0
BACKOFF_RESET = 60.0  # a consumer that ran this long is restarted after BACKOFF_FIRST again


class ProcessSink(Sink):
    kind = "process"

    def __init__(self, loop, sup, argv, opts, name, form, **queue):
        super().__init__(loop, "process %s" % name, **queue)
        self._sup = sup
        self._argv = argv
        self._opts = opts  # process.Options: stdin a pipe, stdout and stderr luasup's
        self.name = name
        self._form = form
        self._child = None
        self._fd = -1  # the consumer's stdin while it is open
        self._up = asyncio.Event()  # a consumer runs with its stdin open
        self._waiter = None  # the future a write waits on while the pipe is full
        self._watched = -1  # the fd add_writer watches
        self._started_at = 0.0
        self._delay = BACKOFF_FIRST
        self._restart = None  # the TimerHandle of a restart
        self._closing = False
        self._owed = b""  # bytes a delivery (or a dead consumer) left to write
        self._history = bytearray()  # the newest bytes written to the running consumer
        self._keep = 1 << 16  # how many: what its pipe holds
        self._trimmed = False  # the history lacks its first bytes
        self.restarts = 0
        self.resent = self.resent_bytes = 0
        try:
            self._start()
        except (OSError, ValueError) as e:
            raise ValueError("unable to spawn %s: %s" % (argv[0], failure_text(e))) from None

    def encode(self, batch):
        return self._form(batch)

    # -- the consumer ------------------------------------------------------

    def _start(self):
        child = self._sup.spawn(self._argv, self._opts)
        child.stop_last = True
        child.on_exit.append(self._exited)
        child.before_stdin_close.append(self._let_go)
        self._child = child
        self._fd = child.stdin_fd
        try:
            self._keep = fcntl.fcntl(self._fd, fcntl.F_GETPIPE_SZ)
        except OSError:
            pass
        self._history.clear()
        self._trimmed = False
        self._started_at = time.monotonic()
        self._up.set()
        if self._owed:
            self.wake()

    def _let_go(self, child):
        """The consumer's stdin is about to be closed: stop watching it."""
        if self._watched >= 0:
            self.loop.remove_writer(self._watched)
            self._watched = -1
        self._fd = -1
        self._up.clear()
        self._wake_writer()

    def _wake_writer(self):
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _unread(self):
        """Bytes written to the consumer's pipe that nobody has read."""
        if self._fd < 0:
            return 0
        count = array.array("i", [0])
        try:
            fcntl.ioctl(self._fd, termios.FIONREAD, count)
        except OSError:
            return 0
        return count[0]

    def _exited(self, child):
        if child is not self._child:
            return
        self._salvage(self._unread())
        child.close_stdin()
        self._child = None
        reason, code = child.outcome()
        how = "code %d" % code if reason == "exit" else signals.name(code)
        if self._closing:
            (log.warn if (reason, code) != ("exit", 0) else log.debug)(
                "logs: process %s exited (%s)" % (self.name, how))
            return
        if self._sup.closed:
            log.warn("logs: process %s exited (%s): not restarted, luasup is stopping" % (self.name, how))
            return
        if time.monotonic() - self._started_at >= BACKOFF_RESET:
            self._delay = BACKOFF_FIRST
        log.warn("logs: process %s exited (%s): restarting in %g s" % (self.name, how, self._restart_later()))

    def _restart_later(self):
        """Schedule a restart after the backoff; its delay in seconds."""
        delay = self._delay
        self._delay = min(self._delay * 2, BACKOFF_MAX)
        self._restart = self.loop.call_later(delay, self._restart_now)
        return delay

    def _salvage(self, unread):
        """Owe the next consumer what the dead one left in its pipe, from
        the start of the line it cuts (when that is still known)."""
        history = self._history
        if not unread or not history:
            return
        start = max(0, len(history) - unread)
        line_start = history.rfind(b"\n", 0, start) + 1
        if line_start or not self._trimmed:  # the line's start is in history
            start = line_start
        resend = bytes(history[start:])
        self._owed = resend + self._owed
        self.resent += resend.count(b"\n")
        self.resent_bytes += len(resend)
        self._idle.clear()

    def _restart_now(self):
        self._restart = None
        if self._closing or self._sup.closed:
            return
        try:
            self._start()
        except (OSError, ValueError) as e:
            log.warn("logs: process %s: unable to restart %s: %s: retrying in %g s"
                     % (self.name, self._argv[0], failure_text(e), self._restart_later()))
            return
        self.restarts += 1

    # -- delivery ------------------------------------------------------------

    def due_in(self, now):
        if self._owed:
            return 0
        return super().due_in(now)

    def take(self, limit=None):
        items, lines = super().take(limit)
        if not items:  # a delivery of owed bytes alone: done() counts it as one
            with self._lock:
                self._taken += 1
        return items, lines

    async def deliver(self, items, lines):
        if items:
            self._owed += b"".join(items)
        while self._owed:
            if self._fd < 0:
                await self._up.wait()
                continue
            try:
                n = os.write(self._fd, self._owed)
            except BlockingIOError:
                await self._writable()
                continue
            except BrokenPipeError:  # it is dying, or closed its stdin: _exited salvages the pipe
                child = self._child
                if child.running:  # nobody will read that pipe again: a restart will
                    log.warn("logs: %s closed its stdin: restarting it" % self.label)
                    child.signal(signal.SIGTERM, group=True)
                await child.exited.wait()
                continue
            written = self._owed[:n]
            self._owed = self._owed[n:]
            self._history += written
            if len(self._history) > 2 * self._keep:
                del self._history[:-self._keep]
                self._trimmed = True

    async def _writable(self):
        fd = self._watched = self._fd
        self._waiter = self.loop.create_future()
        self.loop.add_writer(fd, self._wake_writer)
        try:
            await self._waiter
        finally:
            self._waiter = None
            if self._watched == fd:  # else _let_go removed it before the fd was closed
                self.loop.remove_writer(fd)
                self._watched = -1

    def done(self, lines, size):
        super().done(lines, size)
        if self._owed:
            self._idle.clear()

    # -- exit ----------------------------------------------------------------

    async def drain(self, deadline, final=True):
        if not final:  # a re-exec: the consumer gets end of file at the exec
            return await super().drain(deadline)
        if self._child is None:  # dead, and luasup starts no child while it stops
            await self.close(deadline)
            return not self._items and not self._owed
        ok = await super().drain(deadline)
        await self.close(deadline)
        return ok

    async def close(self, deadline):
        """No more writes nor restarts; end of file for the consumer, and
        until deadline to exit by itself."""
        self._closing = True
        if self._restart is not None:
            self._restart.cancel()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})
        child = self._child
        if child is None:
            return
        child.close_stdin()
        try:
            await asyncio.wait_for(child.exited.wait(), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            pass

    def stats(self):
        s = super().stats()
        s.update(restarts=self.restarts, resent=self.resent, resent_bytes=self.resent_bytes,
                 pid=self._child.pid if self._child else None)
        return s
