"""init.tcp_check and init.http_get against loopback servers: what they
return, the exact error strings, and that waiting on one never stalls the
other tasks."""

import shutil

import pytest

from helpers import LOOPS, env_for, lua_quote, run
from helpers.servers import (full_backlog, http_server, raw_server, refusing_port,
                             self_signed_cert, silent_server)


def lua(code, loop="uvloop"):
    result = run(["-e", "local init = require('init')\n" + code], loop=loop)
    assert "Traceback" not in result.stderr
    return result


def lines_of(code, loop="uvloop"):
    result = lua(code, loop)
    assert (result.returncode, result.stderr) == (0, "")
    return result.stdout.splitlines()


# -- tcp_check -------------------------------------------------------------

@pytest.mark.parametrize("loop", LOOPS)
def test_tcp_check_succeeds_against_a_listener(loop):
    with silent_server() as port:
        assert lines_of("print(init.tcp_check('127.0.0.1', %d))" % port, loop) == ["true"]


@pytest.mark.parametrize("loop", LOOPS)
def test_tcp_check_refused(loop):
    with refusing_port() as port:
        assert lines_of("print(init.tcp_check('127.0.0.1', %d))" % port, loop) == [
            "nil\tconnection refused"]


@pytest.mark.parametrize("loop", LOOPS)
def test_tcp_check_times_out_when_the_handshake_never_completes(loop):
    with full_backlog() as port:
        assert lines_of("print(init.tcp_check('127.0.0.1', %d, 0.3))" % port, loop) == [
            "nil\ttimeout"]


def test_tcp_check_takes_a_port_given_as_a_string_of_digits():
    # as os.getenv('PORT') gives it; it used to be a bad argument
    with silent_server() as port:
        assert lines_of("print(init.tcp_check('127.0.0.1', '%d'))" % port) == ["true"]


def test_tcp_check_on_ipv6_loopback():
    result = lua("""
        local l = assert(init.listen('tcp://[::1]:0'))
        local port = tonumber(l:address():match(':(%d+)$'))
        print(init.tcp_check('::1', port))
    """)
    assert (result.returncode, result.stdout) == (0, "true\n")


def test_tcp_check_unresolvable_host():
    out = lines_of("print(init.tcp_check('no-such-host.invalid', 80, 10))")
    assert out[0].startswith("nil\tunable to resolve no-such-host.invalid: ")


@pytest.mark.parametrize("call, message", [
    ("init.tcp_check()", "bad argument #1 to 'tcp_check' (string expected, got nil)"),
    ("init.tcp_check('h')",
     "bad argument #2 to 'tcp_check' (number or string expected, got nil)"),
    ("init.tcp_check('h', 'http')",
     "bad argument #2 to 'tcp_check' (port number 1-65535 expected, got 'http')"),
    ("init.tcp_check('h', '0x50')",
     "bad argument #2 to 'tcp_check' (port number 1-65535 expected, got '0x50')"),
    ("init.tcp_check('h', '65536')",
     "bad argument #2 to 'tcp_check' (port number 1-65535 expected, got '65536')"),
    ("init.tcp_check('h', 0)",
     "bad argument #2 to 'tcp_check' (port number 1-65535 expected, got 0)"),
    ("init.tcp_check('h', 65536)",
     "bad argument #2 to 'tcp_check' (port number 1-65535 expected, got 65536)"),
    ("init.tcp_check('h', 80.5)",
     "bad argument #2 to 'tcp_check' (port number 1-65535 expected, got 80.5)"),
    ("init.tcp_check('h', 80, 'x')", "bad argument #3 to 'tcp_check' (number expected, got string)"),
    ("init.tcp_check('h', 80, 0)",
     "bad argument #3 to 'tcp_check' (positive finite number expected, got 0)"),
    ("init.tcp_check('h', 80, 1/0)",
     "bad argument #3 to 'tcp_check' (positive finite number expected, got inf)"),
])
def test_tcp_check_bad_arguments(call, message):
    assert lines_of("print(select(2, pcall(function() %s end)))" % call) == [
        "(command line):2: " + message]


# -- http_get --------------------------------------------------------------

@pytest.mark.parametrize("loop", LOOPS)
def test_http_get_returns_status_body_and_lowercase_headers(loop):
    with http_server() as base:
        out = lines_of("""
            local status, body, headers = init.http_get(%s)
            print(status, body, headers['x-test'], headers['content-type'],
                  headers['content-length'], headers['X-Test'])
        """ % lua_quote(base + "/hello"), loop)
    assert out == ["200\thello, world\tyes\ttext/plain\t12\tnil"]


