"""The control planes the ctl metrics talk to: luasup's socket (newline-
delimited JSON-RPC 2.0, docs/ctl.md) and supervisord's (XML-RPC over HTTP
on a unix socket, what supervisorctl speaks), each through one kept
connection, and the policies and set-ups that serve them.

A round trip here is timed from the request's first byte sent to the
answer's last byte read: the request is encoded and the answer decoded
outside the clock, so what is left is the server's work and the socket."""

import http.client
import itertools
import json
import os
import socket
import time
import xmlrpc.client

from . import procs, subjects

SLEEP = ["sleep", "3600"]  # outlived by nothing: each set-up is killed at the end


class RpcError(Exception):
    pass


class Rpc:
    """One connection to luasup's control socket."""

    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError:
            self.sock.close()
            raise
        self.reader = self.sock.makefile("rb")
        self._ids = itertools.count(1)

    def request(self, method, **params):
        """The request's line, ready to send, and its id."""
        rid = next(self._ids)
        line = json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        return (line + "\n").encode(), rid

    def exchange(self, line):
        """Send one request line; the raw line of its answer. Only for a
        connection that follows nothing (no notification comes first)."""
        self.sock.sendall(line)
        answer = self.reader.readline()
        if not answer:
            raise ConnectionError("luasup closed the connection")
        return answer

    @staticmethod
    def _result(method, rid, raw):
        answer = json.loads(raw)
        if answer.get("id") != rid:
            raise RpcError("%s: an answer to another request: %.200r" % (method, raw))
        if "error" in answer:
            raise RpcError("%s: %s" % (method, answer["error"].get("message")))
        return answer["result"]

    def call(self, method, **params):
        line, rid = self.request(method, **params)
        return self._result(method, rid, self.exchange(line))

    def timed(self, method, **params):
        """(seconds for one round trip, its result)"""
        line, rid = self.request(method, **params)
        start = time.perf_counter()
        raw = self.exchange(line)
        took = time.perf_counter() - start
        return took, self._result(method, rid, raw)

    def close(self):
        self.reader.close()
        self.sock.close()


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class XmlRpc:
    """One kept HTTP/1.1 connection to supervisord's XML-RPC interface, as
    supervisorctl keeps it."""

    def __init__(self, path, timeout=30):
        self.conn = _UnixHTTPConnection(path, timeout)

    def _post(self, body):
        self.conn.request("POST", "/RPC2", body, {"Content-Type": "text/xml"})
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RpcError("HTTP %d" % response.status)
        return data

    def timed(self, method, *params):
        body = xmlrpc.client.dumps(params, method).encode()
        start = time.perf_counter()
        data = self._post(body)
        took = time.perf_counter() - start
        try:
            return took, xmlrpc.client.loads(data)[0][0]
        except xmlrpc.client.Fault as e:
            raise RpcError("%s: %s" % (method, e.faultString)) from None

    def call(self, method, *params):
        return self.timed(method, *params)[1]

    def close(self):
        self.conn.close()


def ctl(ctx, sock, *args):
    """argv of the ctl client talking to the luasup serving `sock`."""
    return [ctx.luasup, "ctl", "--socket", sock] + list(args)


def luasup(ctx, source, loop="uvloop"):
    """(name, argv, env, socket path): luasup running a policy, serving
    control on a socket of its own in the scratch directory."""
    directory = ctx.path("ctl")
    os.mkdir(directory, 0o700)
    sock = os.path.join(directory, "ctl.sock")
    name, argv, env = subjects.luasup_script(ctx, loop, source)
    env["LUASUP_CTL"] = sock
    return name, argv, env, sock


def sleepers(count):
    """Lua declaring `count` services s1..sN, each a sleep."""
    return ("for i = 1, %d do\n"
            "    sup.service('s' .. i, {cmd = {%s}})\n"
            "end\n") % (count, ", ".join(map(subjects.lua_string, SLEEP)))


def _said(launch):
    """The launch's last words on stderr, on one line (for a table cell)."""
    return " ".join(launch.stderr_tail(160).split())


def wait_serving(launch, sock, timeout):
    """An Rpc connection once luasup answers `hello` on sock; Timeout if it
    exits first, says it does not serve control, or is silent too long."""
    deadline = time.monotonic() + timeout
    while True:
        if launch.proc.poll() is not None:
            raise procs.Timeout("luasup exited %s before serving control: %s"
                                % (launch.proc.returncode, _said(launch)))
        refused = [l for l in launch.stderr_tail(4000).splitlines() if "error: ctl: " in l]
        if refused:
            raise procs.Timeout("not serving control: %s" % refused[0])
        try:
            rpc = Rpc(sock)
        except OSError:
            rpc = None
        if rpc is not None:
            try:
                rpc.call("hello")
                return rpc
            except (OSError, ValueError, RpcError):
                rpc.close()
        if time.monotonic() > deadline:
            raise procs.Timeout("no answer on %s within %.0f s: %s"
                                % (sock, timeout, _said(launch)))
        time.sleep(0.02)


def wait_running(call, count, timeout, what):
    """Until `call()` (the service states) has `count` in 'running'."""
    procs.wait_until(lambda: sum(1 for s in call() if s == "running") >= count, timeout,
                     "%d running %s" % (count, what), interval=0.05)


def luasup_states(rpc):
    return [s["state"] for s in rpc.call("list")["services"]]


def supervisord(ctx, count, stdout="/dev/null"):
    """(name, argv, env, config, socket): supervisord running `count`
    sleeps as bench:bench_0..N-1, their output to `stdout`, serving
    supervisorctl on a socket in the scratch directory."""
    sock = ctx.path("supervisor") + ".sock"
    name, argv, env = subjects.supervisord(ctx, SLEEP, numprocs=count, restart=True,
                                           stdout=stdout, control=sock)
    return name, argv, env, argv[-1], sock


def wait_supervisord(launch, sock, timeout):
    """An XmlRpc connection once supervisord answers on sock."""
    deadline = time.monotonic() + timeout
    while True:
        if launch.proc.poll() is not None:
            raise procs.Timeout("supervisord exited %s: %s"
                                % (launch.proc.returncode, _said(launch)))
        client = XmlRpc(sock)
        try:
            client.call("supervisor.getState")
            return client
        except (OSError, http.client.HTTPException, RpcError):
            client.close()
        if time.monotonic() > deadline:
            raise procs.Timeout("supervisord did not answer on %s within %.0f s: %s"
                                % (sock, timeout, _said(launch)))
        time.sleep(0.05)


def supervisord_states(client):
    return [p["statename"].lower() for p in client.call("supervisor.getAllProcessInfo")]
