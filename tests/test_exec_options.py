"""init.exec{...}: the table form and each of its options."""

import os
import pwd

import pytest

from helpers import LOOPS, PY, env_for, lua_quote, run


def lua(code, **kw):
    return run(["-e", "local init = require('init')\n" + code], **kw)


def test_env_merges_removes_and_clears():
    result = lua("""
        local c = init.exec{'sh', '-c', 'echo "$A|$B|${HOME-unset}|${PATH:+path}"',
                            env = {A = 'x', B = 5, HOME = false}}
        io.write(c:stdout())
        c = init.exec{'/usr/bin/env', clear_env = true, env = {ONLY = 'me'}}
        io.write(c:stdout())
    """)
    assert (result.returncode, result.stdout) == (0, "x|5|unset|path\nONLY=me\n")


def test_cwd_and_umask(tmp_path):
    result = lua("io.write(init.exec{'sh', '-c', 'pwd; umask', cwd = %s, umask = 63}:stdout())"
                 % lua_quote(str(tmp_path)))
    assert (result.returncode, result.stdout) == (0, "%s\n0077\n" % tmp_path)


def test_unreadable_cwd_is_an_exec_error(tmp_path):
    result = lua("init.exec{'true', cwd = %s}" % lua_quote(str(tmp_path / "missing")))
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "luasup: error in task main: (command line):2: unable to spawn true: cannot change"
        " directory to %s: No such file or directory" % (tmp_path / "missing"))


def test_stdin_pipe_write_and_close():
    result = lua("""
        local c = init.exec{'tr', 'a-z', 'A-Z', stdin = 'pipe'}
        assert(c:write('hello '))
        assert(c:write(string.rep('x', 200000) .. '\\n'))   -- more than a pipe holds
        c:close()
        local out = c:stdout()
        print(out:sub(1, 8), #out, c:status())
    """)
    assert (result.returncode, result.stdout) == (0, "HELLO XX\t200007\t0\n")


def test_stdin_inherit_and_null():
    with open(__file__) as f:
        result = run(["-e", "io.write(require('init').exec{'head', '-c', '3', stdin = 'inherit'}"
                            ":stdout(), require('init').exec{'wc', '-c'}:stdout())"], stdin=f)
    assert (result.returncode, result.stdout) == (0, '"""0\n')


def test_stdout_modes_inherit_null_file_and_function(tmp_path):
    log = tmp_path / "out.log"
    log.write_text("before\n")
    result = lua("""
        init.exec{'echo', 'straight through', stdout = 'inherit'}:wait()
        print(init.exec{'echo', 'dropped', stdout = 'null'}:stdout())
        init.exec{'sh', '-c', 'echo to file; echo err >&2', stdout = %s, stderr = %s}:wait()
        local got = {}
        local c = init.exec{'sh', '-c', 'echo one; echo two', stdout = function(l) got[#got + 1] = l end}
        c:wait()
        while #got < 2 do init.sleep(0.01) end
        print(table.concat(got, '+'))
    """ % (lua_quote(str(log)), lua_quote(str(log))))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "straight through\nnil\none+two\n"
    assert log.read_text() == "before\nto file\nerr\n"


def test_line_callbacks_come_in_order_and_never_overlap_while_one_waits():
    # documented behaviour: a callback that waits holds the next line back
    result = lua("""
        local got, busy, overlaps = {}, false, 0
        local c = init.exec{'sh', '-c', 'for i in 1 2 3 4 5; do echo $i; done', stdout = function(l)
            if busy then overlaps = overlaps + 1 end
            busy = true
            if l == '1' then init.sleep(0.2) end
            got[#got + 1] = l
            busy = false
        end}
        c:wait()
        while #got < 5 do init.sleep(0.01) end
        print(table.concat(got, ' '), overlaps)
    """)
    assert (result.returncode, result.stdout, result.stderr) == (0, "1 2 3 4 5\t0\n", "")


def test_prefix_relays_lines_of_both_streams():
    result = lua("init.exec{'sh', '-c', 'echo a; echo b >&2; printf tail', prefix = '[web] '}:wait()")
    assert result.returncode == 0
    assert result.stdout == "[web] a\n[web] tail\n"
    assert result.stderr == "[web] b\n"


def test_lines_iterates_as_output_arrives():
    result = lua("""
        local c = init.exec{'sh', '-c', 'echo first; read x; echo second', stdin = 'pipe'}
        local next_line = c:lines()
        print(next_line())          -- arrives while the child still waits on stdin
        c:write('go\\n')
        print(next_line(), next_line())
    """)
    assert (result.returncode, result.stdout) == (0, "first\nsecond\tnil\n")


def test_name_appears_in_lifecycle_lines():
    result = lua("init.exec{'sh', '-c', 'exit 2', name = 'web'}:wait()")
    lines = result.stderr.splitlines()
    assert lines[0].startswith("luasup: started web (pid ")
    assert lines[1].startswith("luasup: exited web (pid ") and lines[1].endswith(") (code 2)")


def test_setsid_puts_the_child_in_a_new_session():
    result = lua("""
        local c = init.exec{'sh', '-c', 'cut -d" " -f6 /proc/$$/stat; echo $$', setsid = true}
        io.write(c:stdout())
    """)
    session, pid = result.stdout.split()
    assert session == pid


