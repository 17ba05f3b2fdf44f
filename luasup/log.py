"""luasup's own messages: one line each on stderr, `luasup: ` first.

The forms are stable because people grep them; README.md lists them.
LUASUP_LOG_LEVEL (error, warn, info, debug; default info) sets how much."""

import os

LEVELS = {"error": 0, "warn": 1, "info": 2, "debug": 3}
_level = LEVELS["info"]


def configure(environ):
    global _level
    _level = LEVELS.get(environ.get("LUASUP_LOG_LEVEL", "info").lower(), LEVELS["info"])


def _emit(text):
    data = ("luasup: %s\n" % text).encode("utf-8", "replace")
    try:
        os.write(2, data)
    except OSError:
        pass  # nowhere left to complain to


def fatal(text):
    """`luasup: fatal: ...` is always shown: luasup is about to exit."""
    _emit("fatal: " + text)


def error(text):
    _emit(text)


def warn(text):
    if _level >= 1:
        _emit("warning: " + text)


def info(text):
    if _level >= 2:
        _emit(text)


def debug(text):
    if _level >= 3:
        _emit(text)


def script(level, text):
    """A line from init.log: shown by the same level rule as luasup's own."""
    if LEVELS.get(level, 0) <= _level:
        _emit(text if level == "info" else "%s: %s" % ("warning" if level == "warn" else level, text))
