"""Loopback servers for probe tests. Each is a context manager that stops
itself on exit; threads are daemons and every socket has a timeout, so a
test that goes wrong cannot leave one hanging."""

import contextlib
import http.server
import os
import socket
import subprocess
import threading

HOST = "127.0.0.1"
IO_TIMEOUT = 10.0


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IO_TIMEOUT

    def log_message(self, *args):
        pass

    def _send(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/hello":
            self._send(200, b"hello, world", [("X-Test", "yes"), ("Content-Type", "text/plain")])
        elif self.path == "/headers":
            # echo back what the client sent, one "name: value" per line
            lines = ["%s: %s" % (k.lower(), v) for k, v in self.headers.items()]
            self._send(200, "\n".join(lines).encode())
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (b"first ", b"second ", b"x" * 5000, b" last"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\nX-Trailer: t\r\n\r\n")
        elif self.path == "/to-eof":
            # no length at all: the body ends when the connection does
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until the end")
            self.close_connection = True
        elif self.path == "/redirect":
            self._send(302, b"", [("Location", "/hello")])
        else:
            self._send(404, b"not here")


@contextlib.contextmanager
def http_server(tls=None):
    """A small HTTP/1.1 server in a thread; yields its base url. With
    tls=(certfile, keyfile) it speaks https."""
    server = http.server.ThreadingHTTPServer((HOST, 0), _Handler)
    scheme = "http"
    if tls:
        import ssl
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield "%s://%s:%d" % ((scheme,) + server.server_address[:2])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(IO_TIMEOUT)


@contextlib.contextmanager
def raw_server(response):
    """Answers each connection with the bytes `response` once the request's
    head has arrived, then closes it. Yields the port."""
    sock = socket.create_server((HOST, 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except (socket.timeout, OSError):
                continue
            with conn:
                conn.settimeout(IO_TIMEOUT)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    conn.sendall(response)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(IO_TIMEOUT)
        sock.close()


@contextlib.contextmanager
def silent_server():
    """A listening socket nobody accepts on: the kernel completes the
    handshake, so a client connects and sends, and no answer ever comes.
    Yields the port."""
    sock = socket.create_server((HOST, 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@contextlib.contextmanager
def full_backlog():
    """A listening socket whose accept queue is full, so the kernel drops
    further SYNs and a connect() hangs. Yields the port."""
    sock = socket.socket()
    sock.bind((HOST, 0))
    sock.listen(0)  # room for one pending connection
    port = sock.getsockname()[1]
    filler = socket.create_connection((HOST, port), timeout=IO_TIMEOUT)
    try:
        yield port
    finally:
        filler.close()
        sock.close()


def self_signed_cert(directory):
    """(certfile, keyfile) for 127.0.0.1, made by the openssl command."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@contextlib.contextmanager
def refusing_port():
    """A port that is bound but not listening: connecting is refused, and
    nothing else can take the port meanwhile. Yields the port."""
    sock = socket.socket()
    sock.bind((HOST, 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()
