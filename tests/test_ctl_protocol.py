"""The control socket against hostile clients, black-box: raw bytes on the
unix socket of a real luasup running a real policy. Whatever a client
sends, each request line gets one JSON-RPC 2.0 answer with a documented
error code (or, past the limits, one error and the close), luasup's
memory and fds stay bounded, and the services, the log sinks and the
other clients go on untouched."""

import json
import math
import os
import pathlib
import re
import select
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import DEADLINE, LOOPS, PY, env_for, lua_quote, start, stop, wait_until
from helpers.ctl import NOBODY
from helpers.ctlsocket import (INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, NO_SUCH_SERVICE, PARSE_ERROR,
                               PERMISSION_DENIED, TOO_MANY, Client, check_answer, shape, strict_json)
from helpers.logfiles import lua_text

MAX_REQUEST = 1 << 20
MAX_CONNECTIONS = 64
MAX_OUTPUT = 4 << 20
METHODS = ["hello", "list", "status", "start", "stop", "restart", "kill", "why", "tree", "events",
           "logs", "health", "ready", "stats", "eval", "reload"]

# ticker: a numbered line every 20 ms, to the ring and the file sink (which
# blocks rather than drops: every number must arrive). flood: armed, then at
# each SIGUSR1 FLOOD_LINES numbered lines of 1000 bytes as fast as it can.
FLOOD_LINES = 48000
TICKER = "import itertools, time\nfor n in itertools.count():\n    print(n, flush=True)\n    time.sleep(0.02)\n"
FLOOD = ("import os, signal\n"
         "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])\n"
         "print('armed', flush=True)\n"
         "while True:\n"
         "    signal.sigwait([signal.SIGUSR1])\n"
         "    for start in range(0, %d, 500):\n"
         "        os.write(1, b''.join(b'%%08d %%s\\n' %% (n, b'x' * 990) for n in range(start, start + 500)))\n"
         % FLOOD_LINES)
POLICY = """
local sup, logs = require('supervise'), require('logs')
local ring = logs.ring{lines = 1000}
logs.route{to = {ring, logs.file{path = %(sink)s, prefix = '{name} ', full = 'block'}}}
sup.control{logs = ring%(control)s}
sup.service('ticker', {cmd = {%(py)s, '-c', %(ticker)s}})
sup.service('idle', {cmd = {'sleep', '3600'}})
sup.service('after', {cmd = {'sleep', '3600'}, after = {'idle'}})
sup.service('flood', {cmd = {%(py)s, '-c', %(flood)s}, ready = sup.output('^armed')})
return sup.run()
"""
SERVICES = {"ticker", "idle", "after", "flood"}


class Luasup:
    """A luasup running POLICY, its control socket and its file sink."""

    def __init__(self, directory, loop, control=""):
        self.path = str(directory / "ctl.sock")
        self.sink = str(directory / "sink.log")
        self.stderr_path = str(directory / "stderr")
        # a file, so that `reload` runs it again
        policy = directory / "policy.lua"
        policy.write_text(POLICY % {"sink": lua_quote(self.sink), "py": lua_quote(PY), "ticker": lua_text(TICKER),
                                    "flood": lua_text(FLOOD), "control": control})
        with open(self.stderr_path, "wb") as err:
            self.proc = start([str(policy)], env=env_for(loop, LUASUP_CTL=self.path),
                              stdout=subprocess.DEVNULL, stderr=err)
        self.pid = self.proc.pid
        self.mark = 0
        try:
            wait_until(self._reachable, what="the control socket")
            # the fixture's own connection: one of the 64
            self.ctl = Client(self.path)
            wait_until(lambda: self.states() == dict.fromkeys(SERVICES, "running"), what="every service running")
        except BaseException:
            stop(self.proc)
            raise
        self.initial = self.services()

    def _reachable(self):
        assert self.proc.poll() is None, self.stderr()
        try:
            Client(self.path).close()
            return True
        except (FileNotFoundError, ConnectionRefusedError):
            return False

    def connect(self):
        return Client(self.path)

    def serves_a_new_client(self):
        c = self.connect()
        c.request(1, "hello")
        return "result" in c.message()

    def call(self, method, **params):
        return self.ctl.call(method, **params)

    def states(self):
        return {s["name"]: s["state"] for s in self.call("list")["services"]}

    def services(self):
        """name -> (pid, restarts)"""
        return {s["name"]: (s.get("pid"), s["restarts"]) for s in self.call("list")["services"]}

    def stderr(self):
        """What luasup wrote to stderr since the current test began."""
        with open(self.stderr_path, "rb") as f:
            f.seek(self.mark)
            return f.read().decode(errors="replace")

    def begin_test(self):
        self.mark = os.path.getsize(self.stderr_path)

    def status(self, field):
        """A field of /proc/PID/status in kB (VmRSS, VmHWM)."""
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise AssertionError("no %s" % field)

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def sink_lines(self, name):
        """The lines of service `name` in the file sink."""
        prefix = name.encode() + b" "
        with open(self.sink, "rb") as f:
            return [line[len(prefix):].rstrip(b"\n") for line in f if line.startswith(prefix)]

    def sink_has_lately(self, line):
        """Whether `line` is among the file sink's last 64 kB."""
        with open(self.sink, "rb") as f:
            f.seek(max(0, os.path.getsize(self.sink) - (64 << 10)))
            return b"\n" + line + b"\n" in f.read()

    def ticks(self):
        return [int(n) for n in self.sink_lines("ticker")]

    def check_recovered(self, fds):
        """After a flood of clients: a new one is served, luasup holds the
        fds it held before (`fds`, one more at most), and nothing else noticed."""
        wait_until(self.serves_a_new_client, what="a new client served")
        wait_until(lambda: self.fds() <= fds + 1, what="luasup's fds back to %d" % fds)
        self.check_untouched()

    def check_untouched(self):
        """Supervision and logging went on as if no client had come: the same
        processes, no restarts, the ticker's numbers still reaching the file
        sink, every one of them, and no defect reported on stderr."""
        assert self.proc.poll() is None, self.stderr()
        assert self.services() == self.initial
        seen = (self.ticks() or [-1])[-1]
        wait_until(lambda: (self.ticks() or [-1])[-1] > seen + 2, what="the ticker's lines in the sink")
        ticks = self.ticks()
        assert ticks == list(range(len(ticks)))
        assert not re.search(r"Traceback|internal error", self.stderr()), self.stderr()


