"""A raw client of the control socket, for tests that must say exactly
which bytes go over it (luasup ctl's own client hides the framing), and
checks of what comes back: JSON-RPC 2.0 answers, strictly JSON."""

import json
import select
import socket
import time

from . import DEADLINE

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR = (
    -32700, -32600, -32601, -32602, -32603)
NO_SUCH_SERVICE, FAILED, PERMISSION_DENIED, NOT_SUPPORTED, TOO_MANY = -32001, -32002, -32003, -32004, -32005


def strict_json(line):
    """line as JSON, refusing what Python accepts but JSON is not (NaN, Infinity)."""
    def refuse(constant):
        raise ValueError("not JSON: %s" % constant)
    return json.loads(line, parse_constant=refuse)


def shape(msg, rid=None):
    """msg is a JSON-RPC 2.0 answer (to the request with id rid, when
    given): its error code, or None for a result."""
    assert isinstance(msg, dict) and msg.get("jsonrpc") == "2.0" and "id" in msg, msg
    assert set(msg) in ({"jsonrpc", "id", "result"}, {"jsonrpc", "id", "error"}), msg
    if rid is not None:
        assert msg["id"] == rid, msg
    if "result" in msg:
        assert isinstance(msg["result"], dict), msg
        return None
    error = msg["error"]
    assert {"code", "message"} <= set(error) <= {"code", "message", "data"}, msg
    assert isinstance(error["code"], int) and isinstance(error["message"], str), msg
    return error["code"]


def check_answer(msg, rid=None):
    """shape(), and no internal error: nothing a client sends is a defect."""
    code = shape(msg, rid)
    assert code is None or code != INTERNAL_ERROR and "Traceback" not in msg["error"]["message"], msg
    return code


class Client:
    """A raw connection to the control socket."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buffer = b""
        self.received = 0
        self.eof = False

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def send_until_closed(self, chunks):
        """Write each chunk in turn until the server closes; the bytes of
        the chunks written whole."""
        sent = 0
        try:
            for chunk in chunks:
                self.sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return sent

    def request(self, rid, method, params=None):
        req = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            req["params"] = params
        self.send(json.dumps(req).encode() + b"\n")

    def fill(self, timeout):
        """Read what has come (at most timeout s of waiting); False at EOF."""
        poll = select.poll()
        poll.register(self.sock, select.POLLIN)
        if not poll.poll(max(0.0, timeout) * 1000):
            return True
        try:
            data = self.sock.recv(1 << 18)
        except ConnectionResetError:
            data = b""
        self.received += len(data)
        self.buffer += data
        self.eof = not data
        return bool(data)

    def line(self, timeout=DEADLINE):
        """The next line, or None at EOF; fails at the deadline."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            if self.eof or not self.fill(deadline - time.monotonic()):
                return None
            if b"\n" not in self.buffer and time.monotonic() > deadline:
                raise AssertionError("no line within %.0f s (got %r)" % (timeout, self.buffer[:200]))
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line

    def message(self, timeout=DEADLINE):
        line = self.line(timeout)
        assert line is not None, "the connection closed instead of answering"
        return strict_json(line)

    def answer(self, timeout=DEADLINE):
        """The next answer, past the notifications of events and logs -f."""
        while True:
            msg = self.message(timeout)
            if "id" in msg or msg.get("method") not in ("event", "log"):
                return msg

    def call(self, method, **params):
        self.request("c", method, params)
        msg = self.answer()
        assert check_answer(msg, "c") is None, msg
        return msg["result"]

    def silent(self, seconds):
        """Nothing arrives for `seconds` (a check of absence: it must wait)."""
        poll = select.poll()
        poll.register(self.sock, select.POLLIN)
        return not poll.poll(seconds * 1000)

    def hung_up(self, timeout=DEADLINE):
        """Whether the server closes its end within timeout s, read or not."""
        poll = select.poll()
        poll.register(self.sock, select.POLLRDHUP)
        return bool(poll.poll(timeout * 1000))

    def closed(self, timeout=DEADLINE):
        """Read to the end: True once the server has closed the connection."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            self.buffer = b""
            self.fill(deadline - time.monotonic())
            if time.monotonic() > deadline:
                return False
        return True


def hello(path):
    """The `hello` answer, on a connection of its own; None when none comes
    (nothing serving, or a re-exec closing connections before it answered)."""
    try:
        client = Client(path)
    except OSError:
        return None
    try:
        client.request("h", "hello")
        msg = client.answer()
    except (OSError, AssertionError):
        return None
    finally:
        client.close()
    return msg["result"] if check_answer(msg, "h") is None else None
