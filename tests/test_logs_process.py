"""logs.process: records written to a long-running consumer's stdin. It is
restarted when it dies, with nothing luasup wrote lost on the way; a slow
one only fills its own queue; a command that cannot start fails at the
declaration; at exit it gets the other children's last lines, then end of
file."""

import json
import re

import pytest

from helpers import LOOPS, PY, env_for, helper, run
from helpers import lua_quote as _quote

SINK = helper("linesink.py")


def lua_quote(text):
    return _quote(text).replace("\n", "\\n")


def script(out, consumer_opts="", sink_opts="", body=""):
    argv = ", ".join(lua_quote(a) for a in [PY, SINK, out] + consumer_opts.split())
    return """
        local init, logs = require('init'), require('logs')
        local p = logs.process{%s, name = 'ship'%s}
        logs.route{to = p}
        %s
    """ % (argv, sink_opts, body)


def counter(first, last, then=""):
    """Lua: a child named count writing lines first..last on stdout."""
    code = "import sys\nfor i in range(%d, %d): print(i)\nsys.stdout.flush()\n%s" % (first, last + 1, then)
    return "init.exec{%s, '-c', %s, name = 'count', stdout = 'log'}" % (lua_quote(PY), lua_quote(code))


def received(out):
    """[(consumer pid, line)] in the order the consumers wrote them."""
    with open(out) as f:
        return [tuple(line.split(" ", 1)) for line in f.read().splitlines()]


def by_consumer(records):
    pids = []
    for pid, _ in records:
        if pid not in pids:
            pids.append(pid)
    return [[line for p, line in records if p == pid] for pid in pids]


WAIT_DELIVERED = """
    while not (p:stats().restarts >= 1 and p:stats().delivered >= %d and p:stats().queued == 0) do
        init.sleep(0.02)
    end
"""


def numbers(first, last):
    return [str(i) for i in range(first, last + 1)]


@pytest.mark.parametrize("loop", LOOPS)
def test_a_consumer_that_exits_is_restarted_and_gets_every_line_after_it(tmp_path, loop):
    out = str(tmp_path / "got")
    result = run(["-e", script(out, "--die-after 100", body=counter(1, 400) + ":wait()"
                               + WAIT_DELIVERED % 400 + "print(p:stats().restarts)")], loop=loop)
    assert result.returncode == 0, result.stderr
    first, second = by_consumer(received(out))
    # it read exactly 100 lines: what it left in the pipe went to the next one
    assert first == numbers(1, 100)
    assert second == numbers(101, 400) + ["EOF"]
    assert result.stdout == "1\n"
    assert result.stderr.count("logs: process ship exited (code 3): restarting in 0.5 s") == 1


def test_a_line_the_dead_consumer_read_part_of_goes_whole_to_the_next(tmp_path):
    out = str(tmp_path / "got")
    result = run(["-e", script(out, "--die-after 100 --cut 2", body=counter(1000, 1400) + ":wait()"
                               + WAIT_DELIVERED % 401 + "print(p:stats().resent)")])
    assert result.returncode == 0, result.stderr
    first, second = by_consumer(received(out))
    assert first == numbers(1000, 1099)
    assert second == numbers(1100, 1400) + ["EOF"]  # 1100 whole, though 2 bytes of it went to the first
    # resent: at least line 1100; how many more were still in the dead one's
    # pipe, rather than written after the restart, depends on the timing
    assert 1 <= int(result.stdout) <= 301


@pytest.mark.parametrize("loop", LOOPS)
def test_a_consumer_killed_mid_stream_loses_only_what_it_had_read(tmp_path, loop):
    out = str(tmp_path / "got")
    # The counter writes 1..100, waits for the first consumer to die, then
    # writes 101..200. A buffered reader took more than it handled: those
    # lines died with it; every line written after its death arrives.
    wait_death = "import os, time\nwhile not os.path.exists(%r): time.sleep(0.01)\n" % (out + ".died")
    body = (counter(1, 100, wait_death + "for i in range(101, 201): print(i)\n") + ":wait()"
            + WAIT_DELIVERED % 200)
    result = run(["-e", script(out, "--buffered --die-after 50 --kill", body=body)], loop=loop)
    assert result.returncode == 0, result.stderr
    first, second = by_consumer(received(out))
    assert first == numbers(1, 50)
    assert second[-1] == "EOF"
    got = [int(n) for n in second[:-1]]
    assert got == sorted(set(got))  # in order, none twice
    assert got[-100:] == list(range(101, 201))
    assert all(n > 50 for n in got)
    assert "logs: process ship exited (SIGKILL): restarting in 0.5 s" in result.stderr


