"""A small HTTP/1.1 client over asyncio streams: GET for health probes and
fetching a little configuration, POST for the log bus's http sink. One
request per connection (`Connection: close`), bodies sized by
Content-Length, chunked, or the end of the connection. Redirects are
returned, not followed."""

from urllib.parse import urlsplit

from .connect import ProbeError, connect

# Bounds on what a server may send, so a broken or hostile endpoint cannot
# grow luasup's memory without limit.
MAX_HEAD = 64 * 1024
_HEX = frozenset(b"0123456789abcdefABCDEF")
_NO_BODY = {204, 304}

_ssl_context = None


def _tls():
    # ssl is imported and its CA store read only once https is first used.
    global _ssl_context
    if _ssl_context is None:
        try:
            import ssl
        except ImportError:
            raise ProbeError("https is not supported: Python was built without ssl") from None
        _ssl_context = ssl.create_default_context()
    return _ssl_context


def parse_url(url):
    """(https?, host, port, request target, Host header) or ProbeError."""
    def invalid(reason):
        return ProbeError("invalid url '%s': %s" % (url, reason))
    if not url.isascii() or any(c <= " " or c == "\x7f" for c in url):
        raise invalid("spaces, control and non-ASCII characters must be percent-encoded")
    try:
        parts = urlsplit(url)
    except ValueError as e:  # e.g. "Invalid IPv6 URL"
        raise invalid(str(e)[:1].lower() + str(e)[1:]) from None
    try:
        port = parts.port
    except ValueError:
        port = 0
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise invalid("scheme must be http or https")
    if "@" in parts.netloc:
        raise invalid("credentials in the url are not supported")
    host = parts.hostname
    if not host:
        raise invalid("no host")
    default = 443 if scheme == "https" else 80
    if port == 0:
        raise invalid("port must be a number from 1 to 65535")
    target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    # hostname is lowercased and unbracketed; the Host header wants brackets
    shown = "[%s]" % host if ":" in host else host
    host_header = shown if port in (None, default) else "%s:%d" % (shown, port)
    return scheme == "https", host, port or default, target, host_header


def _request(method, target, host_header, headers, body=None):
    """The request's head; `headers` (name, value) bytes pairs override the
    defaults of the same name, except Content-Length, which is the body's."""
    given = {name.lower() for name, _ in headers}
    lines = [b"%s %s HTTP/1.1" % (method, target.encode())]
    for name, value in ((b"Host", host_header.encode()), (b"User-Agent", b"luasup"),
                        (b"Accept", b"*/*"), (b"Connection", b"close")):
        if name.lower() not in given:
            lines.append(name + b": " + value)
    lines.extend(name + b": " + value for name, value in headers if name.lower() != b"content-length")
    if body is not None:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def get(url, headers, max_body):
    """(status, body, [(lowercase name, value)]) for a GET of `url`.
    Raises ProbeError, OSError or TimeoutError (see connect.describe)."""
    return await _exchange(b"GET", url, headers, None, max_body)


async def post(url, headers, body, max_answer):
    """(status, answer, fields) for a POST of `body` to `url`, raising as
    get() does until the status line is in. From then on the status is the
    answer, whatever becomes of the body: one longer than max_answer, or
    cut short, comes back as b"" (the server has taken the request, and
    sending it again would deliver it twice)."""
    return await _exchange(b"POST", url, headers, body, max_answer)


async def _exchange(method, url, headers, body, max_body):
    https, host, port, target, host_header = parse_url(url)
    reader, writer = await connect(host, port, ssl=_tls() if https else None)
    try:
        writer.write(_request(method, target, host_header, headers, body))
        if body:
            writer.write(body)
        await writer.drain()
        while True:
            status, fields = await _read_head(reader)
            # 1xx are interim answers; the real one follows (101 would switch
            # protocols, which a request without Upgrade never asks for).
            if not 100 <= status < 200:
                break
        try:
            answer = await _read_body(reader, status, fields, max_body)
        except ProbeError:
            if body is None:
                raise
            answer = b""
    finally:
        # Not waiting for the close to finish: a TLS peer may take its time
        # over close_notify, and the answer is already complete.
        writer.close()
    return status, answer, _merge(fields)


async def _line(reader, budget):
    try:
        line = await reader.readline()
    except ValueError:  # longer than the stream's buffer limit
        raise ProbeError("invalid response: line too long") from None
    if not line.endswith(b"\n"):
        raise ProbeError("incomplete response")
    if len(line) > budget[0]:
        raise ProbeError("invalid response: headers too long")
    budget[0] -= len(line)
    return line.rstrip(b"\r\n")


async def _read_head(reader):
    budget = [MAX_HEAD]
    try:
        first = await reader.readline()
    except ValueError:
        raise ProbeError("invalid response: line too long") from None
    if not first:
        raise ProbeError("connection closed without a response")
    parts = first.rstrip(b"\r\n").split(None, 2)
    if (len(parts) < 2 or not parts[0].startswith(b"HTTP/1.")
            or len(parts[1]) != 3 or not parts[1].isdigit()):
        raise ProbeError("invalid response: bad status line %r"
                         % first[:80].decode("latin-1").rstrip("\r\n"))
    fields = []
    while True:
        line = await _line(reader, budget)
        if not line:
            return int(parts[1]), fields
        if line[:1] in (b" ", b"\t") and fields:  # obsolete line folding
            name, value = fields[-1]
            fields[-1] = (name, value + b" " + line.strip())
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            raise ProbeError("invalid response: bad header line")
        fields.append((name.lower(), value.strip()))


def _merge(fields):
    """Repeated fields joined with ', ' (as HTTP allows), in order of arrival."""
    merged = {}
    for name, value in fields:
        merged[name] = merged[name] + b", " + value if name in merged else value
    return list(merged.items())


def _too_large(max_body):
    return ProbeError("body too large (over %d bytes)" % max_body)


async def _read_body(reader, status, fields, max_body):
    if status in _NO_BODY:
        return b""
    merged = dict(_merge(fields))
    if b"chunked" in merged.get(b"transfer-encoding", b"").lower():
        return await _read_chunked(reader, max_body)
    if b"content-length" in merged:
        lengths = {v.strip() for v in merged[b"content-length"].split(b",")}
        if len(lengths) != 1 or not next(iter(lengths)).isdigit():
            raise ProbeError("invalid response: bad content-length")
        length = int(lengths.pop())
        if length > max_body:
            raise _too_large(max_body)
        try:
            return await reader.readexactly(length)
        except EOFError:  # asyncio.IncompleteReadError
            raise ProbeError("incomplete response") from None
    body = bytearray()
    while True:  # no length given: the body ends with the connection
        data = await reader.read(65536)
        if not data:
            return bytes(body)
        body += data
        if len(body) > max_body:
            raise _too_large(max_body)


async def _read_chunked(reader, max_body):
    body = bytearray()
    budget = [MAX_HEAD]
    while True:
        size = (await _line(reader, [MAX_HEAD])).split(b";", 1)[0].strip()
        if not size or not _HEX.issuperset(size):
            raise ProbeError("invalid response: bad chunk size")
        size = int(size, 16)
        if size == 0:
            break
        if len(body) + size > max_body:
            raise _too_large(max_body)
        try:
            body += await reader.readexactly(size)
        except EOFError:
            raise ProbeError("incomplete response") from None
        if await _line(reader, [MAX_HEAD]):
            raise ProbeError("invalid response: bad chunk end")
    while await _line(reader, budget):  # trailer fields: not kept
        pass
    return bytes(body)
