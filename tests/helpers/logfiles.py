"""For tests of the log bus (`require('logs')`): policies, children that
write numbered lines, and what ends up in (rotated) log files."""

import glob
import os
import subprocess

from . import DEADLINE, PY, command, env_for, helper, lua_quote, run

PRELUDE = "local init, logs = require('init'), require('logs')\n"
# Lua: wait_for(path, text) waits (30 s at most) until the file holds text
WAIT_FOR = """
    local function wait_for(path, text)
        for _ = 1, 3000 do
            local f = io.open(path)
            local s = f and f:read('*a')
            if f then f:close() end
            if s and s:find(text, 1, true) then return end
            init.sleep(0.01)
        end
        error('no ' .. text .. ' in ' .. path)
    end
"""


def policy(body, **kw):
    """Run `body` (Lua, with `init` and `logs` in scope) to the end."""
    return run(["-e", PRELUDE + body], **kw)


def policy_bytes(body, pidns=False):
    """policy(), its output as bytes; luasup as PID 1 of a new PID
    namespace if pidns."""
    return subprocess.run(command(["-e", PRELUDE + body], pidns), env=env_for(), capture_output=True,
                          timeout=DEADLINE)


def lua_text(text):
    """text as a Lua string literal on one line (lua_quote keeps newlines)."""
    return lua_quote(text).replace("\n", "\\n")


def numbered(tag, count, width=0):
    """A Lua init.exec table: a child named `tag` whose stdout goes to the
    bus, writing the numbers 0..count-1, a line each, fast (one write per
    thousand lines), each padded with `width` x's."""
    code = ("import os\n"
            "for start in range(0, %d, 1000):\n"
            "    os.write(1, ''.join('%%d%%s\\n' %% (n, %r) for n in range(start, min(start + 1000, %d))).encode())\n"
            % (count, " " + "x" * width if width else "", count))
    return "{%s, '-c', %s, name = %s, stdout = 'log'}" % (lua_quote(PY), lua_text(code), lua_quote(tag))


def rotated(path):
    """The files of a rotated log, oldest first: path.N ... path.1, path."""
    suffixes = [f[len(path) + 1:] for f in glob.glob(glob.escape(path) + ".*")]
    older = sorted((int(s) for s in suffixes if s.isdigit()), reverse=True)
    files = ["%s.%d" % (path, n) for n in older]
    return files + ([path] if os.path.exists(path) else [])


def read_rotated(path):
    """Everything written to a rotated log, oldest first."""
    out = b""
    for name in rotated(path):
        with open(name, "rb") as f:
            out += f.read()
    return out


def check_numbered(text, tags, count):
    """Every `TAG N` line of each tag once, in order (lines of other tags
    ignored): what `numbered` children wrote, behind a '{name} ' prefix."""
    seen = {tag: [] for tag in tags}
    for line in text.splitlines():
        tag, _, rest = line.partition(b" ")
        tag = tag.decode()
        if tag in seen:
            seen[tag].append(int(rest.split()[0]))
    for tag in tags:
        assert seen[tag] == list(range(count)), "%s: %d lines, first gaps at %r" % (
            tag, len(seen[tag]), _gaps(seen[tag])[:3])


def _gaps(numbers):
    return [(a, b) for a, b in zip([-1] + numbers, numbers) if b != a + 1]


def progress_argv(progress, count, size):
    """helpers/progress.py's command as Lua list items: `count` numbered
    lines of `size` bytes, with how many so far in the file `progress`."""
    argv = [PY, helper("progress.py"), str(progress), str(count), str(size)]
    return ", ".join(lua_quote(a) for a in argv)


def progress_writer(name, progress, count, size):
    """A Lua init.exec table: progress_argv as a child named `name` whose
    stdout goes to the bus."""
    return "{%s, name = %s, stdout = 'log'}" % (progress_argv(progress, count, size), lua_quote(name))


def progress(path):
    """How many lines the progress writer behind `path` has written."""
    try:
        with open(path, "rb") as f:
            return int(f.read() or 0)
    except FileNotFoundError:
        return 0
