"""os.execute and io.popen in a luasup task start their shell as
init.exec's children start, in the signal state luasup was started with
(libc's system() and popen() would pass on the mask of the thread running
Lua, which blocks every signal luasup handles, so SIGTERM could not end
them), and their waits let the other tasks run. What they return is what
LuaJIT's own return: the script's coroutines, where luasup cannot wait and
libc's versions serve, give the reference."""

import os
import signal

import pytest

from helpers import PY, env_for, luasup_pid, lua_quote, read_line, run, start, stop

STATUS = "exec cat /proc/self/status"


def _lua(script):
    result = run(["-e", script])
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def _in_a_coroutine(script):
    """The same code where luasup's own versions cannot wait: libc's."""
    return "coroutine.wrap(function(...) %s end)(...)" % script


def _signals(status, field):
    line = next(l for l in status.splitlines() if l.startswith(field + ":"))
    return int(line.split()[1], 16)


@pytest.mark.parametrize("script", [
    "os.execute(%s)" % lua_quote(STATUS),
    "io.write(io.popen(%s):read('a'))" % lua_quote(STATUS),
], ids=["os.execute", "io.popen"])
def test_the_shell_has_no_signal_blocked_or_ignored(script):
    status = _lua(script)
    assert _signals(status, "SigBlk") == 0
    assert _signals(status, "SigIgn") == 0


EXECUTE_RESULTS = [("'exit 0'", 0), ("'exit 3'", 3 << 8), ("'kill -9 $$'", 9),
                   ("", 1), ("'/nonexistent/program'", 127 << 8)]


@pytest.mark.parametrize("arg,expected", EXECUTE_RESULTS,
                         ids=["exit-0", "exit-3", "killed", "no-argument", "not-found"])
def test_os_execute_returns_what_luajit_returns(arg, expected):
    script = "print(os.execute(%s))" % arg
    assert _lua(script) == "%d\n" % expected
    assert _lua(_in_a_coroutine(script)) == "%d\n" % expected


def test_os_execute_shell_can_be_ended_by_sigterm():
    # libc's shell has SIGTERM blocked: `kill -TERM $$` did not end it (0)
    assert _lua("print(os.execute('kill -TERM $$'))") == "15\n"


def test_os_execute_lets_other_tasks_run_while_it_waits(tmp_path):
    flag = tmp_path / "flag"
    script = ("local init = require('init') "
              "init.spawn(function() io.open(%s, 'w'):close() end) "
              "print(os.execute(%s))"
              % (lua_quote(str(flag)),
                 # bounded, so a shell whose wait blocks the task gives up (exit 1)
                 lua_quote("for i in $(seq 2000); do [ -e %s ] && exit 0; sleep 0.01; done;"
                           " exit 1" % flag)))
    assert _lua(script) == "0\n"


READS = r"""
local cmd = "printf 'one\\ntwo\\n 42 0x10 3.5e2 x\\nrest\\nlast'"
local function show(...)
    local t = {}
    for i = 1, select('#', ...) do t[i] = ('%q'):format(tostring((select(i, ...)))) end
    print(select('#', ...), table.concat(t, ' '))
end
local f = io.popen(cmd)
show(io.type(f), tostring(f):match('^file %(0x%x+%)$') ~= nil)
for _, format in ipairs({'*l', 'l', '*n', 'n', 'n', '*n', 'L', '*L', 5, 0, 'a', 'a', 'l', 0, 1}) do
    show(format, f:read(format))
end
show(f:close())
show(io.type(f), tostring(f))
f = io.popen(cmd) show(f:read('l', 'L', 'n', 'n', 'a', 'l', 'a')) show(f:close())
f = io.popen(cmd) for line in f:lines() do show(line) end show(f:close())
f = io.popen(cmd) for a, b in f:lines(3, 'L') do show(a, b) end show(f:close())
f = io.popen(cmd) show(f:read()) show(io.close(f))
f = io.popen('exit 3') show(f:read('a'), f:read('l'), f:read(0)) show(f:close())
local ok, err = pcall(f.read, f, 'l') show(ok, (err:gsub('^.-: ', '')))  -- ours names the line
"""


def test_io_popen_reads_as_luajit_reads():
    ours = _lua(READS)
    assert ours == _lua(_in_a_coroutine(READS))
    assert ours.splitlines()[:6] == ['2\t"file" "true"', '2\t"*l" "one"', '2\t"l" "two"',
                                     '2\t"*n" "42"', '2\t"n" "16"', '2\t"n" "350"']


def test_io_popen_reads_all_of_a_long_output():
    # more than the bound on what luasup keeps of a child's output
    # (LUASUP_CAPTURE_BYTES): a reader that falls behind holds the command
    # back instead of losing any of it
    script = ("local f = io.popen('head -c 3000000 /dev/zero | tr \"\\\\0\" x') "
              "local init = require('init') init.sleep(0.2) "
              "local a = f:read(10) local b = f:read('a') "
              "print(#a + #b, (a .. b):find('[^x]'), f:close())")
    assert _lua(script) == "3000000\tnil\ttrue\n"


