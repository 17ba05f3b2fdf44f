"""For tests of the supervise library: Lua scripts that run fake services
(helpers/fakeservice.py) and the records those services keep."""

import collections
import socket

from . import PY, helper, lua_quote

Record = collections.namedtuple("Record", "name event pid time")


def fake(name, records, *options):
    """A Lua command table running fakeservice.py as service `name`."""
    argv = [PY, helper("fakeservice.py"), name, str(records)] + [str(o) for o in options]
    return "{" + ", ".join(lua_quote(a) for a in argv) + "}"


def read_records(path):
    """Every record so far, in the order they were written."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        name, event, pid, t = line.split()
        out.append(Record(name, event, int(pid), float(t)))
    return out


def first(records, name, event):
    """The first record of `event` by `name`; fails the test when missing."""
    for r in records:
        if (r.name, r.event) == (name, event):
            return r
    raise AssertionError("no %s record from %s in %r" % (event, name, records))


def started(path):
    """Names of the services that have written their start record."""
    return {r.name for r in read_records(path) if r.event == "start"}


def free_port():
    """A loopback TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def state_lines(stderr, name=None):
    """luasup's `service NAME: STATE ...` lines, as (name, rest) pairs."""
    out = []
    for line in stderr.splitlines():
        for lead in ("luasup: service ", "luasup: warning: service "):
            if line.startswith(lead):
                svc, _, rest = line[len(lead):].partition(": ")
                if name is None or svc == name:
                    out.append((svc, rest))
    return out


def states(stderr, name=None):
    """The states in those lines, as (name, state) pairs: ('api', 'running')."""
    return [(svc, rest.split()[0].rstrip(":")) for svc, rest in state_lines(stderr, name)]
