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

    def pending(self):
        """Whether an unfinished line is held."""
        return self._held > 0

    def flush(self):
        """The unfinished line so far, as a Piece (its end comes later)."""
        if not self._held:
            return []
        line = Piece(b"".join(self._head))
        self._head = []
        self._held = 0
        return [line]

    def finish(self):
        """What is left at the end of the stream, as a last line."""
        line = b"".join(self._head)
        self._head = []
        self._held = 0
        return [line] if line else []


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
