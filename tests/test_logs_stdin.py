"""logs.stdin: luasup's own stdin goes to the stdin of the named children
(stdin = 'pipe'): routed to one, fanned out to several; children started
later get what arrives after they started; end of file closes each
child's stdin; a child that does not read holds up the reading, not the
others' data."""

import signal
import subprocess

import pytest

from helpers import LOOPS, PY, lua_quote, read_line, start, stop

# A child that echoes each line it reads with its name and pid.
ECHO = "echo $0 ready $$; while read l; do echo $0 got $l $$; done; echo $0 eof $$"


def echo(name, extra=""):
    return "init.exec{'sh', '-c', %s, %s, name = %s, stdin = 'pipe', stdout = 'inherit'%s}" % (
        lua_quote(ECHO), lua_quote(name), lua_quote(name), extra)


def luasup(code, loop="uvloop"):
    return start(["-e", "local init, logs = require('init'), require('logs')\n" + code],
                 loop=loop, stdin=subprocess.PIPE)


def lines_until(proc, *starts):
    """Lines of stdout until one has come for each of `starts` (the start
    of a line; given twice, two lines)."""
    out = []
    while any(sum(line.startswith(start) for line in out) < starts.count(start) for start in starts):
        out.append(read_line(proc.stdout).rstrip("\n"))
    return out


@pytest.mark.parametrize("loop", LOOPS)
def test_stdin_routed_to_one_child(loop):
    proc = luasup("""
        logs.stdin('web')
        local web = %s
        local other = %s
        print('write', web:write('x\\n')) -- two writers would interleave
        web:wait()
        other:close() -- not routed: only its own close ends it
        other:wait()
    """ % (echo("web"), echo("other")), loop)
    try:
        ready = lines_until(proc, "write", "web ready", "other ready")
        proc.stdin.write("one\ntwo\n")
        proc.stdin.flush()
        got = lines_until(proc, "web got", "web got")
        rest, err = proc.communicate(input="", timeout=30)  # and end of file
    finally:
        stop(proc)
    assert proc.returncode == 0, err
    assert [line.split()[:3] for line in got] == [["web", "got", "one"], ["web", "got", "two"]]
    assert "write\tnil\tits stdin is fed by logs.stdin" in ready
    assert sorted(line.split()[:2] for line in rest.splitlines()) == [["other", "eof"], ["web", "eof"]]


def test_stdin_fanned_out_to_two_children_each_getting_every_line_in_order():
    proc = luasup("""
        local st = logs.stdin('a', 'b')
        local a, b = %s, %s
        a:wait() b:wait()
        local s = st:stats()
        print('stats', s.read, s.written, s.eof, s.children)
    """ % (echo("a"), echo("b")))
    try:
        lines_until(proc, "a ready", "b ready")
        out, err = proc.communicate(input="".join("%d\n" % i for i in range(1, 201)), timeout=30)
    finally:
        stop(proc)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    for name in ("a", "b"):
        assert [line.split()[2] for line in lines if line.startswith(name + " got")] == \
            [str(i) for i in range(1, 201)]
        assert any(line.startswith(name + " eof") for line in lines)
    size = sum(len("%d\n" % i) for i in range(1, 201))
    assert "stats\t%d\t%d\ttrue\t0" % (size, 2 * size) in lines


def test_a_restarted_service_gets_what_arrives_after_its_start_and_end_of_file_reaches_later_ones():
    once = "echo web ready $$; read l; echo web got $l $$"  # one line, then exit: restarted
    proc = start(["-e", """
        local sup, logs = require('supervise'), require('logs')
        logs.stdin('web')
        sup.service('web', {cmd = {'sh', '-c', %s}, stdin = 'pipe', restart = 'always',
                            backoff = {initial = 0.05, factor = 1}})
        return sup.run()
    """ % lua_quote(once)], stdin=subprocess.PIPE)
    try:
        first = lines_until(proc, "web ready")[-1].split()[2]
        proc.stdin.write("one\n")
        proc.stdin.flush()
        got_one = lines_until(proc, "web got")[-1].split()
        second = lines_until(proc, "web ready")[-1].split()[2]
        proc.stdin.write("two\n")
        proc.stdin.flush()
        got_two = lines_until(proc, "web got")[-1].split()
        proc.stdin.close()  # the running one reads end of file (an empty line), exits, and the
        # one started after it gets end of file at once
        after_eof = lines_until(proc, "web got", "web got")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        stop(proc)
    assert got_one == ["web", "got", "one", first]
    assert second != first and got_two == ["web", "got", "two", second]
    empty = [line.split() for line in after_eof if line.startswith("web got")]
    assert len(empty) == 2 and all(len(fields) == 3 for fields in empty)  # `read` got nothing


def test_a_child_that_does_not_read_pauses_the_reading_until_it_is_gone(tmp_path):
    out = tmp_path / "fast"
    proc = luasup("""
        local st = logs.stdin('slow', 'fast')
        local slow = init.exec{'sleep', 1000, name = 'slow', stdin = 'pipe'}
        local fast = init.exec{'sh', '-c', 'cat > "$0"', %s, name = 'fast', stdin = 'pipe'}
        print('ready')
        while st:stats().paused == 0 do init.sleep(0.01) end
        print('held', st:stats().read) -- what was read while slow's pipe and queue filled
        slow:kill() -- what it holds is dropped, and the reading goes on
        fast:wait()
        local s = st:stats()
        print('after', s.paused, s.dropped_bytes > 0, s.read)
    """ % lua_quote(str(out)))
    data = "".join("%07d\n" % i for i in range(1 << 17))  # 1 MiB
    try:
        assert read_line(proc.stdout) == "ready\n"
        rest, err = proc.communicate(input=data, timeout=30)
    finally:
        stop(proc)
    assert proc.returncode == 0, err
    (_, held), (_, paused, dropped, read) = [line.split() for line in rest.splitlines()]
    # slow's pipe (64 KiB), its queue (64 KiB) and the chunks in hand: far from all of it
    assert int(held) <= 5 * 65536
    assert int(paused) >= 1 and dropped == "true" and int(read) == len(data)
    assert out.read_text() == data


@pytest.mark.parametrize("code, message", [
    ("logs.stdin()", "bad argument #1 to 'logs.stdin' (a child or service name expected, got nothing)"),
    ("logs.stdin('a', 3)", "bad argument #2 to 'logs.stdin' (string expected, got number)"),
    ("logs.stdin('a')\nlogs.stdin('b')", "logs.stdin: luasup's stdin already goes to a"),
])
def test_bad_arguments(code, message):
    proc = luasup(code)
    try:
        out, err = proc.communicate(input="", timeout=30)
    finally:
        stop(proc)
    assert proc.returncode == 1
    assert message in err


def test_luasups_stdin_stays_blocking_for_children_that_share_it():
    check = "import fcntl, os; print('nonblock', bool(fcntl.fcntl(0, fcntl.F_GETFL) & os.O_NONBLOCK))"
    proc = luasup("""
        logs.stdin('web')
        local web = %s
        init.exec{%s, '-c', %s, stdin = 'inherit', stdout = 'inherit'}:wait()
        web:wait()
    """ % (echo("web"), lua_quote(PY), lua_quote(check)))
    try:
        out, err = proc.communicate(input="one\n", timeout=30)
    finally:
        stop(proc)
    assert proc.returncode == 0, err
    assert "nonblock False" in out.splitlines()