@pytest.fixture(scope="module", params=LOOPS)
def _shared(request, tmp_path_factory):
    sup = Luasup(tmp_path_factory.mktemp("ctl"), request.param)
    yield sup
    stop(sup.proc)


@pytest.fixture
def luasup(_shared):
    """One luasup for the tests of this module that only talk to it (one
    per event loop); each test sees the stderr written during it."""
    _shared.begin_test()
    return _shared


@pytest.fixture(params=LOOPS)
def own_luasup(request, tmp_path):
    """A luasup of the test's own, for measures of its memory and fds."""
    sup = Luasup(tmp_path, request.param)
    yield sup
    stop(sup.proc)


# -- what a line holds ---------------------------------------------------------


def test_malformed_json_is_a_parse_error_and_the_connection_goes_on(luasup):
    c = luasup.connect()
    for line in [b"{", b"nope", b'{"a":}', b"{'jsonrpc': '2.0'}", b'{"jsonrpc":"2.0","id":1,"method":"hello"',
                 b"\xff\xfe\x00", b'"\xc3\x28"', b"\x00", b"1 2", b'{"id":1}{"id":2}', b"[1,]", b"\x1b[A"]:
        c.send(line + b"\n")
        msg = c.message()
        assert check_answer(msg) == PARSE_ERROR, (line, msg)
        assert msg["id"] is None
    assert c.call("hello")["pid"] == luasup.pid
    luasup.check_untouched()


def test_valid_json_that_is_no_object_is_an_invalid_request(luasup):
    c = luasup.connect()
    for value in ["[]", "[1]", '[{"jsonrpc":"2.0","id":1,"method":"hello"}]', "1", "-0.5", '"hello"', "null",
                  "true", "[" * 100 + "]" * 100]:
        c.send(value.encode() + b"\n")
        msg = c.message()
        assert check_answer(msg) == INVALID_REQUEST and msg["id"] is None, (value, msg)
    assert c.call("hello")["pid"] == luasup.pid


def test_json_nested_1000_deep_gets_an_error_and_the_connection_goes_on(luasup):
    c = luasup.connect()
    deep = "[" * 1000 + "]" * 1000
    request = '{"jsonrpc":"2.0","id":7,"method":"hello","params":{"x":%s}}' % deep
    for line in (deep, request, "{" * 100000, "[" * 100000 + "]" * 100000):
        c.send(line.encode() + b"\n")
        # a parser may refuse to go so deep, but it must say so
        assert check_answer(c.message()) in (PARSE_ERROR, INVALID_REQUEST, None)
    assert c.call("hello")["pid"] == luasup.pid
    luasup.check_untouched()


