"""The control socket: a unix socket that only allowed uids may use, one
JSON-RPC request per line, answered in order on each connection.

Everything a client can do is bounded, so that no client can disturb the
supervision: the length of a request, the number of connections, what is
queued for a client that does not read (it is dropped), how long a
connection may sit idle. What a request means is the handler's business
(control.py)."""

import asyncio
import collections
import errno
import os
import socket
import stat
import struct

from .. import log
from . import protocol
from .protocol import Failure

MAX_CONNECTIONS = 64
# Of those, how many uids other than root and luasup's own may hold: the
# rest stay free for the operator.
MAX_OTHERS = 48
MAX_OUTPUT = 4 << 20  # bytes not yet sent to a client before it is dropped
# Past this much unsent output a connection counts as not writable: a
# follower then skips what it would have sent (control.py) rather than
# fill MAX_OUTPUT and be dropped.
WRITE_HIGH, WRITE_LOW = 1 << 20, 256 << 10
MAX_PENDING = 16  # requests read ahead of their answers before reading pauses
IDLE = 300.0  # seconds without a request before a connection is closed
_PEERCRED = struct.Struct("3i")


class Unavailable(Exception):
    """The socket cannot be served (the message says why)."""


def _remove_stale(path):
    """A socket file no one answers on is left from an earlier run: remove it.
    A live one, or something else at the path, is not ours to touch."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise Unavailable("%s exists and is not a socket" % path)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        os.unlink(path)
        return
    except OSError as e:
        raise Unavailable("%s: %s" % (path, e.strerror or e)) from None
    finally:
        probe.close()
    raise Unavailable("another luasup answers on %s" % path)


def _check_directory(directory):
    """Only a directory no one else can write to: whoever could would swap
    the socket for one of their own. Root may serve in one owned by
    another user (an image's user: /run/luasup made for it)."""
    st = os.lstat(directory)
    me = os.getuid()
    if not stat.S_ISDIR(st.st_mode):
        raise Unavailable("%s is not a directory" % directory)
    if st.st_uid not in (me, 0) and me != 0:
        raise Unavailable("%s belongs to uid %d, not to luasup's uid %d" % (directory, st.st_uid, me))
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise Unavailable("%s can be written by others (mode %o)" % (directory, stat.S_IMODE(st.st_mode)))


def bind(path, shared):
    """A listening socket at path, mode 0600 in a 0700 directory (0666 in a
    0711 one when `shared`: uids other than ours are then told apart by
    their credentials, not by the file's mode)."""
    directory = os.path.dirname(path) or "."
    try:
        os.makedirs(directory, mode=0o711 if shared else 0o700, exist_ok=True)
        _check_directory(directory)
        if shared and os.stat(directory).st_uid == os.getuid():
            os.chmod(directory, os.stat(directory).st_mode | 0o011)
        _remove_stale(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # the mode is right from the moment the file exists: no window in
        # which another user could connect
        old = os.umask(0o111 if shared else 0o177)
        try:
            sock.bind(path)
        finally:
            os.umask(old)
        sock.listen(64)
        sock.setblocking(False)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise Unavailable("another luasup answers on %s" % path) from None
        raise Unavailable("%s: %s" % (e.filename or path, e.strerror or e)) from None
    return sock, os.stat(path).st_ino


class Server:
    """Serves `handler(connection, method, params) -> result` (a coroutine;
    raises Failure) on the socket at path, to the uids `admit(uid)` lets in."""

    def __init__(self, loop, path, handler, admit):
        self.loop = loop
        self.path = path
        self.handler = handler
        self.admit = admit
        self.connections = set()
        self._server = None
        self._sock = None
        self._held = None  # the listening socket's fd while a re-exec hands it over
        self.inode = None

    async def listen(self, sock, inode):
        """Serve sock, bound at path with that inode (see bind)."""
        self.inode = inode
        self._sock = sock
        self._server = await self.loop.create_unix_server(lambda: Connection(self), sock=sock)

    @property
    def holding(self):
        return self._held is not None

    def settled(self):
        """Whether no request is in progress and every answer is written
        (a follower's notifications excepted: it is not handed over)."""
        return all(c.settled() for c in self.connections if not c.following)

    # -- re-exec (handover.py) ---------------------------------------------

    def hold(self):
        """A re-exec begins: accept no more (new clients wait in the
        backlog, for the new luasup) and read no more requests (they wait
        in their sockets); answer those already read (see settled)."""
        self._held = os.dup(self._sock.fileno())  # the listening socket outlives the server
        # The standard loop accepts through a reader of the socket; closing
        # its server would break the connections it accepted but has not
        # made yet. uvloop's must be closed (the dup keeps the socket).
        if not self.loop.remove_reader(self._sock.fileno()):
            self._server.close()
            self._server = None
        for conn in self.connections:
            conn.freeze()  # and those made from now on (connection_made)

    def release(self):
        """The re-exec did not happen: serve on."""
        if self._held is None:
            return
        if self._server is not None:
            self._server.close()
        sock = socket.socket(fileno=self._held)
        self._held = None
        self.loop.create_task(self.listen(sock, self.inode))
        for conn in self.connections:
            conn.thaw()

    def handover(self):
        """The socket and the connections with nothing under way, for the
        new luasup (see adopt). The exec closes the others: a follower's
        notifications would not resume, and a request still being answered
        (one that outlasted the hold) would never be."""
        return {"path": self.path, "fd": self._held, "inode": self.inode,
                "connections": [c.handover() for c in self.connections
                                if not (c.following or c.closed) and c.settled()]}

    async def adopt(self, carried):
        """Serve the connections a re-exec handed over, from where they were."""
        for c in carried:
            _, conn = await self.loop.connect_accepted_socket(
                lambda: Connection(self), sock=socket.socket(fileno=c["fd"]))
            if c["buffer"]:
                conn.data_received(c["buffer"].encode("latin-1"))

    def close(self):
        if self._server is None and self._held is None:
            return
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._held is not None:
            os.close(self._held)
            self._held = None
        for conn in list(self.connections):
            conn.drop()
        remove_if_ours(self.path, self.inode)


def remove_if_ours(path, inode):
    """Remove the socket file at path if it is still ours (that inode): a
    newer luasup may have taken the path."""
    try:
        if os.lstat(path).st_ino == inode:
            os.unlink(path)
    except OSError:
        pass


class Connection(asyncio.Protocol):
    def __init__(self, server):
        self.server = server
        self.transport = None
        self.uid = self.pid = None
        self.number = None  # given by the handler when it needs to know the connection again
        self.following = False  # logs -f or events: notifications, never idle
        self.writable = True  # false while more than WRITE_HIGH is unsent
        self.on_writable = []  # callables run each time it is writable again
        self.on_close = []  # callables run once the connection is gone
        self._buffer = bytearray()
        self._pending = collections.deque()
        self._worker = None
        self._idle = None
        self._eof = False
        self._too_long = False  # a line past MAX_REQUEST came: answer what came before, then close
        self._closed = False
        self._frozen = False  # a re-exec hands it over: no more reading

    # -- asyncio.Protocol --------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        self.pid, self.uid, _ = _PEERCRED.unpack(
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
        others = self.uid not in (0, os.getuid())
        if not self.server.admit(self.uid):  # told at once, and never holding a slot
            self._refuse(protocol.PERMISSION_DENIED,
                         "permission denied: uid %d may not use this socket" % self.uid)
            return
        if len(self.server.connections) >= MAX_CONNECTIONS or others and sum(
                c.uid not in (0, os.getuid()) for c in self.server.connections) >= MAX_OTHERS:
            self._refuse(protocol.TOO_MANY, "too many connections (%d)" % MAX_CONNECTIONS)
            return
        self.server.connections.add(self)
        transport.set_write_buffer_limits(high=WRITE_HIGH, low=WRITE_LOW)
        self._arm_idle()
        if self.server.holding:  # accepted before a re-exec's hold, made a connection after
            self.freeze()

    def _refuse(self, code, message):
        self._closed = True
        self.transport.write(protocol.error(None, code, message))
        self.transport.close()

    def data_received(self, data):
        if self._closed or self._too_long:
            return
        self._buffer += data
        while True:
            end = self._buffer.find(b"\n")
            if end > protocol.MAX_REQUEST or end < 0 and len(self._buffer) > protocol.MAX_REQUEST:
                # the requests before it are answered first, then the refusal, then the close
                self._too_long = True
                self._buffer.clear()
                self.transport.pause_reading()
                self._start_work()
                return
            if end < 0:
                break
            line = bytes(self._buffer[:end])
            del self._buffer[:end + 1]
            if line.strip():
                self._pending.append(line)
        if self._pending:
            if len(self._pending) >= MAX_PENDING:
                self.transport.pause_reading()
            self._start_work()
            self._arm_idle()  # no idle close while a request runs

    def eof_received(self):
        # the client may half-close after its requests: answer them first
        self._eof = True
        if self._buffer.strip() and not self._too_long:
            self._pending.append(bytes(self._buffer))
            self._buffer.clear()
        if self._pending and not self._closed:
            self._start_work()
        elif self._worker is None:
            self._finish_if_done()
        return True

    def connection_lost(self, exc):
        self._gone()

    def pause_writing(self):
        self.writable = False

    def resume_writing(self):
        self.writable = True
        for callback in tuple(self.on_writable):
            callback()

    # -- requests ----------------------------------------------------------

    def _start_work(self):
        """Answer what is pending, in a task of the connection's own (one)."""
        if self._worker is None:
            self._worker = self.server.loop.create_task(self._work())

    async def _work(self):
        try:
            while self._pending and not self._closed:
                line = self._pending.popleft()
                if len(self._pending) < MAX_PENDING // 2 and not self._too_long and not self._frozen:
                    self.transport.resume_reading()
                self.send(await self._answer(line))
                await asyncio.sleep(0)  # a client pouring requests must not hold the loop
        finally:
            self._worker = None
        self._arm_idle()  # from the last answer on
        if self._too_long and not self._closed:
            self.send(protocol.error(None, protocol.INVALID_REQUEST,
                                     "request too long (over %d bytes)" % protocol.MAX_REQUEST))
            self.drop()
        self._finish_if_done()

    async def _answer(self, line):
        rid = None
        try:
            rid, method, params = protocol.parse(line)
            return protocol.answer(rid, await self.server.handler(self, method, params))
        except Failure as e:
            return protocol.error(e.rid if e.rid is not None else rid, e.code, e.message)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a defect here must not end the server
            log.error("ctl: internal error: %s: %s" % (type(e).__name__, e))
            return protocol.error(rid, protocol.INTERNAL_ERROR, "internal error: %s" % e)

    def _finish_if_done(self):
        # a follower's end of input is its leaving: nothing would tell us
        # otherwise until a notification failed to reach it
        if self._eof and not self._pending and not self._closed:
            self.drop()

    # -- output ------------------------------------------------------------

    def send(self, data):
        """Queue data for the client; False (and the client dropped) when
        it has left more than MAX_OUTPUT unread."""
        if self._closed:
            return False
        if self.transport.get_write_buffer_size() + len(data) > MAX_OUTPUT:
            log.debug("ctl: dropping a client (uid %d, pid %d) that does not read"
                      % (self.uid, self.pid))
            self.drop(abort=True)
            return False
        self.transport.write(data)
        return True

    @property
    def closed(self):
        return self._closed

    def freeze(self):
        self._frozen = True
        if not self._closed:
            self.transport.pause_reading()

    def thaw(self):
        self._frozen = False
        if not self._closed and not self._too_long and len(self._pending) < MAX_PENDING:
            self.transport.resume_reading()

    def handover(self):
        """Its socket, and the start of a request not yet whole."""
        return {"fd": self.transport.get_extra_info("socket").fileno(),
                "buffer": bytes(self._buffer).decode("latin-1")}

    def settled(self):
        """No request in progress, and every answer written out."""
        return self._closed or (self._worker is None and not self._pending
                                and self.transport.get_write_buffer_size() == 0)

    def follow(self, unfollow):
        """From now on the connection gets notifications; `unfollow` is
        called once it is gone."""
        self.following = True
        self.on_close.append(unfollow)
        self._arm_idle()

    # -- the end -----------------------------------------------------------

    def _arm_idle(self):
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if not self.following and not self._closed and self._worker is None:
            self._idle = self.server.loop.call_later(IDLE, self.drop)

    def drop(self, abort=False):
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort() if abort else self.transport.close()
        self._gone()

    def _gone(self):
        if self._closed and self not in self.server.connections:
            return
        self._closed = True
        self.server.connections.discard(self)
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self._worker is not None:
            self._worker.cancel()
        self.on_writable = []
        callbacks, self.on_close = self.on_close, []
        for callback in callbacks:
            callback()
