"""On-demand services: idle until the first connection, started by it (the
socket passed as LISTEN_FDS, or luasup proxying to the service's own
socket), stopped again after their idle time. Connections made while the
service starts wait; none is refused."""

import json
import socket
import subprocess
import threading

import pytest

from helpers import DEADLINE, LUASUP, PY, env_for, lua_quote, read_line, start, terminate, wait_until

# A server that takes its socket from LISTEN_FDS (fd 3) or binds a unix
# path; each client gets "hello PID" and an echo of what it sent.
SERVER = r"""
import os, socket, sys, threading
if len(sys.argv) > 1:
    s = socket.socket(socket.AF_UNIX)
    if os.path.exists(sys.argv[1]):  # from the run before an idle stop
        os.unlink(sys.argv[1])
    s.bind(sys.argv[1]); s.listen(128)
    print("listening", flush=True)
else:
    assert os.environ["LISTEN_FDS"] == "1" and int(os.environ["LISTEN_PID"]) == os.getpid()
    s = socket.socket(fileno=3)
def serve(c):
    c.sendall(b"hello %d\n" % os.getpid())
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""

CLIENTS = 50


class OnDemand:
    def __init__(self, tmp_path):
        self.tmp = tmp_path
        (tmp_path / "server.py").write_text(SERVER)
        self.env = env_for(LUASUP_CTL=str(tmp_path / "ctl.sock"))
        self.proc = None
        self.port = None

    def start(self, service):
        policy = """
            local init = require('init')
            local sup = require('supervise')
            local l = assert(init.listen('tcp://127.0.0.1:0', {name = 'web'}))
            print(l:address()); io.stdout:flush()
            local server = {%s, %s}
            %s
            return sup.run()
        """ % (lua_quote(PY), lua_quote(str(self.tmp / "server.py")), service)
        self.proc = start(["-e", policy], env=self.env)
        self.port = int(read_line(self.proc.stdout).strip().rsplit(":", 1)[1])

    def start_proxied(self, path, idle):
        """start() with the server on its own unix socket at path, proxied
        from the listener once ready; returns once it is idle."""
        self.start("""
            table.insert(server, %s)
            sup.service('web', {cmd = server, ready = sup.output('^listening$'),
                                on_demand = {listen = l, proxy = 'unix://' .. %s, idle = %s}})
        """ % (lua_quote(str(path)), lua_quote(str(path)), idle))
        self.wait_state("idle")

    def ctl(self, *args):
        return subprocess.run([LUASUP, "ctl"] + list(args), env=self.env, capture_output=True,
                              text=True, timeout=DEADLINE)

    def state(self, name="web"):
        r = self.ctl("--json", "status", name)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def wait_state(self, state, name="web"):
        return wait_until(lambda: (lambda s: s if s and s["state"] == state else None)(self.state(name)),
                          what="%s %s" % (name, state))

    def talk(self, payload=b"ping"):
        """(the server's pid, the echo of payload) over one connection."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=DEADLINE) as c:
            f = c.makefile("rb")
            pid = int(f.readline().split()[1])
            c.sendall(payload)
            c.shutdown(socket.SHUT_WR)
            return pid, f.read()

    def hasty(self, payload):
        """As talk, but the request and its end are sent at once, before
        any answer (as `echo x | socat` or an HTTP/1.0 client does)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=DEADLINE) as c:
            c.sendall(payload)
            c.shutdown(socket.SHUT_WR)
            f = c.makefile("rb")
            return int(f.readline().split()[1]), f.read()

    def many(self, n, talk=None):
        """n clients at once; what each got (or its error)."""
        results = [None] * n

        def one(i):
            try:
                results[i] = (talk or self.talk)(b"client %d" % i)
            except OSError as e:
                results[i] = e
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(DEADLINE)
        return results

    def close(self):
        """luasup stopped; its stderr."""
        return terminate(self.proc)[1] if self.proc is not None else ""


@pytest.fixture
def od(tmp_path):
    o = OnDemand(tmp_path)
    yield o
    o.close()


def check_all_served(results):
    assert [r for r in results if isinstance(r, Exception)] == []
    assert sorted(echo for _, echo in results) == sorted(b"client %d" % i for i in range(len(results)))
    return {pid for pid, _ in results}


def test_the_first_connections_start_the_service_and_none_is_refused(od):
    od.start("sup.service('web', {cmd = server, fds = {l}, on_demand = true})")
    idle = od.wait_state("idle")
    assert "pid" not in idle and idle["why"].startswith("on demand: starts on a connection to tcp://127.0.0.1:")
    pids = check_all_served(od.many(CLIENTS))
    assert len(pids) == 1
    running = od.wait_state("running")
    assert running["pid"] in pids and running["restarts"] == 0


def test_an_idle_service_stops_and_the_next_connection_starts_it_again(od):
    od.start("sup.service('web', {cmd = server, fds = {l}, on_demand = {idle = 0.5}})")
    od.wait_state("idle")
    first, _ = od.talk()
    # a connection held open keeps it running past its idle time
    with socket.create_connection(("127.0.0.1", od.port), timeout=DEADLINE) as held:
        held.makefile("rb").readline()
        later = wait_until(lambda: (lambda s: s if s and s["for"] > 1.5 else None)(od.state()),
                           what="web running a while")
        assert later["state"] == "running" and later["pid"] == first
    after = od.wait_state("idle")
    assert after["last_exit"]["text"] == "idle for 0.5 s" and after["restarts"] == 0
    wait_until(lambda: subprocess.run(["kill", "-0", str(first)], capture_output=True).returncode != 0,
               what="the idle service's process gone")
    second, echo = od.talk(b"again")
    assert second != first and echo == b"again"
    stderr = od.close()
    assert "luasup: service web: stopping (pid %d): idle for 0.5 s" % first in stderr


def test_a_proxied_service_gets_clients_only_once_it_is_ready(od, tmp_path):
    od.start_proxied(tmp_path / "web.sock", idle=0.5)
    pids = check_all_served(od.many(CLIENTS))
    assert len(pids) == 1
    # a megabyte each way through the proxy, with a half-close
    pid, echo = od.talk(b"x" * (1 << 20))
    assert echo == b"x" * (1 << 20)
    # clients that end their side at once: held while the service starts,
    # then while it runs; each end reaches the service after the request
    od.wait_state("idle")
    check_all_served(od.many(CLIENTS, od.hasty))
    check_all_served(od.many(CLIENTS, od.hasty))
    od.wait_state("idle")
    assert od.talk(b"back")[1] == b"back"


def test_ctl_start_starts_an_idle_service_and_dependents_do_not_wait_for_a_connection(od):
    od.start("""
        sup.service('web', {cmd = server, fds = {l}, on_demand = true})
        sup.service('app', {cmd = {'sleep', '3600'}, after = 'web'})
    """)
    od.wait_state("running", "app")
    assert od.state()["state"] == "idle"
    assert od.ctl("health").returncode == 0 and od.ctl("ready").returncode == 0
    result = od.ctl("start", "web")
    assert result.returncode == 0 and result.stdout == "web: running\n"
    pid, _ = od.talk()
    assert pid == od.state()["pid"]


@pytest.mark.parametrize("spec, message", [
    ("sup.oneshot('web', {cmd = server, fds = {l}, on_demand = true})",
     "option 'on_demand': a oneshot runs once, not on demand"),
    ("sup.service('web', {cmd = server, on_demand = true})",
     "option 'on_demand': the service needs a listener in 'fds' (init.listen), or 'listen' and 'proxy'"),
    ("sup.service('web', {cmd = server, on_demand = {listen = l}})",
     "option 'on_demand.listen': only with 'proxy'"),
    ("sup.service('web', {cmd = server, on_demand = {listen = 5, proxy = 'tcp://127.0.0.1:1'}})",
     "option 'on_demand.listen': a listener (init.listen) or a list of them expected"),
    ("sup.service('web', {cmd = server, on_demand = {idle = -1}, fds = {l}})",
     "option 'on_demand.idle'"),
    ("sup.service('web', {cmd = server, on_demand = {listen = l, proxy = 'http://127.0.0.1:1'}})",
     "option 'on_demand.proxy': an address (tcp://HOST:PORT, unix:///PATH) expected, got 'http://127.0.0.1:1'"),
    ("sup.service('web', {cmd = server, on_demand = {wake = 1}, fds = {l}})",
     "option 'on_demand': unknown field 'wake'"),
])
def test_a_wrong_on_demand_declaration_is_an_error_at_its_line(od, spec, message):
    od.start(spec)
    od.proc.wait(timeout=DEADLINE)
    stderr = od.proc.stderr.read()
    assert od.proc.returncode == 1
    assert "(command line):7: bad argument #2 to " in stderr and message in stderr, stderr


def test_short_clients_through_a_proxy_keep_the_service_from_idling(od, tmp_path):
    # each client comes and goes within milliseconds, between two of the
    # idle watch's counts: the proxy counts it all the same
    od.start_proxied(tmp_path / "web.sock", idle=1.5)
    first, _ = od.talk()
    running = od.wait_state("running")
    while running["for"] < 4:  # more than twice the idle time, a client every 0.2 s
        assert od.hasty(b"short")[0] == first
        wait_until(lambda: (lambda s: s["for"] > running["for"] + 0.2)(od.state()), what="0.2 s on")
        running = od.state()
        assert running["state"] == "running" and running["pid"] == first, running