WRONG_SHAPES = [
    ({"id": 1, "method": "hello"}, INVALID_REQUEST),
    ({"jsonrpc": "1.0", "id": 1, "method": "hello"}, INVALID_REQUEST),
    ({"jsonrpc": 2.0, "id": 1, "method": "hello"}, INVALID_REQUEST),
    ({"jsonrpc": None, "id": 1, "method": "hello"}, INVALID_REQUEST),
    ({"jsonrpc": "2.0", "id": 1}, INVALID_REQUEST),
    ({"jsonrpc": "2.0", "id": 1, "method": 1}, INVALID_REQUEST),
    ({"jsonrpc": "2.0", "id": 1, "method": None}, INVALID_REQUEST),
    ({"jsonrpc": "2.0", "id": 1, "method": ["hello"]}, INVALID_REQUEST),
    ({"jsonrpc": "2.0", "id": 1, "method": {"name": "hello"}}, INVALID_REQUEST),
    ({"jsonrpc": "2.0", "id": 1, "method": "hello", "params": []}, INVALID_PARAMS),
    ({"jsonrpc": "2.0", "id": 1, "method": "hello", "params": ["x"]}, INVALID_PARAMS),
    ({"jsonrpc": "2.0", "id": 1, "method": "hello", "params": 1}, INVALID_PARAMS),
    ({"jsonrpc": "2.0", "id": 1, "method": "hello", "params": "x"}, INVALID_PARAMS),
    ({"jsonrpc": "2.0", "id": 1, "method": "hello", "params": True}, INVALID_PARAMS),
    ({"jsonrpc": "2.0", "id": 1, "method": "nope"}, METHOD_NOT_FOUND),
    ({"jsonrpc": "2.0", "id": 1, "method": ""}, METHOD_NOT_FOUND),
    ({"jsonrpc": "2.0", "id": 1, "method": "LIST"}, METHOD_NOT_FOUND),
    ({"jsonrpc": "2.0", "id": 1, "method": "list "}, METHOD_NOT_FOUND),
    ({"jsonrpc": "2.0", "id": 1, "method": "_hello"}, METHOD_NOT_FOUND),
    ({"jsonrpc": "2.0", "id": 1, "method": "_lua"}, METHOD_NOT_FOUND),
    ({"jsonrpc": "2.0", "id": 1, "method": "__init__"}, METHOD_NOT_FOUND),
    ({"jsonrpc": "2.0", "id": 1, "method": "rpc.discover"}, METHOD_NOT_FOUND),
]


def test_requests_of_the_wrong_shape_get_their_error_code_and_their_id(luasup):
    c = luasup.connect()
    for request, code in WRONG_SHAPES:
        c.send(json.dumps(request).encode() + b"\n")
        assert check_answer(c.message(), 1) == code, request
    assert c.call("hello")["pid"] == luasup.pid


def test_an_id_of_the_wrong_type_is_an_invalid_request_answered_with_a_null_id(luasup):
    c = luasup.connect()
    for rid in [[], [1], {}, {"a": 1}, True, False]:
        c.request(rid, "hello")
        msg = c.message()
        assert check_answer(msg) == INVALID_REQUEST and msg["id"] is None, (rid, msg)
    assert c.call("hello")["pid"] == luasup.pid


def test_any_string_or_number_id_comes_back_as_sent(luasup):
    c = luasup.connect()
    for rid in ["", "x" * 1000, "\u0000\n\u2028", "\U0001f600", 0, -1, 2 ** 63, 10 ** 30, 1.5, -0.0, 1e300]:
        c.request(rid, "hello")
        assert check_answer(c.message(), rid) is None


