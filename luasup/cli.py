"""The command line: argv and environment -> what to run.

    luasup SCRIPT [ARGS...]          run a policy script (see is_script_path)
    luasup 'LUA CODE' [ARGS...]      run inline code (first argument not a script)
    luasup -e CODE [ARGS...]         run inline code, explicitly
    luasup [-c] -- CMD [ARGS...]     one child, no script (tini/dumb-init style)
    luasup --check SCRIPT.lua        compile only
"""

import os
import sys

from . import __version__, log

USAGE = """\
usage: luasup SCRIPT.lua [ARGS...]
       luasup 'LUA CODE' [ARGS...]
       luasup -e CODE [ARGS...]
       luasup [-c] -- CMD [ARGS...]
       luasup --check SCRIPT.lua | --check -e CODE
       luasup ctl [--socket PATH] [--json] COMMAND ...   (luasup ctl --help)
       luasup --version | --help

Runs as PID 1 (or as a child subreaper anywhere else): reaps every zombie,
relays signals to children's process groups, and on SIGTERM/SIGINT stops
everything within a grace period. A script decides the rest through
require('init'); `--` runs one command instead, like tini or dumb-init.

The first argument is a script file when it names an existing file, ends in
.lua, or looks like a path: it has a / and only letters, digits and
/ . _ - + ~ @ , : (so `print(1/2)` is code, `./tool` and `bin/main.lau` are
files). Anything else is Lua code.

options:
  -e CODE            run CODE as the script
  -c, --single-child with --: relay signals to CMD alone, not its group, and
                     leave what is left of its group alone when CMD exits
                     (as PID 1, leftovers are still stopped)
  --check            compile the script, report syntax errors, run nothing
  -h, --help         show this help
  -V, --version      show the version

environment (checked at start: a bad value is a usage error):
  LUASUP_GRACE_MS       ms between the stop signal and SIGKILL (default 5000)
  LUASUP_CAPTURE_BYTES  captured output kept per child stream (default 1048576)
  LUASUP_CAPTURE_TOTAL_BYTES  captured output kept across all children
                        (default 16777216)
  LUASUP_LINE_BYTES     longer lines are read in pieces of this size (default 65536)
  LUASUP_LOG_LEVEL      error, warn, info or debug (default info)
  LUASUP_LOG_FORMAT     text, or json for one JSON object per line (default text)
  LUASUP_LOOP           uvloop, or asyncio for the standard loop (default uvloop)

exit codes: the script's return value or os.exit code; 1 Lua error;
2 bad usage or unreadable script; with --: CMD's code, 128+N if it died of
signal N, 126 not executable, 127 not found. A stop by signal N: 128+N.
"""

EXIT_USAGE = 2


class Usage(Exception):
    pass


class Invocation:
    def __init__(self):
        self.mode = "script"  # script | command | check
        self.path = None  # script file, when not inline
        self.code = None  # inline code
        self.args = []  # script arguments, or CMD and its arguments
        self.single_child = False

    @property
    def arg0(self):
        return self.path if self.path is not None else self.code


def _looks_like_code(text):
    return any(c.isspace() for c in text)


# Characters of everyday file names. Lua code containing a `/` always needs
# one more (a call's parentheses or quotes, `=`, a space), so a `/` with only
# these is a path: `print(1/2)` stays code, `bin/main.lau` is a file.
_PATH_PUNCTUATION = frozenset("/._-+~@,:")


def is_script_path(text):
    """Whether the first argument names a script file rather than Lua code."""
    if text.endswith(".lua") or os.path.exists(text):
        return True
    return "/" in text and all(c.isalnum() or c in _PATH_PUNCTUATION for c in text)