def test_http_get_non_2xx_is_a_status_not_an_error():
    with http_server() as base:
        out = lines_of("""
            print(init.http_get(%s))
            local status, body, headers = init.http_get(%s)
            print(status, body, headers.location)
        """ % (lua_quote(base + "/nope"), lua_quote(base + "/redirect")))
    assert out[0].startswith("404\tnot here\ttable: ")
    assert out[1] == "302\t\t/hello"


@pytest.mark.parametrize("loop", LOOPS)
def test_http_get_decodes_a_chunked_body(loop):
    with http_server() as base:
        out = lines_of("""
            local status, body, headers = init.http_get(%s)
            print(status, headers['transfer-encoding'], #body, body:sub(1, 13), body:sub(-5))
        """ % lua_quote(base + "/chunked"), loop)
    assert out == ["200\tchunked\t5018\tfirst second \t last"]


def test_http_get_reads_a_body_without_length_to_the_end():
    with http_server() as base:
        out = lines_of("print(init.http_get(%s))" % lua_quote(base + "/to-eof"))
    assert out[0].startswith("200\tuntil the end\ttable: ")


def test_http_get_sends_the_given_headers_and_sensible_defaults():
    with http_server() as base:
        out = lines_of("""
            local _, body = init.http_get(%s, {headers = {['X-Custom'] = 'abc', ['X-Num'] = 7}})
            io.write(body, '\\n')
        """ % lua_quote(base + "/headers"))
    port = base.rsplit(":", 1)[1]
    assert "host: 127.0.0.1:%s" % port in out
    assert "x-custom: abc" in out
    assert "x-num: 7" in out
    assert "connection: close" in out
    assert "user-agent: luasup" in out


def test_http_get_header_given_by_the_script_replaces_the_default():
    with http_server() as base:
        out = lines_of("""
            local _, body = init.http_get(%s, {headers = {['user-agent'] = 'probe/1'}})
            io.write(body, '\\n')
        """ % lua_quote(base + "/headers"))
    assert [l for l in out if l.startswith("user-agent")] == ["user-agent: probe/1"]


def test_http_get_skips_interim_responses_and_joins_repeated_headers():
    response = (b"HTTP/1.1 100 Continue\r\n\r\n"
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: a=1\r\n"
                b"Set-Cookie: b=2\r\n\r\nok")
    with raw_server(response) as port:
        out = lines_of("""
            local status, body, headers = init.http_get('http://127.0.0.1:%d/')
            print(status, body, headers['set-cookie'])
        """ % port)
    assert out == ["200\tok\ta=1, b=2"]


@pytest.mark.parametrize("response, error", [
    (b"", "connection closed without a response"),
    (b"SSH-2.0-OpenSSH\r\n\r\n", "invalid response: bad status line 'SSH-2.0-OpenSSH'"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "incomplete response"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "invalid response: bad content-length"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
     "invalid response: bad chunk size"),
    (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "invalid response: bad header line"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n01234567890",
     "body too large (over 10 bytes)"),
    (b"HTTP/1.1 200 OK\r\n\r\n" + b"y" * 11, "body too large (over 10 bytes)"),
])
def test_http_get_broken_responses(response, error):
    with raw_server(response) as port:
        out = lines_of("print(init.http_get('http://127.0.0.1:%d/', {max_body = 10}))" % port)
    assert out == ["nil\t" + error]


@pytest.mark.parametrize("loop", LOOPS)
def test_http_get_times_out_on_a_server_that_never_answers(loop):
    with silent_server() as port:
        out = lines_of("print(init.http_get('http://127.0.0.1:%d/', {timeout = 0.3}))"
                       % port, loop)
    assert out == ["nil\ttimeout"]


def test_http_get_refused():
    with refusing_port() as port:
        out = lines_of("print(init.http_get('http://127.0.0.1:%d/x'))" % port)
    assert out == ["nil\tconnection refused"]