@pytest.mark.parametrize("rid", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_an_id_json_cannot_carry_back_still_gets_a_valid_json_answer(luasup, rid):
    # Python's json reads NaN and Infinity (and 1e400 as infinity) but
    # must never write them: the client's parser would fail on the answer
    c = luasup.connect()
    c.send(b'{"jsonrpc":"2.0","id":%s,"method":"hello"}\n' % rid.encode())
    line = c.line()
    assert line is not None
    assert check_answer(strict_json(line)) in (PARSE_ERROR, INVALID_REQUEST), line
    assert c.call("hello")["pid"] == luasup.pid


# Wrong params for each method: each answer has the documented code (or
# one of the codes) and nothing is done (the services are the same
# afterwards).
WRONG_PARAMS = [
    ("status", {}, INVALID_PARAMS),
    ("status", {"name": 1}, INVALID_PARAMS),
    ("status", {"name": ["idle"]}, INVALID_PARAMS),
    ("status", {"name": "nope"}, NO_SUCH_SERVICE),
    ("why", {}, INVALID_PARAMS),
    ("why", {"name": True}, INVALID_PARAMS),
    ("why", {"name": "nope"}, NO_SUCH_SERVICE),
    ("kill", {}, INVALID_PARAMS),
    ("kill", {"name": {"x": 1}}, INVALID_PARAMS),
    ("kill", {"name": "nope"}, NO_SUCH_SERVICE),
    ("kill", {"name": "idle", "signal": []}, INVALID_PARAMS),
    ("kill", {"name": "idle", "signal": 1.5}, INVALID_PARAMS),
    ("kill", {"name": "idle", "signal": True}, INVALID_PARAMS),
    ("kill", {"name": "idle", "signal": "NOPE"}, INVALID_PARAMS),
    ("kill", {"name": "idle", "signal": ""}, INVALID_PARAMS),
    ("kill", {"name": "idle", "signal": -9}, INVALID_PARAMS),
    ("kill", {"name": "idle", "signal": 4096}, INVALID_PARAMS),
    ("kill", {"name": "idle", "signal": 2 ** 64 + 9}, INVALID_PARAMS),
    ("start", {}, INVALID_PARAMS),
    ("start", {"names": "idle"}, INVALID_PARAMS),
    ("start", {"names": []}, INVALID_PARAMS),
    ("start", {"names": [1]}, INVALID_PARAMS),
    ("start", {"names": [None]}, INVALID_PARAMS),
    ("start", {"names": [["idle"]]}, INVALID_PARAMS),
    ("start", {"names": ["idle"], "wait": "yes"}, INVALID_PARAMS),
    ("start", {"names": ["idle"], "wait": 1}, INVALID_PARAMS),
    ("start", {"names": ["idle"], "timeout": "5"}, INVALID_PARAMS),
    ("start", {"names": ["idle"], "timeout": False}, INVALID_PARAMS),
    ("start", {"names": ["nope"]}, NO_SUCH_SERVICE),
    ("start", {"names": ["nope"], "timeout": 10 ** 30}, (NO_SUCH_SERVICE, INVALID_PARAMS)),
    ("stop", {"names": {"0": "idle"}}, INVALID_PARAMS),
    ("stop", {"names": [1, "idle"]}, INVALID_PARAMS),
    ("stop", {"names": ["idle", 1]}, INVALID_PARAMS),
    ("stop", {"names": ["idle", "nope"]}, NO_SUCH_SERVICE),
    ("restart", {"names": ["after", "nope"]}, NO_SUCH_SERVICE),
    ("restart", {"names": ["after"], "timeout": []}, INVALID_PARAMS),
    ("logs", {"n": -1}, INVALID_PARAMS),
    ("logs", {"n": 1.5}, INVALID_PARAMS),
    ("logs", {"n": "5"}, INVALID_PARAMS),
    ("logs", {"n": 10 ** 9}, INVALID_PARAMS),
    ("logs", {"n": 10 ** 30}, INVALID_PARAMS),
    ("logs", {"names": "ticker"}, INVALID_PARAMS),
    ("logs", {"names": [1]}, INVALID_PARAMS),
    ("logs", {"follow": "yes"}, INVALID_PARAMS),
    ("eval", {"code": 1}, INVALID_PARAMS),
    ("eval", {"code": "sup.stop('idle')"}, PERMISSION_DENIED),
    ("reload", {"dry_run": "yes"}, INVALID_PARAMS),
    ("reload", {"dependents": 1}, INVALID_PARAMS),
]


def test_wrong_params_for_each_method_get_their_code_and_do_nothing(luasup):
    c = luasup.connect()
    wrong = []
    for rid, (method, params, code) in enumerate(WRONG_PARAMS):
        c.request(rid, method, params)
        got = shape(c.answer(), rid)
        if got not in (code if isinstance(code, tuple) else (code,)):
            wrong.append("%s %s: %s expected, got %s" % (method, params, code, got))
    assert not wrong, "\n".join(wrong)
    # params no method takes are ignored, whatever they hold
    assert c.call("hello", x=[[{"y": None}]] * 10, names=None)["pid"] == luasup.pid
    luasup.check_untouched()


def test_a_name_that_is_no_unicode_text_is_no_such_service(luasup):
    # JSON's \\u escapes can spell lone surrogates: no service has such a name
    c = luasup.connect()
    wrong = []
    for name in ["\ud800", "\udfff", "a\ud800b", "\udc80"]:
        for method, params in [("status", {"name": name}), ("why", {"name": name}), ("kill", {"name": name}),
                               ("stop", {"names": [name]}), ("logs", {"names": [name]})]:
            c.request(1, method, params)
            got = shape(c.answer(), 1)
            if got != NO_SUCH_SERVICE:
                wrong.append("%s %r: got %s" % (method, params, got))
    assert not wrong, "\n".join(wrong)
    luasup.check_untouched()


def test_a_name_given_many_times_to_logs_is_read_once(own_luasup):
    # a read-only client may ask this: each copy of the name must not cost
    # a copy of the ring in luasup's memory (nor time in its loop)
    luasup = own_luasup
    wait_until(lambda: len(luasup.call("logs", names=["ticker"])["records"]) >= 20, what="ticker lines in the ring")
    rss = luasup.status("VmRSS")
    c = luasup.connect()
    c.request(1, "logs", {"names": ["ticker"] * 3000, "n": 100000})
    records = c.answer()["result"]["records"]
    grown = luasup.status("VmHWM") - rss
    assert len({(r["time"], r["line"]) for r in records}) == len(records), "records repeated"
    assert grown < 16 << 10, "luasup's RSS grew by %d kB" % grown
    luasup.check_untouched()


# Run as another user: open 64 connections, say how they were received,
# try what read-only access may not do, and hold them until stdin ends.
GRABBER = """
import json, socket, sys
served, refused = [], 0
for _ in range(64):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    try:
        s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"hello"}\\n')
    except OSError:
        pass
    answer = json.loads(s.makefile("rb").readline())
    if "result" in answer:
        served.append(s)
    else:
        refused += answer["error"]["code"] == -32005
denied = []
for s, (method, params) in zip(served, [("stop", {"names": ["idle"]}), ("kill", {"name": "idle"}),
                                        ("restart", {"names": ["after"]}), ("reload", {}),
                                        ("eval", {"code": "1"}), ("start", {"names": ["idle"]})]):
    s.sendall(json.dumps({"jsonrpc": "2.0", "id": 2, "method": method, "params": params}).encode() + b"\\n")
    denied.append(json.loads(s.makefile("rb").readline())["error"]["code"])
print(json.dumps({"served": len(served), "refused": refused, "denied": denied}), flush=True)
sys.stdin.read()
"""


def test_a_read_only_user_can_neither_take_every_connection_nor_change_anything():
    shared = tempfile.mkdtemp(prefix="luasup-ctl-protocol-")  # one that other users may traverse
    os.chmod(shared, 0o711)
    luasup = None
    try:
        luasup = Luasup(pathlib.Path(shared), "uvloop", control=", allow = {nobody = 'read'}")
        grabber = subprocess.Popen(NOBODY + [PY, "-c", GRABBER, luasup.path], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE)
        try:
            report = json.loads(grabber.stdout.readline())
            # some of the 64 are kept for root and luasup's own uid
            assert report["served"] < MAX_CONNECTIONS - 1 and report["served"] + report["refused"] == 64, report
            assert report["denied"] == [PERMISSION_DENIED] * 6, report
            # root has the rest, all at once (its fixture's connection is one)
            held = [luasup.connect() for _ in range(MAX_CONNECTIONS - 1 - report["served"])]
            assert all(c.call("hello")["access"] == "full" for c in held)
        finally:
            grabber.communicate(timeout=DEADLINE)
        luasup.check_untouched()
    finally:
        if luasup:
            stop(luasup.proc)
        shutil.rmtree(shared, ignore_errors=True)


# -- how the bytes arrive ------------------------------------------------------


def test_half_a_line_then_a_pause_then_the_rest_is_one_request(luasup):
    c = luasup.connect()
    line = b'{"jsonrpc":"2.0","id":"split","method":"status","params":{"name":"idle"}}\n'
    c.send(line[:30])
    assert c.silent(0.3), "an answer to half a request"
    c.send(line[30:])
    msg = c.message()
    assert check_answer(msg, "split") is None and msg["result"]["pid"] == luasup.initial["idle"][0]


def test_a_request_written_a_byte_at_a_time(luasup):
    c = luasup.connect()
    for rid in (1, 2):
        for byte in b'{"jsonrpc":"2.0","id":%d,"method":"hello"}\n' % rid:
            c.send(bytes([byte]))
        assert check_answer(c.message(), rid) is None


def test_pipelined_requests_are_answered_in_order(luasup):
    c = luasup.connect()
    methods = ["hello", "list", "status", "nope", "health", "tree", "why", "ready", "stats", "logs"]
    batch = b""
    for rid in range(500):
        method = methods[rid % len(methods)]
        params = {"name": "idle"} if method in ("status", "why") else {"n": 5} if method == "logs" else {}
        batch += json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}).encode() + b"\n"
        if rid % 7 == 0:
            batch += b"garbage\n\n \t \r\n"  # a parse error; blank lines get no answer
    c.send(batch)
    for rid in range(500):
        code = check_answer(c.message(), rid)
        assert code == (METHOD_NOT_FOUND if methods[rid % len(methods)] == "nope" else None), rid
        if rid % 7 == 0:
            assert check_answer(c.message()) == PARSE_ERROR
    assert c.silent(0.1)


