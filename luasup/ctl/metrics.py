"""Prometheus metrics, when the policy asks for them
(`sup.control{ metrics = '127.0.0.1:9100' }`): `GET /metrics` on a loopback
TCP address, served in luasup's own loop.

The figures are the `stats` method's (control.py), read at each scrape:
the supervision library stays their one source. The exposition text is
prometheus-client's (an optional extra: `pip install 'luasup[metrics]'`),
imported at the first scrape so that serving costs nothing at start-up.

The endpoint has no authentication, hence loopback only; a scraper gets one
answer per connection, and whatever it sends is bounded in size and time."""

import asyncio
import errno
import importlib.util
import ipaddress
import socket

from .. import log

STATES = ("waiting", "starting", "running", "stopping", "backoff", "exited", "done", "failed",
          "stopped")  # lua/supervise: every state a service can be in
MAX_HEAD = 8192  # bytes of request line and headers
MAX_CLIENTS = 16  # connections at once; the next ones are closed unanswered
TIMEOUT = 5.0  # seconds a scraper has to send its request and read the answer
_TEXT = "text/plain; charset=utf-8"


class _Refused(Exception):
    """The metrics cannot be served (the message says why)."""


def serve(control, address):
    """Serve the metrics at address ('HOST:PORT'); True, or None once the
    reason is logged."""
    try:
        family, host, port = _loopback(address)
        if importlib.util.find_spec("prometheus_client") is None:
            raise _Refused("prometheus-client is not installed (pip install 'luasup[metrics]')")
        sock = _bind(family, host, port, address)
    except _Refused as e:
        log.error("ctl: metrics: %s: not serving metrics" % e)
        return None
    endpoint = _Endpoint(control)
    started = control.loop.create_task(
        asyncio.start_server(endpoint.handle, sock=sock, limit=MAX_HEAD))
    control.sup.exit_code.add_done_callback(lambda _: endpoint.close(started))
    log.debug("ctl: metrics on http://%s/metrics" % address)
    return True


