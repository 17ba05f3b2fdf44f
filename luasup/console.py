"""luasup's own output: everything it writes to its fds 1 and 2 (relayed
child lines, `print`, its log lines).

A PID 1 stuck in write() because nobody reads its stdout stops reaping and
ignores SIGTERM, so nothing here ever waits. Each fd has a bounded buffer:
what the reader cannot take at once waits there, a write that does not fit
is dropped whole and counted, and once the output drains again one line on
stderr says how much was lost. Relayed child output is held back instead
(the relay stops reading the child's pipe while the buffer is congested), so
a child that outpaces the reader waits, as it would writing there itself.
A thread writes out what is buffered, so callers on any thread (the event
loop's, the signal thread) only append.

O_NONBLOCK is never set on fds 1 and 2 themselves: it belongs to the open
file description, which children that inherit the fd share, and they would
get EAGAIN. A pipe, FIFO or terminal is reopened through /proc/self/fd
instead (a description of luasup's own, on the same pipe); a socket is
written with MSG_DONTWAIT; a regular file does not block. Where none of
that works (no /proc, a pipe that belongs to another user), only the
thread writes, with ordinary blocking writes."""

import atexit
import functools
import os
import select
import stat
import threading
import time

LIMIT = 1 << 20  # bytes buffered per fd while its reader is not reading
CONGESTED = LIMIT // 4  # past this, relayed children are held back ...
_RELIEVED = LIMIT // 16  # ... until it drains to this
EXIT_FLUSH = 0.5  # seconds spent at exit writing out what is buffered
_CHUNK = 1 << 16


def _nonblocking_sender(fd):
    """(a write function that raises BlockingIOError rather than wait, the
    fd to poll before retrying it), or None when there is none for fd."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return functools.partial(os.write, fd), fd
    if stat.S_ISSOCK(mode):
        import socket
        try:
            sock = socket.socket(fileno=os.dup(fd))
        except OSError:
            return None
        flags = socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL
        return (lambda data: sock.send(data, flags)), sock.fileno()
    try:
        own = os.open("/proc/self/fd/%d" % fd,
                      os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return None
    return functools.partial(os.write, own), own


def _nothing_now(data):
    return 0


class Output:
    def __init__(self, fd, name):
        self.fd = fd
        self.name = name
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._buffer = bytearray()
        self._dropped = 0  # bytes
        self._dropped_lines = 0
        self._send = self._first_send  # writes what it can without waiting
        self._poll_fd = None  # what the thread polls; None: it blocks in write
        self._thread = None
        self._relieved = []  # callbacks for when a congestion is over

    def _first_send(self, data):
        sender = _nonblocking_sender(self.fd)
        if sender is None:
            self._send = _nothing_now  # only the thread writes, and may wait
        else:
            self._send, self._poll_fd = sender
        return self._send(data)

    def write(self, data):
        """Write data (whole lines) now, or buffer it, or drop it."""
        with self._lock:
            if self._buffer:
                written = 0
            else:
                try:
                    written = self._send(data)
                except BlockingIOError:
                    written = 0
                except OSError:
                    return  # the reader is gone for good: nowhere to write
            if written < len(data):
                self._hold(data, written)
                return
            if not self._dropped:
                return
            report = self._drop_report()  # drops the thread did not see
        _report(report)

    def _hold(self, data, written):
        """Buffer what was not written, or drop it whole if it does not fit.
        The rest of a line already begun must follow it, whatever the limit."""
        if written or len(self._buffer) + len(data) <= LIMIT:
            self._buffer += data[written:]
            self._wake()
        else:
            self._dropped += len(data)
            self._dropped_lines += data.count(b"\n")

    def congested(self):
        """Whether a writer that can wait (a relay, which can stop reading
        its child) should, rather than have its lines dropped."""
        return len(self._buffer) > CONGESTED

    def when_relieved(self, callback):
        """Call callback, from the writer thread, once the congestion is over."""
        with self._lock:
            if len(self._buffer) > _RELIEVED:
                self._relieved.append(callback)
                return
        callback()

    def _drop_report(self):
        if not self._dropped:
            return None
        report = ("dropped %d lines (%d bytes) of output: %s was not being read"
                  % (self._dropped_lines, self._dropped, self.name))
        self._dropped = self._dropped_lines = 0
        return report

    def _wake(self):
        if self._thread is None:
            self._thread = threading.Thread(target=self._drain, name="luasup %s" % self.name,
                                            daemon=True)
            self._thread.start()
        self._cond.notify_all()

    def _drain(self):
        while True:
            with self._lock:
                while not self._buffer:
                    self._cond.wait()
                chunk = bytes(self._buffer[:_CHUNK])
            try:
                written = self._write_out(chunk)
            except OSError:
                written = None  # the reader is gone: drop what waits for it
            report = relieved = None
            with self._lock:
                if written is None:
                    self._buffer.clear()
                else:
                    del self._buffer[:written]
                if self._relieved and len(self._buffer) <= _RELIEVED:
                    relieved, self._relieved = self._relieved, []
                if not self._buffer:
                    self._cond.notify_all()
                    if written is not None:
                        report = self._drop_report()
            for callback in relieved or ():
                callback()
            if report:
                _report(report)

    def _write_out(self, chunk):
        if self._poll_fd is None:
            return os.write(self.fd, chunk)  # only this thread waits here
        poller = select.poll()
        poller.register(self._poll_fd, select.POLLOUT)
        while True:
            try:
                return self._send(chunk)
            except BlockingIOError:
                poller.poll()

    def wait_drained(self, deadline):
        with self._cond:
            while self._buffer:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True


def _report(text):
    from . import log  # log writes through this module
    log.warn(text)


stdout = Output(1, "stdout")
stderr = Output(2, "stderr")


def output(fd):
    return stdout if fd == 1 else stderr


def flush(timeout=EXIT_FLUSH):
    """Give what is buffered up to `timeout` seconds to get out."""
    deadline = time.monotonic() + timeout
    stdout.wait_drained(deadline)
    stderr.wait_drained(deadline)


def flush_c_stdio():
    """What Lua's io library left in C stdio's buffers goes out: only it
    writes through C stdio."""
    import sys
    if "lupa" in sys.modules:
        import ctypes
        ctypes.CDLL(None).fflush(None)


atexit.register(flush)