def test_a_client_pouring_bad_lines_does_not_keep_luasup_from_others(luasup):
    # 128 Ki lines in one write, each a parse error to answer: luasup must
    # see to others (and its services) between them, not after them all
    pourer = luasup.connect()
    pourer.sock.setblocking(False)
    try:
        pourer.sock.send(b"x\n" * (128 << 10))
    except BlockingIOError:
        pass
    other = luasup.connect()
    other.request(1, "hello")
    assert check_answer(other.message(), 1) is None
    assert not pourer.hung_up(0), "the other client was answered only once the pourer was done with"
    pourer.sock.setblocking(True)
    assert pourer.hung_up()  # it reads none of its answers: dropped in the end
    luasup.check_untouched()


def test_a_client_that_half_closes_after_its_requests_gets_every_answer_then_the_end(luasup):
    c = luasup.connect()
    # the last request has no newline: the end of the stream ends it
    c.send(b'{"jsonrpc":"2.0","id":1,"method":"list"}\n' * 50 + b'{"jsonrpc":"2.0","id":2,"method":"hello"}')
    c.sock.shutdown(socket.SHUT_WR)
    for _ in range(50):
        assert check_answer(c.message(), 1) is None
    assert check_answer(c.message(), 2) is None
    assert c.line() is None


def test_a_client_that_never_reads_its_answers_is_dropped(luasup):
    request = b'{"jsonrpc":"2.0","id":1,"method":"list"}\n'
    answer = len(json.dumps(luasup.call("list")))
    # twice what luasup may hold for a client: it must close before the end
    data = memoryview(request * (2 * MAX_OUTPUT // answer))
    c = luasup.connect()
    c.sock.setblocking(False)
    writable = select.poll()
    writable.register(c.sock, select.POLLOUT)
    deadline = time.monotonic() + DEADLINE
    sent = 0
    while sent < len(data):
        try:
            sent += c.sock.send(data[sent:sent + 65536])
        except BlockingIOError:  # luasup reads no further while answers wait
            writable.poll(100)
        except (BrokenPipeError, ConnectionResetError):
            break
        assert time.monotonic() < deadline, "still open after %d bytes of requests" % sent
    c.sock.setblocking(True)
    assert c.hung_up(), "luasup holds more than %d bytes for a client that does not read" % MAX_OUTPUT
    assert c.closed() and c.received < MAX_OUTPUT
    luasup.check_untouched()


def test_clients_that_leave_before_their_answers_leave_nothing_behind(own_luasup):
    luasup = own_luasup
    fds = luasup.fds()
    requests = b"".join(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}).encode()
                        + b"\n" for rid, (method, params) in enumerate(
        [("logs", {"follow": True, "n": 1000}), ("events", {}), ("stats", {}), ("why", {"name": "after"})] * 3))
    for _ in range(300):
        c = luasup.connect()
        c.send_until_closed([requests])  # luasup may be behind in seeing them go: then -32005 and closed
        c.close()  # with answers unread, if any came: luasup's next write gets a reset
    wait_until(lambda: luasup.fds() <= fds + 1, what="luasup's fds back to %d" % fds)
    follower = luasup.connect()
    follower.call("logs", n=0, follow=True)
    assert follower.message()["method"] == "log"
    luasup.check_untouched()


