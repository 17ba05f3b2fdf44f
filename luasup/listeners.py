"""Listening sockets that luasup opens and hands to children (systemd's
LISTEN_FDS protocol): luasup binds and listens but never accepts.

Addresses: tcp://IPV4:PORT, tcp://[IPV6]:PORT (PORT 0 picks a free port),
unix:///absolute/path, unix://relative/path, unix://@abstract-name."""

import ipaddress
import os
import socket
import stat

BACKLOG = 128


class AddressError(ValueError):
    """The address string itself is wrong (as opposed to the bind failing)."""


class Listener:
    def __init__(self, sock, name, address, path=None, inode=None):
        self.sock = sock
        self.name = name
        self.address = address
        self.asked = address  # the address init.listen was given (port 0, a relative path)
        self.path = path  # a unix socket's file, removed again on close
        self.inode = inode or (os.stat(path).st_ino if path else None)

    def fileno(self):
        return self.sock.fileno()

    def close(self):
        if self.sock.fileno() < 0:
            return
        self.sock.close()
        # Remove the socket file only if it is still the one we created.
        if self.path:
            try:
                if os.stat(self.path).st_ino == self.inode:
                    os.unlink(self.path)
            except OSError:
                pass


def parse(address):
    """(family, bind address, unix path or None) for an address string."""
    if address.startswith("tcp://"):
        rest = address[6:]
        host, sep, port = rest.rpartition(":")
        if not sep:
            raise AddressError("expected tcp://HOST:PORT")
        if host.startswith("[") and host.endswith("]"):
            host, family, want = host[1:-1], socket.AF_INET6, 6
        else:
            family, want = socket.AF_INET, 4
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            raise AddressError("host must be an IP address (IPv6 in brackets)") from None
        if ip.version != want:
            raise AddressError("IPv6 addresses must be in brackets" if want == 4
                               else "only IPv6 addresses go in brackets")
        if not (port.isdigit() and port.isascii() and int(port) <= 65535):
            raise AddressError("port must be a number from 0 to 65535")
        return family, (host, int(port)), None
    if address.startswith("unix://"):
        path = address[7:]
        if not path or "\0" in path:
            raise AddressError("expected unix:///PATH or unix://@NAME")
        if path.startswith("@"):  # Linux's abstract namespace: no file
            return socket.AF_UNIX, b"\0" + os.fsencode(path[1:]), None
        return socket.AF_UNIX, path, path
    raise AddressError("expected tcp://HOST:PORT or unix:///PATH")


def _remove_stale_socket(path):
    """A socket file left by a previous run makes bind fail; remove it, but
    only when it is a socket nobody listens on any more."""
    try:
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            return
    except OSError:
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)
    try:
        probe.connect(path)
    except ConnectionRefusedError:
        try:
            os.unlink(path)
        except OSError:
            pass
    except OSError:
        pass  # alive (or busy), or not ours to judge: let bind report it
    finally:
        probe.close()


def _describe(family, sock):
    bound = sock.getsockname()
    if family == socket.AF_INET:
        return "tcp://%s:%d" % bound[:2]
    if family == socket.AF_INET6:
        return "tcp://[%s]:%d" % bound[:2]
    if isinstance(bound, bytes):  # abstract: a leading NUL
        return "unix://@" + os.fsdecode(bound[1:])
    return "unix://" + bound


def open_listener(address, name):
    """A Listener bound to `address` (str), listening, close-on-exec.
    Raises AddressError for a malformed address, OSError when it cannot
    be bound."""
    family, where, path = parse(address)
    if path:
        _remove_stale_socket(path)
    # socket.socket gives a close-on-exec descriptor: children get it only
    # when it is passed to them on purpose.
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if family != socket.AF_UNIX:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(where)
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return Listener(sock, name, _describe(family, sock), path)
