"""A proxy in front of a service that cannot take a listening socket of
luasup's (init.proxy): luasup accepts on the listener and, once the gate is
open (the service is ready), connects each client to the service's own
address and copies bytes both ways. While the gate is closed, clients are
held — they are not refused — and their arrival is the demand that starts
an on-demand service.

Bounded: HOLD_LIMIT clients held at most (more are closed), each for
HOLD_TIME seconds at most; CHUNK bytes in flight per direction."""

import asyncio
import os
import socket

from . import log
from .deadline import within

HOLD_LIMIT = 1024
HOLD_TIME = 60.0
CHUNK = 65536


class Proxy:
    def __init__(self, loop, listener, family, target):
        self.loop = loop
        self.listener = listener
        self.family = family
        self.target = target  # (host, port) or a unix path
        self.gate = asyncio.Event()
        self.demand = asyncio.Event()  # a client came while the gate was closed
        self.held = 0
        self.active = 0  # clients connected, held ones included
        self.came = 0  # clients that connected since the last count()
        self._server = None
        self._clients = set()

    async def start(self):
        # a duplicate: closing the server closes it, not the script's listener
        sock = self.listener.sock.dup()
        self._server = await self.loop.create_server(lambda: _Client(self), sock=sock)

    def count(self):
        """Clients connected now, or that came since the last count if more:
        a client that comes and goes between two counts is counted too."""
        n, self.came = max(self.active, self.came), 0
        return n

    def open(self):
        self.gate.set()

    def shut(self):
        self.gate.clear()

    def close(self):
        if self._server is not None:
            self._server.close()
            self._server = None
        for client in list(self._clients):
            client.abort()

    async def connect(self, client):
        if self.family == socket.AF_UNIX:
            return await self.loop.create_unix_connection(lambda: _Pipe(client), self.target)
        host, port = self.target
        return await self.loop.create_connection(lambda: _Pipe(client), host, port)


class _Pipe(asyncio.Protocol):
    """The service's side of one client. Flow control both ways: a side
    that cannot write fast enough pauses the reading of the other."""

    def __init__(self, client):
        self.client = client
        self.transport = None
        self.ended = False

    def connection_made(self, transport):
        self.transport = transport
        self.client.pipe = self

    def data_received(self, data):
        self.client.transport.write(data)

    def eof_received(self):
        if not self.ended:  # once, whatever the loop reports
            self.ended = True
            self.client.ended_one_way(self.client.transport)
        return True

    def connection_lost(self, exc):
        self.client.transport.close()  # after what is buffered for it

    def pause_writing(self):
        self.client.transport.pause_reading()

    def resume_writing(self):
        self.client.transport.resume_reading()


class _Client(asyncio.Protocol):
    def __init__(self, proxy):
        self.proxy = proxy
        self.transport = None
        self.pipe = None
        self._early = []  # what the client sent before the service was connected
        self._eof = False
        self._ends = 0  # directions ended: at 2 both sides are closed
        self._task = None

    def connection_made(self, transport):
        self.transport = transport
        proxy = self.proxy
        if proxy.held >= HOLD_LIMIT:
            transport.abort()
            return
        proxy.active += 1
        proxy.came += 1
        proxy._clients.add(self)
        self._task = proxy.loop.create_task(self._join())

    async def _join(self):
        proxy = self.proxy
        if not proxy.gate.is_set():
            proxy.held += 1
            proxy.demand.set()
            self.transport.pause_reading()
            try:
                await within(proxy.gate.wait(), HOLD_TIME)
            except asyncio.TimeoutError:
                self.abort()
                return
            finally:
                proxy.held -= 1
            self.transport.resume_reading()
        try:
            transport, _ = await proxy.connect(self)
        except OSError as e:
            log.debug("proxy: cannot reach %s: %s" % (proxy.target, e.strerror or e))
            self.abort()
            return
        if self.transport.is_closing():
            transport.close()
            return
        # reading paused for the early bytes goes on; writing them may
        # pause it again (pipe's pause_writing) until the service reads.
        # (Not after the client's end: uvloop would report it again.)
        if not self._eof:
            self.transport.resume_reading()
        transport.write(b"".join(self._early))
        self._early = None
        if self._eof:
            self.ended_one_way(transport)

    def data_received(self, data):
        if self._early is not None:  # not connected through yet
            self._early.append(data)  # bounded: reading pauses past the high-water mark
            if sum(map(len, self._early)) > CHUNK:
                self.transport.pause_reading()
            return
        self.pipe.transport.write(data)

    def eof_received(self):
        if self._eof:  # uvloop reports it again when reading resumes
            return True
        self._eof = True
        if self._early is None:  # else _join passes it on once connected
            self.ended_one_way(self.pipe.transport)
        return True

    def ended_one_way(self, towards):
        """One side sent its end: pass it on to the other (`towards`)."""
        if towards.can_write_eof():
            towards.write_eof()
        self._ends += 1
        if self._ends == 2:
            self.transport.close()
            self.pipe.transport.close()

    def pause_writing(self):
        if self.pipe is not None:
            self.pipe.transport.pause_reading()

    def resume_writing(self):
        if self.pipe is not None:
            self.pipe.transport.resume_reading()

    def abort(self):
        if not self.transport.is_closing():
            self.transport.abort()
        if self.pipe is not None and not self.pipe.transport.is_closing():
            self.pipe.transport.abort()

    def connection_lost(self, exc):
        proxy = self.proxy
        if self in proxy._clients:
            proxy._clients.discard(self)
            proxy.active -= 1
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self.pipe is not None:
            self.pipe.transport.close()


def target_of(address):
    """(family, target) for tcp://HOST:PORT or unix:///PATH; ValueError."""
    from .listeners import parse
    family, where, _ = parse(address)
    if family == socket.AF_UNIX and isinstance(where, bytes):
        where = os.fsdecode(where)
    return family, where
