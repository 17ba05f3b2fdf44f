"""init.listen: luasup opens a listening socket (for children, via
LISTEN_FDS) that clients can connect to, and keeps it out of reach of
children it was not given to."""

import os
import socket
import stat

import pytest

from helpers import LOOPS, lua_quote, read_line, run, start, terminate

INIT = "local init = require('init')\n"


def lines_of(code, *args, loop="uvloop"):
    result = run(["-e", INIT + code] + [str(a) for a in args], loop=loop)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    return result.stdout.splitlines()


class Listening:
    """luasup holding init.listen(address) open until SIGTERM."""

    def __init__(self, address, loop="uvloop"):
        self.proc = start(["-e", INIT + """
            local l, err = init.listen(...)
            print(l and l:address() or err)
            init.sleep(120)
        """, address], loop=loop)
        self.address = read_line(self.proc.stdout).rstrip("\n")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            terminate(self.proc, timeout=30)


def _connect(family, where):
    with socket.socket(family, socket.SOCK_STREAM) as client:
        client.settimeout(10)
        client.connect(where)
        return True


@pytest.mark.parametrize("loop", LOOPS)
def test_tcp_port_0_gives_a_real_address_clients_connect_to(loop):
    with Listening("tcp://127.0.0.1:0", loop=loop) as l:
        host, port = l.address[len("tcp://"):].rsplit(":", 1)
        assert host == "127.0.0.1" and 0 < int(port) < 65536
        assert _connect(socket.AF_INET, (host, int(port)))


def test_ipv6_loopback():
    with Listening("tcp://[::1]:0") as l:
        assert l.address.startswith("tcp://[::1]:")
        assert _connect(socket.AF_INET6, ("::1", int(l.address.rsplit(":", 1)[1])))


@pytest.mark.parametrize("loop", LOOPS)
def test_unix_socket_file_exists_and_accepts_connections(loop, tmp_path):
    path = str(tmp_path / "web.sock")
    with Listening("unix://" + path, loop=loop) as l:
        assert l.address == "unix://" + path
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        assert _connect(socket.AF_UNIX, path)


def test_abstract_unix_socket():
    name = "luasup-test-%d" % os.getpid()
    with Listening("unix://@" + name) as l:
        assert l.address == "unix://@" + name
        assert _connect(socket.AF_UNIX, "\0" + name)


def test_stale_socket_file_from_an_earlier_run_is_replaced(tmp_path):
    path = str(tmp_path / "web.sock")
    with socket.socket(socket.AF_UNIX) as old:
        old.bind(path)  # closed without unlinking, as after a crash
    assert lines_of("print(init.listen(...):address())", "unix://" + path) == ["unix://" + path]


def test_socket_someone_listens_on_is_left_alone(tmp_path):
    path = str(tmp_path / "web.sock")
    with socket.socket(socket.AF_UNIX) as live:
        live.bind(path)
        live.listen(1)
        out = lines_of("print(init.listen(...))", "unix://" + path)
        assert out == ["nil\tunable to listen on unix://%s: Address already in use" % path]
        assert _connect(socket.AF_UNIX, path)


def test_a_regular_file_in_the_way_is_not_removed(tmp_path):
    path = tmp_path / "web.sock"
    path.write_text("data")
    out = lines_of("print(init.listen(...))", "unix://%s" % path)
    assert out == ["nil\tunable to listen on unix://%s: Address already in use" % path]
    assert path.read_text() == "data"


def test_listener_fields_and_methods():
    out = lines_of("""
        local a = assert(init.listen('tcp://127.0.0.1:0'))
        local b = assert(init.listen('tcp://127.0.0.1:0', {name = 'web'}))
        print(a._name, b._name, a._fd == a:fd(), type(b:fd()), a:fd() ~= b:fd())
        print(tostring(b) == 'listener web ' .. b:address())
    """)
    assert out == ["listener\tweb\ttrue\tnumber\ttrue", "true"]


def test_socket_is_close_on_exec_in_luasup():
    out = lines_of("""
        local l = assert(init.listen('tcp://127.0.0.1:0'))
        for line in io.lines('/proc/self/fdinfo/' .. l:fd()) do
            if line:match('^flags:') then print(line:match('%d+$')) end
        end
    """)
    assert int(out[0], 8) & 0o2000000  # O_CLOEXEC


