"""How a sink writes a batch as bytes: text lines behind a prefix template
(`{name} | `), or JSON lines."""

import zlib

from . import record

FIELDS = ("name", "stream", "pid", "time")
_COLOURS = (b"\x1b[36m", b"\x1b[33m", b"\x1b[32m", b"\x1b[35m", b"\x1b[34m", b"\x1b[31m")
_RESET = b"\x1b[0m"


def _check(template):
    """ValueError unless template is text with {field}s of FIELDS, each at
    most a width (`{name:>8}`): a width of a billion would cost that much
    memory per record."""
    import re
    import string
    try:
        for _, field, spec, conversion in string.Formatter().parse(template):
            if field is None:
                continue
            if field not in FIELDS:
                raise ValueError("unknown field {%s}" % field)
            if conversion or not re.fullmatch(r"[<>^]?\d{0,3}", spec or ""):
                raise ValueError("{%s%s%s}: only a width up to 999 may follow a field"
                                 % (field, "!" + conversion if conversion else "", ":" + spec if spec else ""))
    except ValueError as e:
        raise ValueError("bad prefix %r: %s (the fields are %s)"
                         % (template, e, ", ".join("{%s}" % f for f in FIELDS))) from None


class Text:
    def __init__(self, template="", colour=False):
        _check(template)
        self._template = template
        self._fixed = None if "{" in template else template.encode()
        self._colour = colour
        self._last = None  # (name, stream, pid) -> its prefix, for the next batch of the same child
        self._open = None  # whose unfinished line the last output ended in (no prefix)

    def prefix(self, batch):
        if self._fixed is not None and not self._colour:
            return self._fixed
        key = (batch.name, batch.stream, batch.pid)
        if "{time}" not in self._template and self._last and self._last[0] == key:
            return self._last[1]
        text = self._template.format(name=batch.name, stream=batch.stream, pid=batch.pid,
                                     time=record.stamp(batch.wall))
        data = text.encode("utf-8", "surrogateescape")
        if self._colour and data:
            data = _COLOURS[zlib.crc32(batch.name.encode("utf-8", "surrogateescape")) % len(_COLOURS)] \
                + data + _RESET
        self._last = (key, data)
        return data

    def __call__(self, batch):
        if not batch.lines:  # a stream's end: its unfinished line, if open, is over
            if self._open == (batch.name, batch.stream, batch.pid):
                self._open = None
                return b"\n"
            return b""
        p = self.prefix(batch)
        if p:  # each piece of a long line gets a line, and a prefix, of its own
            return p + (b"\n" + p).join(batch.lines) + b"\n"
        raw = batch.raw  # as the child wrote it, long lines whole
        key = (batch.name, batch.stream, batch.pid)
        if self._open is not None and self._open != key:
            raw = b"\n" + raw  # another child's line must not go on this one's
        self._open = None if raw.endswith(b"\n") else key
        return raw


class Json:
    def __init__(self, extra=None):
        self._extra = extra

    def __call__(self, batch):
        return record.json_lines(batch, self._extra)


def make(form, prefix="", colour=False):
    if form == "json":
        return Json()
    return Text(prefix, colour)
