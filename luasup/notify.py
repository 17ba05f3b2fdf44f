"""Readiness through the sd_notify protocol: a child started with
notify=true gets NOTIFY_SOCKET, a datagram socket of its own, and says
READY=1 there when it is ready to serve."""

import itertools
import os
import socket

_ids = itertools.count(1)


class NotifySocket:
    def __init__(self, loop):
        self._loop = loop
        # abstract namespace: nothing on disk to clean up, and one socket per
        # child tells whose READY=1 it is without checking credentials
        self.address = "@luasup/%d/%d" % (os.getpid(), next(_ids))
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind("\0" + self.address[1:])
        self._sock.setblocking(False)
        self.ready = False
        self.changed = None  # asyncio.Event, created lazily by a waiter
        loop.add_reader(self._sock.fileno(), self._readable)

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
