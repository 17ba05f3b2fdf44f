"""A blocking client of the control socket, for `luasup ctl`: no event
loop, so that a probe run every few seconds costs little more than
Python's own start-up."""

import errno
import json
import os
import socket
import struct

from . import protocol
from .protocol import Failure


class Unreachable(Exception):
    """No luasup answers at the path, or we may not talk to it."""


class Gone(Unreachable):
    """Nobody serves the socket any more (refused, or no file)."""


class Cut(Unreachable):
    """luasup closed the connection, or it was lost, before the answer."""


class Client:
    def __init__(self, path, timeout=None):
        self.path = path
        self.timeout = timeout
        self._ids = 0
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout if timeout is not None else 10.0)
        try:
            self._sock.connect(path)
        except OSError as e:
            self._sock.close()
            if e.errno in (errno.EACCES, errno.EPERM):
                raise Unreachable("permission denied: %s" % path) from None
            gone = Gone if e.errno in (errno.ECONNREFUSED, errno.ENOENT) else Unreachable
            raise gone("cannot reach luasup at %s: %s" % (path, e.strerror or e)) from None
        self._trust(path)
        self._sock.settimeout(timeout)
        self._file = self._sock.makefile("rb")

    def _trust(self, path):
        """The server must be root or us; root also trusts the owner of the
        socket's directory (an image's user, in /run/luasup made for it).
        Anyone else may have put a socket of their own where luasup's
        should be."""
        uid = struct.unpack("3i", self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                         struct.calcsize("3i")))[1]
        me = os.getuid()
        if uid in (0, me):
            return
        if me == 0 and uid == os.stat(os.path.dirname(os.path.abspath(path))).st_uid:
            return
        self._sock.close()
        raise Unreachable("%s is served by uid %d, not by root or uid %d: not talking to it"
                          % (path, uid, me))

    def close(self):
        self._file.close()
        self._sock.close()

    def closed(self):
        """Whether luasup has closed the connection (as it does to one left
        idle), seen without sending anything."""
        import select
        if not select.select([self._sock], [], [], 0)[0]:
            return False
        try:
            return self._sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def call(self, method, params=None):
        """The result of method, or Failure."""
        self._ids += 1
        try:
            # MSG_NOSIGNAL: a closed socket is an error here, not a SIGPIPE
            # (which the CLI leaves at its default for `ctl logs -f | head`)
            self._sock.sendall(protocol.request(self._ids, method, params or {}), socket.MSG_NOSIGNAL)
        except OSError as e:
            # luasup may have refused us at once (and closed): its reason first
            try:
                refusal = self._read(at_end=None)
            except Unreachable:
                refusal = None
            if refusal and "error" in refusal:
                raise _failure(refusal) from None
            raise Cut("lost the connection to luasup at %s: %s"
                      % (self.path, e.strerror or e)) from None
        while True:
            message = self._read()
            if message.get("id") == self._ids or ("error" in message and message.get("id") is None):
                break
        if "error" in message:
            raise _failure(message)
        return message.get("result")

    def notifications(self):
        """(method, params) of each notification, until luasup closes."""
        self._sock.settimeout(None)
        while True:
            message = self._read(at_end=None)
            if message is None:
                return
            if "method" in message:
                yield message["method"], message.get("params") or {}

    def _read(self, at_end=Unreachable):
        try:
            line = self._file.readline(protocol.MAX_REQUEST * 64)
        except socket.timeout:
            raise Unreachable("no answer from luasup at %s within %g s"
                              % (self.path, self.timeout)) from None
        except OSError as e:
            raise Cut("lost the connection to luasup at %s: %s"
                      % (self.path, e.strerror or e)) from None
        if not line.endswith(b"\n"):  # the end, or a line cut short by it
            if at_end is None and not line:
                return None
            raise Cut("luasup at %s closed the connection" % self.path)
        try:
            return json.loads(line)
        except ValueError:
            raise Unreachable("luasup at %s sent a line that is not JSON" % self.path) from None


def _failure(message):
    """The Failure an error answer says."""
    error = message["error"]
    return Failure(error.get("code", protocol.INTERNAL_ERROR), error.get("message", "failed"))