def test_a_slow_consumer_drops_its_oldest_lines_and_holds_up_nothing_else(tmp_path):
    out, log = str(tmp_path / "got"), str(tmp_path / "all.log")
    code = "for i in range(1, 3001): print(i, 'x' * 100)"
    body = """
        local file = logs.file{path = %s}
        logs.route{to = file}
        init.exec{%s, '-c', %s, name = 'count', stdout = 'log'}:wait()
        while file:stats().delivered < 3000 do init.sleep(0.02) end
        local s = p:stats()
        print(s.dropped > 0)
    """ % (lua_quote(log), lua_quote(PY), lua_quote(code))
    result = run(["-e", script(out, "--slow 0.05", ", max_bytes = 2000", body)],
                 env=env_for(LUASUP_GRACE_MS=1000))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "true\n"
    assert re.search(r"logs: process ship is full \(\d+ bytes queued\): dropping its oldest lines",
                     result.stderr)
    with open(log) as f:  # the file sink beside it missed nothing
        assert [line.split()[0] for line in f] == numbers(1, 3000)
    got = [int(line.split()[0]) for _, line in received(out) if line != "EOF"]
    assert got[0] == 1 and got == sorted(set(got))


@pytest.mark.parametrize("pidns", [False, True])
def test_at_exit_the_consumer_gets_the_last_lines_of_the_others_then_end_of_file(tmp_path, pidns):
    out = str(tmp_path / "got")
    service = ("import signal, sys, time\n"
               "def bye(*_): print('stopping'); print('bye'); sys.exit(0)\n"
               "signal.signal(signal.SIGTERM, bye)\n"
               "print('up', flush=True)\n"
               "while True: time.sleep(1)\n")
    body = """
        init.exec{%s, '-u', '-c', %s, name = 'svc', stdout = 'log'}
        while p:stats().delivered < 1 do init.sleep(0.02) end
        init.exit(0)
    """ % (lua_quote(PY), lua_quote(service))
    result = run(["-e", script(out, body=body)], pidns=pidns)
    assert result.returncode == 0, result.stderr
    records = received(out)
    assert [line for _, line in records] == ["up", "stopping", "bye", "EOF"]
    assert len({pid for pid, _ in records}) == 1
    assert "logs:" not in result.stderr


def test_format_json_and_prefix(tmp_path):
    out_json, out_text = str(tmp_path / "json"), str(tmp_path / "text")
    body = """
        local t = logs.process{%s, %s, %s, format = 'text', prefix = '{name}/{stream}: '}
        logs.route{to = t}
        local c = init.exec{'sh', '-c', 'echo out; echo err >&2', name = 'web', stdout = 'log', stderr = 'log'}
        c:wait()
        while p:stats().delivered < 2 or t:stats().delivered < 2 do init.sleep(0.02) end
        print(c:pid())
    """ % (lua_quote(PY), lua_quote(SINK), lua_quote(out_text))
    result = run(["-e", script(out_json, sink_opts=", format = 'json'", body=body)])
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for _, line in received(out_json)[:-1]]
    assert sorted((r["name"], r["stream"], r["line"], r["pid"]) for r in records) == [
        ("web", "stderr", "err", int(result.stdout)), ("web", "stdout", "out", int(result.stdout))]
    assert sorted(line for _, line in received(out_text)[:-1]) == ["web/stderr: err", "web/stdout: out"]


@pytest.mark.parametrize("decl, message", [
    ("{'/nonexistent/ship'}", "logs.process: unable to spawn /nonexistent/ship: No such file or directory"),
    ("{'true', cwd = '/nonexistent'}",
     "logs.process: unable to spawn true: cannot change directory to /nonexistent: No such file or directory"),
    ("{'true', user = 'no-such-user-here'}", "logs.process: unable to spawn true: unknown user 'no-such-user-here'"),
    ("{}", "bad argument #1 to 'logs.process' (a command expected, got nothing)"),
    ("{'cat', full = 'block'}", "logs.process: full = 'block' is only for console and file sinks"),
    ("{'cat', format = 'xml'}", "bad argument #1 to 'logs.process' (option 'format': 'text' or 'json' expected, got 'xml')"),
    ("{'cat', stdin = 'pipe'}", "bad argument #1 to 'logs.process' (unknown option 'stdin')"),
])
def test_a_consumer_that_cannot_start_fails_at_the_declaration(decl, message):
    result = run(["-e", "local logs = require('logs')\nlocal p = logs.process%s\nprint('not here')" % decl])
    assert (result.returncode, result.stdout) == (1, "")
    assert "(command line):2: " + message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_consumer_that_cannot_be_restarted_is_retried_with_backoff(tmp_path):
    gone = tmp_path / "gone.sh"
    gone.write_text('#!/bin/sh\nrm -f "$0"\nexit 1\n')  # runs once: the restart finds nothing
    gone.chmod(0o755)
    result = run(["-e", """
        local init, logs = require('init'), require('logs')
        local own = {}
        logs.route{name = 'luasup', to = logs.fn(function(rec) own[#own + 1] = rec.line end)}
        local p = logs.process{%s, name = 'ship'}
        while #own < 3 do init.sleep(0.02) end -- luasup's own lines, through the bus
        for i = 1, 3 do print(own[i]) end
        print(p:stats().restarts)
    """ % lua_quote(str(gone))])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "warning: logs: process ship exited (code 1): restarting in 0.5 s",
        "warning: logs: process ship: unable to restart %s: No such file or directory:"
        " retrying in 1 s" % gone,
        "warning: logs: process ship: unable to restart %s: No such file or directory:"
        " retrying in 2 s" % gone,
        "0",
    ]
