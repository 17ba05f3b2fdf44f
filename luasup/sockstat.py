"""How busy a listening socket is, from /proc/net: the connections accepted
through it that are still open (whoever holds them: the children it was
passed to), and those waiting in its backlog. For an on-demand service's
idle stop, which luasup cannot see otherwise: the service accepts on the
socket itself.

/proc/net shows the network namespace of the process that reads it:
luasup's, where its listeners are."""

import socket

# TCP states (include/net/tcp_states.h) of no connection in use:
# TIME_WAIT, CLOSE, and the listening socket itself.
_GONE = {6, 7, 10}
_UNIX_CONNECTED = 3  # SS_CONNECTED in /proc/net/unix


def _tcp(port):
    busy = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) != port:
                        continue
                    # one waiting in the backlog has its line already
                    if int(fields[3], 16) not in _GONE:
                        busy += 1
        except OSError:
            continue
    return busy


def _unix(path):
    busy = 0
    try:
        with open("/proc/net/unix") as f:
            next(f)
            for line in f:
                fields = line.split()
                # accepted sockets carry the listener's path
                if len(fields) >= 8 and fields[7] == path and int(fields[5], 16) == _UNIX_CONNECTED:
                    busy += 1
    except OSError:
        pass
    return busy


def connections(sock):
    """Open connections accepted through listening socket sock, plus those
    waiting to be accepted."""
    if sock.family == socket.AF_UNIX:
        name = sock.getsockname()
        path = "@" + name[1:].decode("utf-8", "replace") if isinstance(name, bytes) else name
        return _unix(path)
    return _tcp(sock.getsockname()[1])
