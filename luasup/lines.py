"""Cutting a child's output into lines, in time linear in its length and
holding at most one line's cap of an unfinished line.

A line longer than the cap comes out in pieces of `cap` bytes, each a
`Piece` (the line goes on in the next one), and a last piece that is plain
bytes. So a child writing a gigabyte with no newline costs luasup one cap
of memory, and no byte is copied more than a few times."""


class Piece(bytes):
    """A cut of a line longer than the cap: more of that line follows."""


class Splitter:
    def __init__(self, cap):
        self.cap = cap
        self._head = []  # chunks of the unfinished line
        self._held = 0

    def feed(self, data):
        """The lines (without newline) that data completes, and pieces."""
        cap = self.cap
        if b"\n" not in data:
            self._head.append(data)
            self._held += len(data)
            if self._held <= cap:
                return []
            pieces, rest = _cut(b"".join(self._head), cap)
            self._head = [rest]
            self._held = len(rest)
            return pieces
        lines = data.split(b"\n")
        if self._head:
            self._head.append(lines[0])
            lines[0] = b"".join(self._head)
        rest = lines.pop()
        self._head = [rest] if rest else []
        self._held = len(rest)
        if max(map(len, lines)) > cap:
            lines = _cut_all(lines, cap)
        if self._held > cap:
            lines += self.feed(b"")
        return lines

    def held(self):
        """The unfinished line so far, left where it is (a re-exec carries it)."""
        return b"".join(self._head)

    def finish(self):
        """What is left at the end of the stream, as a last line."""
        line = b"".join(self._head)
        self._head = []
        self._held = 0
        return [line] if line else []


class Runs:
    """Cutting a stream into runs of whole lines, for the log bus: each run
    is what one read completed, as bytes ending in a newline, so a sink
    that writes lines as they came (a file) copies it whole and nothing
    splits it into lines unless a sink or route needs them (logs/record.py).
    An unfinished line past the cap comes out as a run without a newline."""

    def __init__(self, cap):
        self.cap = cap
        self._head = []
        self._held = 0

    def feed(self, data):
        """The run of lines data completes, or None."""
        end = data.rfind(b"\n") + 1
        if not end:
            self._head.append(data)
            self._held += len(data)
            if self._held <= self.cap:
                return None
            # whole caps of the line go; the rest (1 to cap bytes) waits, so
            # the line's end, when it comes, is in a record of its own
            line = b"".join(self._head)
            cut = (len(line) - 1) // self.cap * self.cap
            self._head = [line[cut:]]
            self._held = len(line) - cut
            return line[:cut]
        if self._head:
            self._head.append(data[:end])
            run = b"".join(self._head)
        else:
            run = data if end == len(data) else data[:end]
        rest = data[end:]
        self._head = [rest] if rest else []
        self._held = len(rest)
        return run

    def pending(self):
        """Whether an unfinished line is held."""
        return self._held > 0

    def held(self):
        """The unfinished line so far, left where it is (a re-exec carries it)."""
        return b"".join(self._head)

    def flush(self):
        """The unfinished line so far (its end comes later), or None."""
        if not self._held:
            return None
        run = b"".join(self._head)
        self._head = []
        self._held = 0
        return run


def cut_lines(lines, cap):
    """lines with each one longer than cap cut into Pieces."""
    if max(map(len, lines)) <= cap:
        return lines
    unfinished = type(lines[-1]) is Piece
    lines = _cut_all(lines, cap)
    if unfinished:
        lines[-1] = Piece(lines[-1])
    return lines


def _cut(line, cap):
    """(the pieces of `line` to deliver now, the rest: 1 to cap bytes)."""
    end = (len(line) - 1) // cap * cap
    return [Piece(line[i:i + cap]) for i in range(0, end, cap)], line[end:]


def _cut_all(lines, cap):
    out = []
    for line in lines:
        if len(line) <= cap:
            out.append(line)
        else:
            pieces, rest = _cut(line, cap)
            out += pieces
            out.append(rest)
    return out