def _loopback(address):
    """'127.0.0.1:9100', '[::1]:9100' or 'localhost:9100' -> (family, host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise _Refused("%r: HOST:PORT expected, with a port from 1 to 65535" % address)
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if host == "localhost":
        host = "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise _Refused("%r: the host must be a loopback address such as 127.0.0.1" % address) from None
    if not ip.is_loopback:
        raise _Refused("%s is not a loopback address, and the metrics have no authentication"
                       " (scrape 127.0.0.1 from beside luasup)" % address)
    return (socket.AF_INET6 if ip.version == 6 else socket.AF_INET), str(ip), int(port)


def _bind(family, host, port, address):
    # bound here rather than by start_server so that a port in use is
    # reported with the start of supervision, not lost in a task
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(16)
        sock.setblocking(False)
    except OSError as e:
        sock.close()
        why = "the port is in use" if e.errno == errno.EADDRINUSE else e.strerror or str(e)
        raise _Refused("cannot listen on %s: %s" % (address, why)) from None
    return sock


class _Endpoint:
    def __init__(self, control):
        self.control = control
        self.clients = set()
        self._exposition = None  # (registry, collector, choose_encoder), at the first scrape

    def close(self, started):
        if started.done() and not started.cancelled() and started.exception() is None:
            started.result().close()
        else:
            started.cancel()
        for writer in list(self.clients):
            writer.transport.abort()

    async def handle(self, reader, writer):
        if len(self.clients) >= MAX_CLIENTS:
            writer.transport.abort()
            return
        self.clients.add(writer)
        try:
            async with asyncio.timeout(TIMEOUT):
                await self._answer(reader, writer)
                writer.close()
                await writer.wait_closed()
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            pass
        except Exception as e:  # a defect here must not end the loop's other work
            log.error("ctl: metrics: internal error: %s: %s" % (type(e).__name__, e))
        finally:
            self.clients.discard(writer)
            writer.transport.abort()

    async def _answer(self, reader, writer):
        status, content_type, body = await self._respond(reader)
        head = ["HTTP/1.1 " + status, "Content-Type: " + content_type,
                "Content-Length: %d" % len(body), "Connection: close"]
        if status.startswith("405"):
            head.append("Allow: GET")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()

    async def _respond(self, reader):
        """(status, content type, body) for the request reader holds."""
        request, accept = await _read_head(reader)
        if request is None:
            return "431 Request Header Fields Too Large", _TEXT, b"request too large\n"
        parts = request.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return "400 Bad Request", _TEXT, b"bad request\n"
        method, target, _ = parts
        if method != "GET":
            return "405 Method Not Allowed", _TEXT, b"only GET is served\n"
        if target.partition("?")[0] != "/metrics":
            return "404 Not Found", _TEXT, b"not found: only /metrics is served\n"
        try:
            return ("200 OK",) + await self._scrape(accept)
        except Exception as e:  # luasup is stopping, or the library failed to answer
            log.debug("ctl: metrics: no stats: %s" % e)
            return "503 Service Unavailable", _TEXT, b"no stats: luasup is busy or stopping\n"

    async def _scrape(self, accept):
        """(content type, body): the text format, or OpenMetrics if accepted."""
        stats = await self.control.stats()
        if self._exposition is None:
            self._exposition = _exposition()
        registry, collector, choose_encoder = self._exposition
        collector.take(stats, [sink.stats() for sink in self.control.logs.bus.sinks])
        encode, content_type = choose_encoder(accept)
        return content_type, encode(registry)


async def _read_head(reader):
    """(request line, Accept header), or (None, None) when the head is too
    large; other headers are read and ignored."""
    size, request, accept = 0, None, ""
    while True:
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.LimitOverrunError:
            return None, None
        size += len(line)
        if size > MAX_HEAD:
            return None, None
        line = line.rstrip(b"\r\n").decode("latin-1")
        if request is None:
            request = line
        elif not line:
            return request, accept
        elif line[:7].lower() == "accept:":
            accept = line[7:].strip()


def _exposition():
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import choose_encoder
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    registry = CollectorRegistry(auto_describe=False)
    collector = _Collector(GaugeMetricFamily, CounterMetricFamily)
    registry.register(collector)
    return registry, collector, choose_encoder


class _Collector:
    """Families from the last stats taken (a scrape takes them and then
    renders at once, in the loop's one thread)."""

    def __init__(self, gauge, counter):
        self.gauge, self.counter = gauge, counter
        self.stats, self.sinks = None, []

    def take(self, stats, sinks):
        self.stats, self.sinks = stats, sinks

    def describe(self):
        return []  # nothing to check at registration: the names are fixed

    def collect(self):
        gauge, counter = self.gauge, self.counter
        service = ["service"]
        up = gauge("luasup_service_up", "1 if the service is running, else 0", labels=service)
        state = gauge("luasup_service_state", "1 for the state the service is in",
                      labels=["service", "state"])
        restarts = counter("luasup_service_restarts", "Restarts of the service", labels=service)
        uptime = gauge("luasup_service_uptime_seconds", "Seconds since the service's process started",
                       labels=service)
        cpu = counter("luasup_service_cpu_seconds", "CPU seconds of the service's process tree"
                      " (its live processes)", labels=service)
        rss = gauge("luasup_service_memory_rss_bytes", "Resident memory of the service's process tree",
                    labels=service)
        for s in self.stats["services"]:
            name = [s["name"]]
            up.add_metric(name, 1 if s["state"] == "running" else 0)
            for each in STATES + (() if s["state"] in STATES else (s["state"],)):
                state.add_metric([s["name"], each], 1 if each == s["state"] else 0)
            restarts.add_metric(name, s["restarts"])
            for family, key in ((uptime, "uptime"), (cpu, "cpu"), (rss, "rss")):
                if s.get("pid") and s.get(key) is not None:
                    family.add_metric(name, s[key])
        me = self.stats["luasup"]
        own_cpu = counter("luasup_cpu_seconds", "CPU seconds of luasup itself")
        own_cpu.add_metric([], me["cpu"])
        own_rss = gauge("luasup_memory_rss_bytes", "Resident memory of luasup itself")
        own_rss.add_metric([], me.get("rss") or 0)
        dropped = counter("luasup_log_records_dropped", "Log records a full sink dropped",
                          labels=["sink"])
        seen = {}
        for sink in self.sinks:
            # two sinks may share a label (two rings): each keeps a series
            label = sink["label"]
            seen[label] = seen.get(label, 0) + 1
            dropped.add_metric([label if seen[label] == 1 else "%s #%d" % (label, seen[label])],
                               sink["dropped"])
        return [up, state, restarts, uptime, cpu, rss, own_cpu, own_rss, dropped]
