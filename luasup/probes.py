"""Probes and plumbing for init: tcp_check, http_get, watch and listen
(lua/luasup/probes.lua is the Lua half, with the argument checks).

Like api.Api, core functions never raise into Lua and ops only raise
OpError: failures come back as (nil, message)."""

import asyncio
import os

from .bridge import OpError
from .deadline import within


class Probes:
    def __init__(self, loop, supervisor):
        self.loop = loop
        self.sup = supervisor
        self.listeners = {}  # fd -> listeners.Listener, while open
        # (address asked for, name) -> a Listener a re-exec handed over, until
        # the policy asks for it again (init.listen) or has had its chance
        self.carried = {}
        self._waiting = {}  # fd -> [future, waiters] of the listeners listen_wait watches

    def core(self):
        return {
            b"listen": self.listen,
            b"listen_close": self.listen_close,
            b"listen_connections": self.listen_connections,
            b"proxy": self.proxy,
            b"proxy_gate": lambda proxy, is_open: proxy.open() if is_open else proxy.shut(),
            b"proxy_connections": lambda proxy: proxy.count(),
            b"proxy_close": lambda proxy: proxy.close(),
            b"watch_start": self.watch_start,
            b"watch_cancel": self.watch_cancel,
        }

    def ops(self):
        return {
            b"tcp_check": self.tcp_check,
            b"http_get": self.http_get,
            b"watch_next": self.watch_next,
            b"listen_wait": self.listen_wait,
            b"proxy_demand": self.proxy_demand,
        }

    # -- probes ------------------------------------------------------------

    async def tcp_check(self, host, port, timeout):
        # imported by the first probe: start-up only pays for what every
        # script uses (http_client, watch and listeners likewise)
        from .connect import FAILURES, close, connect, describe
        try:
            _, writer = await within(connect(os.fsdecode(host), int(port)), timeout)
        except FAILURES as e:
            return (None, os.fsencode(describe(e)))
        await close(writer)
        return (True,)

    async def http_get(self, url, timeout, max_body, *flat_headers):
        from . import http_client
        from .connect import FAILURES, describe
        headers = list(zip(flat_headers[::2], flat_headers[1::2]))
        try:
            status, body, fields = await within(
                http_client.get(url.decode("latin-1"), headers, int(max_body)), timeout)
        except FAILURES as e:
            # (the url was decoded as latin-1: a message quoting it encodes back)
            return (None, describe(e).encode("latin-1", "replace"))
        flat = [item for field in fields for item in field]
        return (status, body, *flat)

    # -- watches -----------------------------------------------------------

    def watch_start(self, path, debounce):
        from .watch import Watch
        try:
            watch = Watch(self.loop, bytes(path), float(debounce))
        except OSError as e:
            return None, b"unable to watch %s: %s" % (path, _strerror(e))
        return watch

    def watch_cancel(self, watch):
        watch.cancel()
        return True

    async def watch_next(self, watch):
        return (await watch.next_change(),)

    # -- listening sockets -------------------------------------------------

    def listen(self, address, name):
        from . import listeners
        text = os.fsdecode(address)
        listener = self.carried.pop((text, os.fsdecode(name)), None)
        if listener is None:
            try:
                listener = listeners.open_listener(text, os.fsdecode(name))
            except listeners.AddressError as e:
                return None, os.fsencode("invalid address '%s': %s" % (text, e))
            except OSError as e:
                return None, b"unable to listen on %s: %s" % (address, _strerror(e))
        listener.asked = text
        self.listeners[listener.fileno()] = listener
        return listener, listener.fileno(), os.fsencode(listener.address)

    async def listen_wait(self, listener, timeout):
        """Until a connection waits to be accepted on listener (it stays in
        the backlog for whoever accepts): (True,), or (None, b"timeout")."""
        fd = listener.fileno()
        if fd < 0:
            raise OpError("attempt to use a closed listener")
        # waits on one listener share its reader (a new runner's wait may
        # begin before the cancelled one's has ended)
        entry = self._waiting.get(fd)
        if entry is None:
            ready = self.loop.create_future()
            self.loop.add_reader(fd, lambda: ready.done() or ready.set_result(True))
            entry = self._waiting[fd] = [ready, 0]
        entry[1] += 1
        try:
            await within(asyncio.shield(entry[0]), timeout)
        except asyncio.TimeoutError:
            return (None, b"timeout")
        finally:
            entry[1] -= 1
            if (entry[1] == 0 or entry[0].done()) and self._waiting.get(fd) is entry:
                del self._waiting[fd]
                self.loop.remove_reader(fd)
                # libuv made it non-blocking, for every holder of the socket:
                # the children it goes to expect a blocking one, as systemd gives
                os.set_blocking(fd, True)
        return (True,)

    def handover(self):
        """The open listeners, for the new luasup (see adopt)."""
        return [{"fd": fd, "asked": l.asked, "name": l.name, "address": l.address, "path": l.path,
                 "inode": l.inode} for fd, l in self.listeners.items()]

    def adopt(self, described):
        """Listeners a hand-over describes: init.listen with the same
        address and name returns them (bound all along: no connection is
        refused meanwhile)."""
        import socket
        from .listeners import Listener
        for d in described:
            listener = Listener(socket.socket(fileno=d["fd"]), d["name"], d["address"], d["path"],
                                d["inode"])
            self.carried[(d["asked"], d["name"])] = listener

    def close_unclaimed(self):
        """The policy has asked for its listeners: close the others."""
        for listener in self.carried.values():
            listener.close()
        self.carried.clear()

    def listen_connections(self, listener):
        from . import sockstat
        return sockstat.connections(listener.sock)

    def proxy(self, listener, target):
        """A Proxy accepting on listener for target (tcp://, unix://), or
        (None, message)."""
        from .listeners import AddressError
        from .proxy import Proxy, target_of
        text = os.fsdecode(target)
        try:
            family, where = target_of(text)
        except AddressError as e:
            return None, os.fsencode("invalid address '%s': %s" % (text, e))
        proxy = Proxy(self.loop, listener, family, where)
        self.loop.create_task(proxy.start())
        return proxy

    async def proxy_demand(self, proxy):
        """Until a client waits behind the closed gate."""
        await proxy.demand.wait()
        proxy.demand.clear()
        return (True,)

    def listen_close(self, listener):
        self.listeners.pop(listener.fileno(), None)
        listener.close()
        return True


def _strerror(e):
    return (e.strerror or str(e)).encode("utf-8", "replace")