def test_close_releases_the_address_and_removes_the_socket_file(tmp_path):
    path = str(tmp_path / "web.sock")
    out = lines_of("""
        local tcp = assert(init.listen('tcp://127.0.0.1:0'))
        local address = tcp:address()
        local port = tonumber(address:match(':(%d+)$'))
        local unix = assert(init.listen('unix://' .. ...))
        print(init.tcp_check('127.0.0.1', port))
        print(tcp:close(), tcp:close(), unix:close())
        print(init.tcp_check('127.0.0.1', port))
        print(io.open(...) == nil, tcp:address() == address, tostring(tcp) == 'listener listener ' .. address .. ' (closed)')
        print(select(2, pcall(tcp.fd, tcp)))
        -- the same address can be had again
        print(init.listen(address):address() == address)
    """, path)
    assert out == ["true", "true\ttrue\ttrue", "nil\tconnection refused", "true\ttrue\ttrue",
                   "(command line):11: attempt to use a closed listener", "true"]


def test_address_in_use():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        out = lines_of("print(init.listen('tcp://127.0.0.1:%d'))" % port)
    assert out == ["nil\tunable to listen on tcp://127.0.0.1:%d: Address already in use" % port]


@pytest.mark.parametrize("address, message", [
    ("tcp://192.0.2.1:0", "unable to listen on tcp://192.0.2.1:0: Cannot assign requested address"),
    ("unix:///no/such/dir/web.sock",
     "unable to listen on unix:///no/such/dir/web.sock: No such file or directory"),
    ("", "invalid address '': expected tcp://HOST:PORT or unix:///PATH"),
    ("udp://127.0.0.1:53", "invalid address 'udp://127.0.0.1:53': expected tcp://HOST:PORT or unix:///PATH"),
    ("127.0.0.1:80", "invalid address '127.0.0.1:80': expected tcp://HOST:PORT or unix:///PATH"),
    ("tcp://127.0.0.1", "invalid address 'tcp://127.0.0.1': expected tcp://HOST:PORT"),
    ("tcp://localhost:80",
     "invalid address 'tcp://localhost:80': host must be an IP address (IPv6 in brackets)"),
    ("tcp://:80", "invalid address 'tcp://:80': host must be an IP address (IPv6 in brackets)"),
    ("tcp://::1:80", "invalid address 'tcp://::1:80': IPv6 addresses must be in brackets"),
    ("tcp://[127.0.0.1]:80",
     "invalid address 'tcp://[127.0.0.1]:80': only IPv6 addresses go in brackets"),
    ("tcp://127.0.0.1:http",
     "invalid address 'tcp://127.0.0.1:http': port must be a number from 0 to 65535"),
    ("tcp://127.0.0.1:65536",
     "invalid address 'tcp://127.0.0.1:65536': port must be a number from 0 to 65535"),
    ("unix://", "invalid address 'unix://': expected unix:///PATH or unix://@NAME"),
])
def test_bad_addresses_are_nil_and_a_message(address, message):
    assert lines_of("print(init.listen(%s))" % lua_quote(address)) == ["nil\t" + message]


@pytest.mark.parametrize("call, message", [
    ("init.listen()", "bad argument #1 to 'listen' (string expected, got nil)"),
    ("init.listen(80)", "bad argument #1 to 'listen' (string expected, got number)"),
    ("init.listen('tcp://127.0.0.1:0', 'web')",
     "bad argument #2 to 'listen' (table expected, got string)"),
    ("init.listen('tcp://127.0.0.1:0', {nam = 'web'})",
     "bad argument #2 to 'listen' (unknown option 'nam')"),
    ("init.listen('tcp://127.0.0.1:0', {name = 1})",
     "bad argument #2 to 'listen' (option 'name': string expected, got number)"),
    ("init.listen('tcp://127.0.0.1:0', {name = 'a:b'})",
     "bad argument #2 to 'listen' (option 'name': 1-255 printable ASCII characters"
     " without ':' expected, got 'a:b')"),
    ("init.listen('tcp://127.0.0.1:0', {name = ''})",
     "bad argument #2 to 'listen' (option 'name': 1-255 printable ASCII characters"
     " without ':' expected, got '')"),
    ("init.listen('tcp://127.0.0.1:0').fd()",
     "bad argument #1 to 'fd' (listener expected, got nil); call it as listener:fd()"),
    ("init.listen('tcp://127.0.0.1:0').close({})",
     "bad argument #1 to 'close' (listener expected, got table); call it as listener:close()"),
])
def test_bad_arguments(call, message):
    assert lines_of("print(select(2, pcall(function() %s end)))" % call) == [
        "(command line):2: " + message]
