"""Readiness through the sd_notify protocol: a child started with
notify=true gets NOTIFY_SOCKET, a datagram socket of its own, and says
READY=1 there when it is ready to serve."""

import errno
import itertools
import os
import socket

_ids = itertools.count(1)


class NotifySocket:
    def __init__(self, loop, carried=None):
        """carried: a socket a re-exec handed over (see handover)."""
        self._loop = loop
        if carried is None:
            self._sock, self.address = _bound()
            self.ready = False
        else:
            self._sock = socket.socket(fileno=carried["fd"])
            self.address, self.ready = carried["address"], carried["ready"]
        self._sock.setblocking(False)
        self.changed = None  # asyncio.Event, created lazily by a waiter
        loop.add_reader(self._sock.fileno(), self._readable)

    def handover(self):
        """For the luasup a re-exec hands over to: the child goes on using it."""
        return {"fd": self._sock.fileno(), "address": self.address, "ready": self.ready}

    def _readable(self):
        try:
            data = self._sock.recv(4096)
        except OSError:
            return
        if b"READY=1" in data.split(b"\n"):
            self.ready = True
        if self.changed is not None:
            self.changed.set()

    def close(self):
        if self._sock.fileno() >= 0:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
        if self.changed is not None:
            self.changed.set()


def _bound():
    """A datagram socket bound in the abstract namespace (nothing on disk to
    clean up; one socket per child tells whose READY=1 it is without
    checking credentials), and its address. After a re-exec, the sockets
    handed over hold some of this pid's names: the next free one is taken."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    while True:
        address = "@luasup/%d/%d" % (os.getpid(), next(_ids))
        try:
            sock.bind("\0" + address[1:])
            return sock, address
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                sock.close()
                raise