def parse(argv):
    inv = Invocation()
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            inv.mode = "help"
            return inv
        if a in ("-V", "--version"):
            inv.mode = "version"
            return inv
        if a == "--check":
            inv.mode = "check"
        elif a in ("-c", "--single-child"):
            inv.single_child = True
        elif a == "-e":
            if i + 1 >= len(argv):
                raise Usage("option -e needs an argument")
            inv.code = argv[i + 1]
            inv.args = argv[i + 2:]
            break
        elif a == "--":
            if inv.mode == "check":
                raise Usage("--check takes a script, not a command")
            if i + 1 >= len(argv):
                raise Usage("-- needs a command to run")
            inv.mode = "command"
            inv.args = argv[i + 1:]
            return inv
        elif a.startswith("-") and not _looks_like_code(a):
            raise Usage("unknown option %s" % a)
        else:
            if is_script_path(a):
                inv.path = a
            else:
                inv.code = a
            inv.args = argv[i + 1:]
            break
        i += 1
    if inv.code is None and inv.path is None:
        raise Usage("no script given")
    if inv.single_child:
        raise Usage("-c only applies to -- CMD")
    return inv


def _non_negative(raw):
    value = float(raw)  # ValueError for text; nan fails the test below
    if not value >= 0:
        raise ValueError
    return value


_non_negative.allowed = "a non-negative number"


def _choice(*allowed):
    def parse(raw):
        if raw.lower() not in allowed:
            raise ValueError
        return raw.lower()
    parse.allowed = "one of " + ", ".join(allowed)
    return parse


# Every LUASUP_* setting: (attribute, variable, parser, default). A parser
# takes the raw text and returns the value or raises ValueError; its
# `allowed` says what it accepts, for the error message. An empty variable
# counts as unset.
SETTINGS = [
    ("grace_ms", "LUASUP_GRACE_MS", _non_negative, 5000),
    ("capture_bytes", "LUASUP_CAPTURE_BYTES", _non_negative, 1 << 20),
    ("capture_total_bytes", "LUASUP_CAPTURE_TOTAL_BYTES", _non_negative, 16 << 20),
    ("line_bytes", "LUASUP_LINE_BYTES", _non_negative, 65536),
    ("log_level", "LUASUP_LOG_LEVEL", _choice("error", "warn", "info", "debug"), "info"),
    ("log_format", "LUASUP_LOG_FORMAT", _choice("text", "json"), "text"),
    ("loop", "LUASUP_LOOP", _choice("uvloop", "asyncio"), "uvloop"),
]


class Settings:
    """The LUASUP_* environment, checked: Usage names the first bad one."""

    def __init__(self, environ):
        for attr, name, parse, default in SETTINGS:
            raw = environ.get(name, "")
            if raw == "":
                value = default
            else:
                try:
                    value = parse(raw)
                except ValueError:
                    raise Usage("%s must be %s, got %r" % (name, parse.allowed, raw)) from None
            setattr(self, attr, value)

    @property
    def grace(self):
        return self.grace_ms / 1000.0

    @property
    def capture_limit(self):
        return int(self.capture_bytes) or 1

    @property
    def capture_total(self):
        return int(self.capture_total_bytes) or 1

    @property
    def line_limit(self):
        return int(self.line_bytes) or 1


def started_as():
    """The luasup command this process was started as, or None when it was
    `python -m luasup`."""
    me = os.path.abspath(sys.argv[0])
    return None if os.path.basename(me) == "__main__.py" else me


def self_command():
    """A command that re-runs luasup (arg[-1] for scripts)."""
    me = started_as()
    if me and os.access(me, os.X_OK):
        return me
    import shutil
    return shutil.which("luasup") or os.path.abspath(sys.argv[0])


def main(argv=None):
    # early.py blocked every handled signal before this module was imported;
    # callers that come here directly (python -m, tests) get the same.
    from . import early  # noqa: F401
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["ctl"]:  # the client of a running luasup (docs/ctl.md)
        from .ctl.command import main as ctl_main
        sys.exit(ctl_main(argv[1:]))
    try:
        settings = Settings(os.environ)
        log.configure(settings.log_level, settings.log_format)
        inv = parse(argv)
    except Usage as e:
        log.fatal(str(e))
        if not argv:
            sys.stderr.write(USAGE)
        sys.exit(EXIT_USAGE)
    if inv.mode == "help":
        sys.stdout.write(USAGE)
        return
    if inv.mode == "version":
        sys.stdout.write("luasup %s\n" % __version__)
        return
    if inv.mode == "command":
        from . import command
        sys.exit(command.run(inv, settings))
    from . import script
    sys.exit(script.run(inv, settings))