def test_followers_that_leave_are_forgotten_though_nothing_happens(own_luasup):
    # `luasup ctl events` ended with Ctrl-C, many times, while no service
    # changes state and `idle` writes no line: the slots must come back
    luasup = own_luasup
    fds = luasup.fds()
    for rid in range(MAX_CONNECTIONS + 6):
        c = luasup.connect()
        c.request(rid, *(("events", {}) if rid % 2 else ("logs", {"follow": True, "names": ["idle"]})))
        assert check_answer(c.message(), rid) is None
        c.close()
    luasup.check_recovered(fds)


# -- the limits ----------------------------------------------------------------


def test_a_100_mb_line_is_refused_and_closed_without_luasup_holding_it(own_luasup):
    luasup = own_luasup
    rss = luasup.status("VmRSS")
    c = luasup.connect()
    c.send(b'{"jsonrpc":"2.0","id":1,"method":"hello","params":{"pad":"')
    sent = c.send_until_closed([b"x" * (1 << 20)] * 100)
    msg = c.message()
    assert check_answer(msg) == INVALID_REQUEST and "request too long" in msg["error"]["message"], msg
    assert c.closed()
    assert sent < 100 << 20  # luasup stopped reading: the client could not write it all
    grown = luasup.status("VmHWM") - rss
    assert grown < 16 << 10, "luasup's RSS grew by %d kB" % grown
    assert luasup.connect().call("hello")["pid"] == luasup.pid
    luasup.check_untouched()


