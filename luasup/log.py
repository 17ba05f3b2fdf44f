"""luasup's own messages: one line each on stderr.

Text lines start with `luasup: ` (`luasup: warning: `, `luasup: fatal: ` ...);
LUASUP_LOG_FORMAT=json makes each one a JSON object instead, with `time`,
`level` and `msg`. The forms are stable because people grep them; README.md
lists them. LUASUP_LOG_LEVEL (error, warn, info, debug; default info) sets
how much. The lines go out through console, which never blocks."""

from . import console

LEVELS = {"error": 0, "warn": 1, "info": 2, "debug": 3}
_TEXT_PREFIX = {"fatal": "fatal: ", "error": "", "warn": "warning: ", "info": "", "debug": ""}
# init.log lines spell out every level but info in text form
_SCRIPT_PREFIX = {"error": "error: ", "warn": "warning: ", "info": "", "debug": "debug: "}
_level = LEVELS["info"]
_json = False
# the log bus's hook (logs/bus.py), while a route takes luasup's own lines:
# tap(record) -> whether stderr should still get its line
tap = None


def configure(level, form):
    """level: a key of LEVELS; form: "text" or "json" (cli.Settings checks both)."""
    global _level, _json
    _level = LEVELS[level]
    _json = form == "json"


def _emit(level, text, prefix=None):
    if _json:
        import json
        import time
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03dZ" % (now % 1 * 1000)
        record = json.dumps({"time": stamp, "level": level, "msg": text})
    else:
        record = (_TEXT_PREFIX[level] if prefix is None else prefix) + text
    record = record.encode("utf-8", "replace")
    if tap is None or tap(record):
        console.stderr.write(line(record))


def line(record):
    """The stderr line of a message: in text form it starts `luasup: `
    (which a record on the log bus, named luasup, goes without)."""
    return record + b"\n" if _json else b"luasup: " + record + b"\n"


def enabled(level):
    """For callers on hot paths, to skip formatting a line nobody sees."""
    return LEVELS[level] <= _level


def fatal(text):
    """Always shown: luasup is about to exit."""
    _emit("fatal", text)


def error(text):
    _emit("error", text)


def warn(text):
    if _level >= 1:
        _emit("warn", text)


def info(text):
    if _level >= 2:
        _emit("info", text)


def debug(text):
    if _level >= 3:
        _emit("debug", text)


def script(level, text):
    """A line from init.log, shown by the same level rule as luasup's own."""
    if LEVELS.get(level, 0) <= _level:
        _emit(level, text, _SCRIPT_PREFIX[level])