def test_user_and_group_drop_privileges():
    nobody = pwd.getpwnam("nobody")
    result = lua("io.write(init.exec{'id', '-u', user = 'nobody'}:stdout(),"
                 " init.exec{'id', '-g', user = 'nobody', group = 0}:stdout(),"
                 " init.exec{'id', '-u', user = 4242}:stdout())")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "%d\n0\n4242\n" % nobody.pw_uid


@pytest.mark.parametrize("option, message", [
    ("user = 'no-such-user-here'", "unable to spawn true: unknown user 'no-such-user-here'"),
    ("group = 'no-such-group-here'", "unable to spawn true: unknown group 'no-such-group-here'"),
    ("stdout = '/no/such/dir/log'",
     "unable to spawn true: cannot open /no/such/dir/log: No such file or directory"),
])
def test_world_failures_raise_clear_errors(option, message):
    result = lua("init.exec{'true', %s}" % option)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "luasup: error in task main: (command line):2: " + message


@pytest.mark.parametrize("call, message", [
    ("init.exec{'true', colour = 'red'}", "bad argument #1 to 'exec' (unknown option 'colour')"),
    ("init.exec{'true', cwd = 5}", "bad argument #1 to 'exec' (option 'cwd': string expected, got number)"),
    ("init.exec{'true', stdin = 'file'}",
     "bad argument #1 to 'exec' (option 'stdin': 'null', 'inherit' or 'pipe' expected, got 'file')"),
    ("init.exec{'true', stdout = 'loud'}",
     "bad argument #1 to 'exec' (option 'stdout': 'capture', 'inherit', 'null', 'log', a function or a"
     " file path expected, got 'loud')"),
    ("init.exec{'true', env = {A = true}}",
     "bad argument #1 to 'exec' (option 'env': string keys and string, number or false values"
     " expected, got string = boolean)"),
    ("init.exec{'true', user = true}",
     "bad argument #1 to 'exec' (option 'user': string or number expected, got boolean)"),
    ("init.exec{'true', fds = {5}}",
     "bad argument #1 to 'exec' (option 'fds': listeners from init.listen expected, got number at 1)"),
    ("init.exec('true'):write(5)", "bad argument #1 to 'write' (string expected, got number)"),
    ("init.exec('true'):lines('stdin')", "bad argument #1 to 'lines' ('stdout' or 'stderr' expected, got stdin)"),
    ("init.exec('true'):wait('soon')", "bad argument #1 to 'wait' (number expected, got string)"),
    ("init.exec('true'):signal('NOPE')", "bad argument #1 to 'signal' (unknown signal 'NOPE')"),
    ("init.exec{'true', umask = -1}", "bad argument #1 to 'exec' (option 'umask': 0 to 0777 expected, got -1)"),
    ("init.exec{'true', user = 1.5}", "bad argument #1 to 'exec' (option 'user': a name or an id expected, got 1.5)"),
    ("init.exec{'true', fds = {{_fd = 1}}}",
     "bad argument #1 to 'exec' (option 'fds': listeners from init.listen expected, got table at 1)"),
    ("init.exec('true', {env = {}})",
     "bad argument #2 to 'exec' (string expected, got table with keys (options go in the table form:"
     " exec{cmd, arg, key = value}))"),
    ("init.exec{'true', prefix = '>'}:lines()", "lines: this stream of the child is not captured"),
])
def test_bad_options(call, message):
    result = lua(call)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "luasup: error in task main: (command line):2: " + message


def test_write_to_a_child_without_a_stdin_pipe_fails_softly():
    result = lua("print(init.exec('true'):write('x'))")
    assert (result.returncode, result.stdout) == (0, "nil\tstdin is closed\n")


def test_children_stats_and_tostring():
    result = lua("""
        local a = init.exec{'sh', '-c', 'sleep 5 & sleep 5; wait', name = 'pair'}
        local b = init.exec('sleep', 5)
        init.exec('true'):wait()
        local kids = init.children()
        print(#kids, kids[1] == a, kids[2] == b)
        while a:stats().processes < 3 do init.sleep(0.01) end
        local s = a:stats()
        print(s.processes, s.threads, s.rss > 0, s.cpu >= 0)
        print(tostring(a):match('^child pair pid=%d+ running$') ~= nil)
        a:kill() a:wait()
        print(tostring(a):match('^child pair pid=%d+ exited$') ~= nil, a:stats())
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "2\ttrue\ttrue\n3\t3\ttrue\ttrue\ntrue\ntrue\tnil\tnot running\n"


def test_ready_waits_for_ready_1_and_reports_timeout_and_exit():
    sender = ("import os, socket, time; time.sleep(0.1); socket.socket(socket.AF_UNIX,"
              " socket.SOCK_DGRAM).sendto(b'STATUS=warming\\nREADY=1', '\\0' +"
              " os.environ['NOTIFY_SOCKET'][1:]); time.sleep(5)")
    result = lua("""
        local c = init.exec{%r, '-c', %s, notify = true}
        print(c:ready(10))
        local silent = init.exec{'sleep', 5, notify = true}
        print(silent:ready(0.1))
        local quitter = init.exec{'true', notify = true}
        print(quitter:ready(10))
        print(pcall(init.exec('true').ready, init.exec('true')))
    """ % (PY, lua_quote(sender)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "true", "nil\ttimeout", "nil\texited",
        "false\t(command line):9: ready: the child was not started with notify = true"]