def test_the_limit_is_1_mib_a_line_and_a_line_a_little_over_it_is_refused(luasup):
    head = b'{"jsonrpc":"2.0","id":1,"method":"hello","params":{"pad":"'
    c = luasup.connect()
    c.send(head + b"x" * (MAX_REQUEST - len(head) - 3) + b'"}}\n')
    assert check_answer(c.message(), 1) is None
    c = luasup.connect()
    c.send(head + b"x" * (MAX_REQUEST + 1000 - len(head) - 3) + b'"}}\n')
    msg = c.message()
    assert check_answer(msg) == INVALID_REQUEST and "request too long" in msg["error"]["message"], msg
    assert c.closed()


def test_requests_before_a_line_too_long_are_answered_before_the_refusal(luasup):
    c = luasup.connect()
    # stats takes a while (it reads /proc): luasup reads on meanwhile
    c.send_until_closed([b'{"jsonrpc":"2.0","id":1,"method":"stats"}\n' * 6 + b"x" * (3 * MAX_REQUEST)])
    for _ in range(6):
        assert check_answer(c.message(), 1) is None
    msg = c.message()
    assert check_answer(msg) == INVALID_REQUEST and "request too long" in msg["error"]["message"], msg
    assert c.closed()


def test_1000_connections_at_once_past_64_are_refused_and_closed(own_luasup):
    luasup = own_luasup
    fds = luasup.fds()
    clients = [luasup.connect() for _ in range(1000)]
    by_fd = {c.sock.fileno(): c for c in clients}
    poll = select.poll()
    for fd in by_fd:
        poll.register(fd, select.POLLIN)
    refused = []

    def read_refusals():
        for fd, _ in poll.poll(100):
            c = by_fd[fd]
            c.fill(0)
            if c.eof:
                poll.unregister(fd)
                refused.append(c)
        # the fixture's own connection is one of the 64
        return len(refused) >= 1000 - (MAX_CONNECTIONS - 1)
    wait_until(read_refusals, what="the refusals")
    peak = luasup.fds()
    for c in refused:
        lines = c.buffer.split(b"\n")
        assert len(lines) == 2 and lines[1] == b"", lines
        msg = strict_json(lines[0])
        assert check_answer(msg) == TOO_MANY and msg["id"] is None, msg
    served = [c for c in clients if c not in refused]
    assert len(served) == MAX_CONNECTIONS - 1
    for rid, c in enumerate(served):
        c.request(rid, "hello")
    for rid, c in enumerate(served):
        assert check_answer(c.message(), rid) is None
    assert peak <= fds + MAX_CONNECTIONS + 4, "luasup holds %d fds (%d before)" % (peak, fds)
    for c in clients:
        c.close()
    luasup.check_recovered(fds)


def test_a_follower_that_stops_reading_skips_lines_told_how_many_and_nobody_else_notices(own_luasup):
    luasup = own_luasup
    good = luasup.connect()
    assert good.call("logs", n=0, follow=True, names=["ticker"]) == {"records": []}
    slow = luasup.connect()
    slow.request("slow", "logs", {"n": 0, "follow": True, "names": ["flood"]})
    assert check_answer(slow.message(), "slow") is None
    rss = luasup.status("VmRSS")
    luasup.call("kill", name="flood", signal="USR1")
    # the sink gets every line of the flood while neither follower reads
    last = b"flood %08d %s" % (FLOOD_LINES - 1, b"x" * 990)
    wait_until(lambda: luasup.sink_has_lately(last), what="the flood in the sink")
    grown = luasup.status("VmHWM") - rss
    flood_bytes = FLOOD_LINES * 1000
    # the file sink's queue, the ring, a follower's 1 MiB: not the flood
    assert grown < 16 << 10, "luasup's RSS grew by %d kB" % grown
    assert luasup.sink_lines("flood")[1:] == [b"%08d %s" % (n, b"x" * 990) for n in range(FLOOD_LINES)]
    # the good follower, following the ticker, missed none of its lines
    ticks = [int(r["line"]) for r in _log_records(good, until=luasup.ticks()[-1] + 3)]
    assert ticks == list(range(ticks[0], ticks[-1] + 1))
    # the slow one, reading at last, gets each line of the flood or a count
    # of the lines skipped in its place, in order
    expected, skipped = 0, 0
    while expected < FLOOD_LINES:
        msg = slow.message()
        assert msg.get("method") == "log", msg
        skipped += msg["params"].get("skipped", 0)
        expected += msg["params"].get("skipped", 0)
        for record in msg["params"]["records"]:
            assert int(record["line"][:8]) == expected, (record["line"][:8], expected)
            expected += 1
    assert expected == FLOOD_LINES and skipped > 0
    assert slow.received < flood_bytes // 2
    assert good.call("hello")["pid"] == slow.call("hello")["pid"] == luasup.pid
    luasup.check_untouched()