@pytest.mark.parametrize("url, reason", [
    ("ftp://host/", "scheme must be http or https"),
    ("127.0.0.1:80", "scheme must be http or https"),
    ("http:///path", "no host"),
    ("http://host:0/", "port must be a number from 1 to 65535"),
    ("http://host:99999/", "port must be a number from 1 to 65535"),
    ("http://host:abc/", "port must be a number from 1 to 65535"),
    ("http://[::1/", "invalid IPv6 URL"),
    ("http://user:pw@host/", "credentials in the url are not supported"),
    ("http://host/a b", "spaces, control and non-ASCII characters must be percent-encoded"),
])
def test_http_get_invalid_urls(url, reason):
    out = lines_of("print(init.http_get(%s))" % lua_quote(url))
    assert out == ["nil\tinvalid url '%s': %s" % (url, reason)]


@pytest.mark.parametrize("call, message", [
    ("init.http_get()", "bad argument #1 to 'http_get' (string expected, got nil)"),
    ("init.http_get('http://h', 5)", "bad argument #2 to 'http_get' (table expected, got number)"),
    ("init.http_get('http://h', {timeut = 1})", "bad argument #2 to 'http_get' (unknown option 'timeut')"),
    ("init.http_get('http://h', {1})", "bad argument #2 to 'http_get' (unknown option '1')"),
    ("init.http_get('http://h', {timeout = '1'})",
     "bad argument #2 to 'http_get' (option 'timeout': number expected, got string)"),
    ("init.http_get('http://h', {timeout = 0})",
     "bad argument #2 to 'http_get' (option 'timeout': positive finite number expected, got 0)"),
    ("init.http_get('http://h', {max_body = 1.5})",
     "bad argument #2 to 'http_get' (option 'max_body': non-negative integer expected, got 1.5)"),
    ("init.http_get('http://h', {headers = 'x'})",
     "bad argument #2 to 'http_get' (option 'headers': table expected, got string)"),
    ("init.http_get('http://h', {headers = {'x'}})",
     "bad argument #2 to 'http_get' (header name must be a string, got number)"),
    ("init.http_get('http://h', {headers = {['a b'] = 'x'}})",
     "bad argument #2 to 'http_get' (invalid header name 'a b')"),
    ("init.http_get('http://h', {headers = {a = true}})",
     "bad argument #2 to 'http_get' (header 'a': string expected, got boolean)"),
    ("init.http_get('http://h', {headers = {a = 'x\\r\\nEvil: 1'}})",
     "bad argument #2 to 'http_get' (header 'a' contains a line break or NUL)"),
])
def test_http_get_bad_arguments(call, message):
    assert lines_of("print(select(2, pcall(function() %s end)))" % call) == [
        "(command line):2: " + message]


# -- never blocking the loop -------------------------------------------------

# A probe that never ends waits in a task while an every job ticks 5 times:
# the ticks are waited for, so a slow machine only makes the test slower.
TICKING = """
    local ticks = 0
    init.every(0.1, function() ticks = ticks + 1 end)
    local probe = init.spawn(function() return %s end)
    while ticks < 5 do init.sleep(0.01) end
    print('ticked while waiting', probe:done())
    probe:cancel()
"""

@pytest.mark.parametrize("loop", LOOPS)
def test_every_keeps_ticking_while_http_get_waits(loop):
    with silent_server() as port:
        probe = "init.http_get('http://127.0.0.1:%d/', {timeout = 30})" % port
        out = lines_of(TICKING % probe, loop)
    assert out == ["ticked while waiting\tfalse"]


@pytest.mark.parametrize("loop", LOOPS)
def test_every_keeps_ticking_while_tcp_check_waits(loop):
    with full_backlog() as port:
        out = lines_of(TICKING % ("init.tcp_check('127.0.0.1', %d, 30)" % port), loop)
    assert out == ["ticked while waiting\tfalse"]



# -- https -------------------------------------------------------------------

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None,
                                   reason="needs the openssl command to make a certificate")


@needs_openssl
def test_https_with_a_trusted_certificate(tmp_path):
    cert, key = self_signed_cert(str(tmp_path))
    with http_server(tls=(cert, key)) as base:
        # OpenSSL's default trust store follows SSL_CERT_FILE
        result = run(["-e", "print(require('init').http_get(%s))" % lua_quote(base + "/hello")],
                     env=env_for(SSL_CERT_FILE=cert))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("200\thello, world\ttable: ")


@needs_openssl
def test_https_with_an_untrusted_certificate(tmp_path):
    cert, key = self_signed_cert(str(tmp_path))
    with http_server(tls=(cert, key)) as base:
        out = lines_of("print(init.http_get(%s))" % lua_quote(base + "/hello"))
    assert out == ["nil\ttls: certificate verify failed: self-signed certificate"]
