"""Fake services (helpers/fakeservice.py) for tests of the supervise
library: the Lua command that runs one, and the records they keep."""

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
