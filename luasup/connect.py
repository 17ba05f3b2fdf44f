"""Opening TCP connections for probes, and saying why one failed in words a
script can match on ("connection refused", "timeout")."""

import asyncio
import os
import socket
import sys

from .deadline import within


class ProbeError(Exception):
    """A failure whose message is already what the script should see."""


# What a probe's failure can raise (ssl.SSLError is an OSError; bad host
# names can raise ValueError deep inside the resolver or the ssl module).
FAILURES = (ProbeError, OSError, ValueError)


async def connect(host, port, ssl=None):
    """(reader, writer) for the first address of `host` that accepts.

    Resolving here and trying each address ourselves keeps the error of a
    failed attempt intact: asyncio folds several failures into one OSError
    without an errno ("Multiple exceptions: ...")."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise ProbeError("unable to resolve %s: %s" % (host, _sentence(e.strerror))) from None
    except UnicodeError:
        raise ProbeError("unable to resolve %s: invalid host name" % host) from None
    first = None
    for family, _type, proto, _name, address in infos:
        try:
            return await asyncio.open_connection(
                address[0], address[1], family=family, proto=proto, ssl=ssl,
                server_hostname=host if ssl else None)
        except OSError as e:
            if _is_tls(e):
                raise  # the server answered: other addresses will not help
            first = first or e
    raise first or ProbeError("unable to resolve %s: no address" % host)


async def close(writer, grace=1.0):
    writer.close()
    try:
        await within(writer.wait_closed(), grace)
    except OSError:  # reset by the peer, or too slow to say goodbye
        writer.transport.abort()


def _sentence(text):
    """'Connection refused' -> 'connection refused'."""
    text = text or "unknown error"
    return text[:1].lower() + text[1:]


def _is_tls(e):
    ssl = sys.modules.get("ssl")  # only loaded once https was used
    return ssl is not None and isinstance(e, ssl.SSLError)


def describe(e):
    """The message a script gets for a failed probe."""
    if isinstance(e, ProbeError):
        return str(e)
    if isinstance(e, TimeoutError):  # also a connect() that hit ETIMEDOUT
        return "timeout"
    if _is_tls(e):
        if getattr(e, "verify_message", None):
            return "tls: certificate verify failed: %s" % e.verify_message
        reason = getattr(e, "reason", None) or str(e)
        return "tls: " + reason.replace("_", " ").lower()
    if isinstance(e, OSError):
        # asyncio replaces strerror with "Connect call failed (...)"
        return _sentence(os.strerror(e.errno) if e.errno else e.strerror or str(e))
    return str(e)
