"""Scripts that use the supervise library, and the state lines it logs:
`luasup: service NAME: STATE ...` (`luasup: warning: service NAME: failed: ...`)."""

import re
import time

from helpers import DEADLINE, read_line, run, start

PRELUDE = "local init = require('init')\nlocal sup = require('supervise')\n"
STATES = ("waiting", "starting", "running", "stopping", "backoff", "exited", "done", "failed",
          "stopped")
_STATE_LINE = re.compile(r"^luasup: (?:warning: )?service (\S+): (%s)(?::? (.*))?$"
                         % "|".join(STATES))


def sup_run(body, *args, **kw):
    """Run `body` (Lua, with `init` and `sup` in scope, `...` = args) to the end."""
    return run(["-e", PRELUDE + body] + [str(a) for a in args], **kw)


def sup_start(body, *args, **kw):
    return start(["-e", PRELUDE + body] + [str(a) for a in args], **kw)


def state_lines(stderr):
    """[(service, state, rest of the line)] in the order logged."""
    out = []
    for line in stderr.splitlines():
        m = _STATE_LINE.match(line)
        if m:
            out.append((m.group(1), m.group(2), m.group(3) or ""))
    return out


def states(stderr, name):
    """The states service `name` went through, in order."""
    return [state for svc, state, _ in state_lines(stderr) if svc == name]


def read_until(stream, predicate, timeout=DEADLINE):
    """Read lines from a pipe until one satisfies predicate; every line read."""
    deadline = time.monotonic() + timeout
    lines = []
    while True:
        line = read_line(stream, max(0.1, deadline - time.monotonic()))
        if not line:
            raise AssertionError("stream closed before the line waited for; got %r" % lines)
        lines.append(line.rstrip("\n"))
        if predicate(lines[-1]):
            return lines
