"""A fake Loki on loopback for tests and benchmarks of the http log sink:
it checks every push against Loki's JSON schema (or each NDJSON line), keeps
the records of the pushes it accepted, and answers as scripted (500, 429,
400 ... for the next requests, then 204).

    with FakeLoki() as loki:
        loki.answer(500, 429)       # the next two pushes fail, then 204s
        ... logs.http{ url = loki.url } ...
        loki.wait_for(lines=1000)
        loki.lines(service="web")   # in the order received
"""

import http.server
import json
import re
import threading

from . import DEADLINE, wait_until

HOST = "127.0.0.1"
_NS = re.compile(r"[0-9]{1,20}\Z")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10.0

    def log_message(self, *args):
        pass

    def do_POST(self):
        fake = self.server.fake
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        status, text, headers = fake.handle(self.path, dict(self.headers), body)
        data = text.encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeLoki:
    """mode: "loki" (the push API's JSON) or "ndjson"."""

    def __init__(self, mode="loki", path="/loki/api/v1/push"):
        self.mode = mode
        self.path = path
        self._lock = threading.Lock()
        self._answers = []  # (status, body, headers) for the next requests
        self.requests = []  # (status answered, number of records) per request
        self.headers = []  # each request's headers, lowercase names
        self.errors = []  # what broke the schema: a test expects none
        # accepted, in order: {service, stream, labels, ns, line}, or the ndjson objects
        self.records = []
        self._last_ns = {}  # a stream's labels -> newest ns accepted
        self._server = http.server.ThreadingHTTPServer((HOST, 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self
        self.url = "http://%s:%d%s" % (HOST, self._server.server_address[1], path)

    def __enter__(self):
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def answer(self, *answers):
        """What the next requests get: a status, or (status, body[, headers])."""
        with self._lock:
            for a in answers:
                a = (a,) if isinstance(a, int) else tuple(a)
                self._answers.append((a + ("", []))[:3])

    # -- the server's side ---------------------------------------------------

    def handle(self, path, headers, body):
        with self._lock:
            self.headers.append({k.lower(): v for k, v in headers.items()})
            try:
                records = self._parse(path, headers, body)
            except ValueError as e:
                self.errors.append(str(e))
                self.requests.append((400, 0))
                return 400, "bad payload: %s" % e, []
            status, text, extra = self._answers.pop(0) if self._answers else (204, "", [])
            self.requests.append((status, len(records)))
            if 200 <= status < 300:
                self._accept(records)
            return status, text, extra

    def _parse(self, path, headers, body):
        if path != self.path:
            raise ValueError("pushed to %s, not %s" % (path, self.path))
        ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
        if self.mode == "ndjson":
            if ctype != "application/x-ndjson":
                raise ValueError("content-type %r" % ctype)
            if not body.endswith(b"\n"):
                raise ValueError("ndjson body does not end with a newline")
            records = [json.loads(line) for line in body.decode("utf-8").splitlines()]
            if not all(isinstance(r, dict) for r in records):
                raise ValueError("an ndjson line is not an object")
            return records
        if ctype != "application/json":
            raise ValueError("content-type %r" % ctype)
        push = json.loads(body.decode("utf-8"))  # strict UTF-8, as Loki's decoder
        if not (isinstance(push, dict) and set(push) == {"streams"} and isinstance(push["streams"], list)):
            raise ValueError("not {\"streams\": [...]}")
        records = []
        for entry in push["streams"]:
            if not isinstance(entry, dict) or set(entry) != {"stream", "values"}:
                raise ValueError("a stream is not {\"stream\": ..., \"values\": ...}")
            labels = entry["stream"]
            if not isinstance(labels, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
                raise ValueError("labels are not strings: %r" % (labels,))
            if not isinstance(entry["values"], list) or not entry["values"]:
                raise ValueError("values are not a non-empty list")
            key = tuple(sorted(labels.items()))
            last = self._last_ns.get(key, -1)
            for pair in entry["values"]:
                if (not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[0], str)
                        or not _NS.match(pair[0]) or not isinstance(pair[1], str)):
                    raise ValueError("a value is not [\"<ns>\", \"line\"]: %r" % (pair,))
                ns = int(pair[0])
                if ns <= last:
                    raise ValueError("entry out of order for %r: %d after %d" % (labels, ns, last))
                last = ns
                records.append({"service": labels.get("service"), "stream": labels.get("stream"),
                                "labels": labels, "ns": ns, "line": pair[1], "key": key})
        return records

    def _accept(self, records):
        for r in records:
            if self.mode == "loki":
                self._last_ns[r.pop("key")] = r["ns"]
            self.records.append(r)

    # -- the test's side ------------------------------------------------------

    def lines(self, service=None, stream=None):
        """Accepted lines (of one service / stream), in the order received."""
        field = "service" if self.mode == "loki" else "name"
        with self._lock:
            return [r["line"] for r in self.records
                    if (service is None or r[field] == service)
                    and (stream is None or r["stream"] == stream)]

    def count(self):
        with self._lock:
            return len(self.records)

    def wait_for(self, lines, timeout=DEADLINE):
        """Wait until `lines` records were accepted; fail at the deadline."""
        wait_until(lambda: self.count() >= lines or self.errors, timeout,
                   what="the fake loki to accept %d lines" % lines)
        assert not self.errors, self.errors