def test_io_popen_close_does_not_wait_for_a_command_that_keeps_writing():
    # as pclose: luasup's end of the pipe closes, the command gets SIGPIPE
    assert _lua("local f = io.popen('yes') print(f:read('l'), f:close())") == "y\ttrue\n"


WRITES = r"""
local path = ...
local f = io.popen('cat > ' .. path, 'w')
print(io.type(f), f:write('a', 1.5, '\n'), f:write(), f:flush(), f:setvbuf('no'))
print(f:read('l'))
print(f:seek())
print(f:close(), io.type(f))
print(io.open(path):read('a'))  -- all of it: close waited for cat
"""


def test_io_popen_writes_as_luajit_writes(tmp_path):
    ours = run(["-e", WRITES, str(tmp_path / "ours")])
    theirs = run(["-e", _in_a_coroutine(WRITES), str(tmp_path / "theirs")])
    assert (ours.returncode, ours.stderr) == (0, "")
    assert ours.stdout == theirs.stdout == ("file\ttrue\ttrue\ttrue\ttrue\n"
                                            "nil\tBad file descriptor\t9\n"
                                            "nil\tIllegal seek\t29\n"
                                            "true\tclosed file\n"
                                            "a1.5\n\n")


def test_io_popen_write_to_a_command_that_exited_is_a_broken_pipe():
    # and close() then returns true: with libc's popen, luasup's reaper
    # could collect the command first, so pclose failed (No child processes)
    script = ("local f = io.popen('exit 0', 'w') "
              "local init = require('init') init.sleep(0.2) "
              "print(f:write(string.rep('x', 200000))) print(f:close())")
    assert _lua(script) == "nil\tBroken pipe\t32\ntrue\n"


def test_io_popen_handle_dropped_unclosed_does_not_hold_its_command(tmp_path):
    # its command, stopped on a full pipe, gets SIGPIPE as with the gc of a
    # popen'd file; the next spawn (here os.execute) hands dropped handles back
    script = ("local init, path = require('init'), ... "
              "io.popen('yes; echo $? > ' .. path):read(1) collectgarbage() collectgarbage() "
              "os.execute('true') "
              "while not io.open(path) do init.sleep(0.01) end "
              "print(io.open(path):read('a'))")
    result = run(["-e", script, str(tmp_path / "code")])
    assert (result.returncode, result.stdout) == (0, "141\n\n"), result.stderr


@pytest.mark.parametrize("call,message", [
    ("os.execute({})", "bad argument #1 to 'execute' (string expected, got table)"),
    ("io.popen(nil)", "bad argument #1 to 'popen' (string expected, got nil)"),
    ("io.popen('true', {})", "bad argument #2 to 'popen' (string expected, got table)"),
    ("io.popen('true'):read('x')", "bad argument #2 to 'read' (invalid format)"),
    ("io.popen('true', 'w'):write({})", "bad argument #2 to 'write' (string expected, got table)"),
])
def test_bad_arguments_name_the_script_line(call, message):
    result = run(["-e", "\n" + call])
    assert result.returncode == 1
    assert "luasup: error in task main: (command line):2: %s\n" % message in result.stderr


# A child that says when it is ready and exits on SIGTERM, saying so.
TERMINABLE = ("import os, signal, time\n"
              "def term(*_):\n"
              "    os.write(1, b'command SIGTERM\\n'); os._exit(0)\n"
              "signal.signal(signal.SIGTERM, term)\n"
              "os.write(1, b'ready\\n')\n"
              "time.sleep(120)\n")


@pytest.mark.parametrize("pidns", [True, False], ids=["pid1", "subreaper"])
@pytest.mark.parametrize("call", ["os.execute(%s)", "io.popen(%s, 'w'):close()"],
                         ids=["os.execute", "io.popen"])
def test_sigterm_ends_the_command_well_before_the_grace_period(pidns, call, tmp_path):
    program = tmp_path / "terminable.py"
    program.write_text(TERMINABLE)
    proc = start(["-e", call % lua_quote("exec %s %s" % (PY, program))], pidns=pidns,
                 env=env_for(LUASUP_GRACE_MS=60000))
    try:
        assert read_line(proc.stdout) == "ready\n"
        os.kill(luasup_pid(proc, pidns), signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
        assert proc.stdout.read() == "command SIGTERM\n"
        assert "Traceback" not in proc.stderr.read()
    finally:
        stop(proc)


def test_in_a_coroutine_the_script_created_libc_serves():
    # documented: there the command inherits luasup's blocked signals
    status = _lua(_in_a_coroutine("os.execute(%s)" % lua_quote(STATUS)))
    assert _signals(status, "SigBlk") & (1 << (signal.SIGTERM - 1))
