"""What moves on the bus: a batch of records, the lines one read of a
child's pipe completed. They share the child, the stream and the time they
were read, so routes and sinks handle a batch with one bytes.join rather
than a Python step per line."""

import json
import time

from ..lines import Piece


class Batch:
    __slots__ = ("name", "stream", "pid", "wall", "mono", "lines")

    def __init__(self, name, stream, pid, lines, wall=None, mono=None):
        self.name = name  # str: the child's name (exec's name=, else argv[0])
        self.stream = stream  # "stdout" | "stderr"
        self.pid = pid
        self.lines = lines  # bytes without newline; a Piece goes on in the next
        self.wall = time.time() if wall is None else wall
        self.mono = time.monotonic() if mono is None else mono

    def part(self, lines):
        """The same source and time with other lines."""
        return Batch(self.name, self.stream, self.pid, lines, self.wall, self.mono)

    def size(self):
        return sum(map(len, self.lines)) + len(self.lines)


def has_pieces(lines, cap):
    """Whether any line is a Piece: a cut of cap bytes, or an unfinished
    line published after a wait, which is always last (Splitter.flush)."""
    return type(lines[-1]) is Piece or (
        max(map(len, lines)) >= cap and any(type(line) is Piece for line in lines))


def stamp(wall):
    """RFC 3339 UTC with milliseconds: what people and log shippers read."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wall)) + ".%03dZ" % (wall % 1 * 1000)


def text(line):
    """A line as JSON text: bytes that are not UTF-8 are escaped (\\xNN)."""
    return line.decode("utf-8", "backslashreplace")


def json_lines(batch, extra=None):
    """One JSON object per record, each ending in a newline."""
    when = stamp(batch.wall)
    out = []
    for line in batch.lines:
        record = {"time": when, "name": batch.name, "stream": batch.stream,
                  "pid": batch.pid, "line": text(line)}
        if type(line) is Piece:
            record["continued"] = True
        if extra:
            record.update(extra)
        out.append(json.dumps(record, ensure_ascii=False))
    return ("\n".join(out) + "\n").encode("utf-8", "surrogateescape")
