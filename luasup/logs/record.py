"""What moves on the bus: a batch of records, the lines one read of a
child's pipe completed. They share the child, the stream and the time they
were read, so routes and sinks handle a batch with one bytes.join rather
than a Python step per line."""

import time

from ..lines import Piece, cut_lines


LINE_CAP = 65536  # LUASUP_LINE_BYTES, set at start


class Batch:
    """Records from one read of one child's stream. Given as `raw` (the
    bytes as the child wrote them: whole lines, the last one unfinished if
    it does not end in a newline) its lines are split only when a sink or
    route asks for them; given as `lines`, its raw bytes are joined only
    when asked."""

    __slots__ = ("name", "stream", "pid", "wall", "mono", "_raw", "_lines")

    def __init__(self, name, stream, pid, raw=None, lines=None, wall=None, mono=None):
        self.name = name  # str: the child's name (exec's name=, else argv[0])
        self.stream = stream  # "stdout" | "stderr"
        self.pid = pid
        self._raw = raw
        self._lines = lines  # bytes without newline; a Piece goes on in the next
        self.wall = time.time() if wall is None else wall
        self.mono = time.monotonic() if mono is None else mono

    @property
    def raw(self):
        if self._raw is None:
            self._raw = b"".join(line if type(line) is Piece else line + b"\n" for line in self._lines)
        return self._raw

    @property
    def lines(self):
        if self._lines is None:
            raw = self._raw
            if raw.endswith(b"\n"):
                lines = raw[:-1].split(b"\n")
            else:
                lines = raw.split(b"\n")
                lines[-1] = Piece(lines[-1])
            if len(raw) > LINE_CAP:
                lines = cut_lines(lines, LINE_CAP)
            self._lines = lines
        return self._lines

    def count(self):
        """How many records (a piece of a long line is one), without
        splitting raw into lines when it cannot hold a piece."""
        if self._lines is not None:
            return len(self._lines)
        raw = self._raw
        if len(raw) > LINE_CAP:  # it may hold pieces, each a record
            return len(self.lines)
        return raw.count(b"\n") + (not raw.endswith(b"\n"))

    def part(self, lines):
        """The same source and time with other lines."""
        return Batch(self.name, self.stream, self.pid, None, lines, self.wall, self.mono)

    def size(self):
        return len(self.raw)


def stamp(wall):
    """RFC 3339 UTC with milliseconds: what people and log shippers read."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wall)) + ".%03dZ" % (wall % 1 * 1000)


def text(line):
    """A line as JSON text: bytes that are not UTF-8 are escaped (\\xNN)."""
    return line.decode("utf-8", "backslashreplace")


def json_lines(batch, extra=None):
    """One JSON object per record, each ending in a newline."""
    if not batch.lines:
        return b""
    import json  # only JSON sinks pay for it
    when = stamp(batch.wall)
    name = text(batch.name.encode("utf-8", "surrogateescape"))
    out = []
    for line in batch.lines:
        record = {"time": when, "name": name, "stream": batch.stream,
                  "pid": batch.pid, "line": text(line)}
        if type(line) is Piece:
            record["continued"] = True
        if extra:
            record.update(extra)
        out.append(json.dumps(record, ensure_ascii=False))
    return ("\n".join(out) + "\n").encode("utf-8")