def _log_records(client, until):
    """The ticker's records a follower gets until the number `until`."""
    records = []
    while not records or int(records[-1]["line"]) < until:
        msg = client.message()
        if msg.get("method") == "log":
            records += msg["params"]["records"]
    return records


# -- anything at all -----------------------------------------------------------

# Values that have broken JSON-RPC servers: what JSON cannot carry back,
# integers no C type holds, text that is no Unicode.
_NASTY = st.sampled_from([float("nan"), float("inf"), -float("inf"), -0.0, 1e308, 2 ** 63, -2 ** 63 - 1,
                          2 ** 64, 10 ** 30, "", "\ud800", "a\udc80", "\x00", "0", "1", "TERM", "KILL"])


def _json_values():
    text = st.text(st.characters(blacklist_categories=()), max_size=12)
    scalars = (_NASTY | st.none() | st.booleans() | st.integers() | st.floats() | text)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(text, inner, max_size=4), max_leaves=12)


def _not_a_service(value):
    return not (isinstance(value, str) and value in SERVICES)


# The params the methods take, with values of the right type and others.
_PARAM_VALUES = {
    "name": st.text(max_size=12),
    "names": st.lists(st.text(max_size=12) | _NASTY, max_size=3),
    "wait": st.booleans(), "timeout": st.integers() | st.floats(), "signal": st.text(max_size=6) | st.integers(),
    "code": st.text(max_size=20), "n": st.integers(), "follow": st.booleans(),
    "dry_run": st.booleans(), "dependents": st.booleans(),
}


def _params():
    known = st.fixed_dictionaries({}, optional={key: value | _json_values() for key, value in _PARAM_VALUES.items()})
    # no request may name a real service: it would act on it
    known = known.filter(lambda p: _not_a_service(p.get("name")) and not (
        isinstance(p.get("names"), list) and not all(map(_not_a_service, p["names"]))))
    return known | _json_values()


def _requests():
    """Request objects over the methods, each field sometimes missing or wrong."""
    anything = st.fixed_dictionaries({}, optional={
        "jsonrpc": st.just("2.0") | _json_values(),
        "id": _NASTY | st.integers() | st.text(max_size=8) | _json_values(),
        "method": st.sampled_from(METHODS) | st.text(max_size=10) | _json_values(),
        "params": _params(),
    })
    # most have the fields right, so that the methods are reached
    right = st.fixed_dictionaries({"jsonrpc": st.just("2.0"), "id": st.integers(0, 10 ** 6) | _NASTY,
                                   "method": st.sampled_from(METHODS)}, optional={"params": _params()})
    return right | anything


_LINES = st.lists(st.binary(max_size=80)
                  | _json_values().map(lambda v: json.dumps(v).encode())
                  | _requests().map(lambda r: json.dumps(r).encode()), min_size=1, max_size=5)


def _expected_id(line):
    """The id an answer to line must carry, or None when it cannot be known."""
    try:
        obj = strict_json(line)
    except (ValueError, RecursionError):
        return None
    rid = obj.get("id") if isinstance(obj, dict) else None
    if isinstance(rid, bool) or not isinstance(rid, (str, int, float)) or (
            isinstance(rid, float) and not math.isfinite(rid)):
        return None
    return rid


def test_any_bytes_get_one_valid_answer_a_line_and_change_nothing(own_luasup):
    luasup = own_luasup

    @settings(max_examples=200, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(_LINES)
    def one_connection(lines):
        data = b"".join(line.replace(b"\n", b" ") + b"\n" for line in lines)
        requests = [line for line in data.split(b"\n") if line.strip()]
        c = luasup.connect()
        try:
            c.send(data)
            c.sock.shutdown(socket.SHUT_WR)
            for line in requests:
                check_answer(c.answer(), _expected_id(line))
            if b'"events"' not in data and b'"logs"' not in data:
                assert c.line() is None, "more answers than requests"  # the end, once all are answered
        finally:
            c.close()

    one_connection()
    assert luasup.call("list")
    luasup.check_untouched()
