"""init.on, init.on_exit, init.exit, init.wait, init.shutdown_grace, init.log."""

import os
import signal

import pytest

from helpers import LOOPS, env_for, read_line, run, start, stop, stat, wait_until


def lua(code, **kw):
    return run(["-e", "local init = require('init')\n" + code], **kw)


@pytest.mark.parametrize("loop", LOOPS)
def test_handler_replaces_the_default_shutdown_and_sees_every_delivery(loop):
    script = """
        local init = require('init')
        local seen = 0
        init.on('TERM', function(name)
            seen = seen + 1
            print(name, seen)
            init.sleep(0.2)            -- handlers may block; deliveries queue
            if seen == 2 then init.exit(7) end
        end)
        print('ready')
        init.wait()
    """
    proc = start(["-e", script], loop=loop)
    try:
        assert read_line(proc.stdout) == "ready\n"
        os.kill(proc.pid, signal.SIGTERM)
        assert read_line(proc.stdout) == "SIGTERM\t1\n"
        os.kill(proc.pid, signal.SIGTERM)  # arrives while the first call runs
        assert read_line(proc.stdout) == "SIGTERM\t2\n"
        assert proc.wait(timeout=30) == 7
    finally:
        stop(proc)


def test_ignore_and_default():
    script = """
        local init = require('init')
        init.on('USR1', 'ignore')
        init.on('HUP', function() print('hup') end)
        init.on('HUP', 'default')         -- back to relaying it
        local c = init.exec{'sh', '-c', 'trap "echo child got HUP" HUP; echo ready; while :; do sleep 0.05; done',
                            stdout = 'inherit'}
        init.wait()
    """
    proc = start(["-e", script])
    try:
        assert read_line(proc.stdout) == "ready\n"
        os.kill(proc.pid, signal.SIGUSR1)   # ignored: luasup and its child live on
        os.kill(proc.pid, signal.SIGHUP)
        assert read_line(proc.stdout) == "child got HUP\n"
        assert proc.poll() is None
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
    finally:
        stop(proc)


def test_wait_returns_when_shutdown_begins_and_on_exit_hooks_run_after_children_stop():
    script = """
        local init = require('init')
        local c = init.exec('sleep', 3600)
        init.on_exit(function(code)
            print('hook', code, c:running())
            print(init.exec('echo', 'hook command ran'):stdout())
        end)
        print('ready')
        print('wait returned', init.wait())
    """
    proc = start(["-e", script])
    try:
        assert read_line(proc.stdout) == "ready\n"
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
        assert proc.stdout.read().splitlines() == [
            "wait returned\t143", "hook\t143\tfalse", "hook command ran", ""]
    finally:
        stop(proc)


def test_exit_from_lua_stops_children_with_the_code():
    result = lua("""
        local c = init.exec('sleep', 3600)
        init.after(0.05, function() init.exit(12) end)
        c:wait()
        print('not reached')
    """)
    assert (result.returncode, result.stdout) == (12, "")


def test_exec_is_refused_once_shutdown_has_begun():
    result = lua("""
        init.spawn(function()
            init.wait()
            print(pcall(init.exec, 'true'))
        end)
        init.sleep(0.01)
        init.exit(3)
    """)
    assert result.returncode == 3
    assert result.stdout == ("false\t(command line):5: unable to spawn true:"
                             " luasup is shutting down\n")


def test_shutdown_grace_sets_the_period():
    script = """
        local init = require('init')
        print(init.shutdown_grace(0.3))
        init.exec{'sh', '-c', "trap '' TERM; echo ready; while :; do sleep 0.05; done",
                  stdout = 'inherit'}
        init.wait()
    """
    proc = start(["-e", script])
    try:
        assert read_line(proc.stdout) == "5\n"
        assert read_line(proc.stdout) == "ready\n"
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
        assert "processes still running 300 ms after SIGTERM" in proc.stderr.read()
    finally:
        stop(proc)


def test_log_levels_and_format():
    result = lua("""
        init.log('info', 'started %s on %d', 'web', 8080)
        init.log('warn', 'slow')
        init.log('debug', 'hidden by default')
        init.log('error', 'bad')
    """)
    assert result.returncode == 0
    assert result.stderr == ("luasup: started web on 8080\nluasup: warning: slow\n"
                             "luasup: error: bad\n")
    quiet = lua("init.log('info', 'x') init.log('warn', 'y')",
                env=env_for(LUASUP_LOG_LEVEL="warn"))
    assert quiet.stderr == "luasup: warning: y\n"


@pytest.mark.parametrize("call, message", [
    ("init.on('KILL', print)", "bad argument #1 to 'on' (SIGKILL, SIGSTOP and SIGCHLD cannot be handled)"),
    ("init.on('HUP', 'sometimes')", "bad argument #2 to 'on' (function, 'default' or 'ignore' expected, got 'sometimes')"),
    ("init.on(32, print)", "bad argument #1 to 'on' (signal 32 cannot be handled)"),
    ("init.log('info', '%d', 'x')", "bad argument #3 to 'log' (number expected, got string)"),
    ("init.on_exit('x')", "bad argument #1 to 'on_exit' (function expected, got string)"),
    ("init.exit('x')", "bad argument #1 to 'exit' (number expected, got string)"),
    ("init.log('loud', 'x')", "bad argument #1 to 'log' ('error', 'warn', 'info' or 'debug' expected, got 'loud')"),
])
def test_bad_arguments(call, message):
    result = lua(call)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "luasup: error in task main: (command line):2: " + message


def test_json_log_format():
    import json
    result = lua("init.log('warn', 'slow %d', 3) init.exec{'true', name = 'job'}:wait()",
                 env=env_for(LUASUP_LOG_FORMAT="json"))
    assert result.returncode == 0
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert [(r["level"], r["msg"]) for r in records][:2] == [("warn", "slow 3"),
                                                            ("info", records[1]["msg"])]
    assert records[1]["msg"].startswith("started job (pid ")
    assert all(r["time"].endswith("Z") for r in records)


def test_main_chunk_returning_with_children_running_says_it_stops_them():
    # they used to be stopped without a word
    result = lua("""
        init.exec('sleep', 30)
        init.exec('sleep', 30)
        init.exec('true'):wait()
        return 4
    """, timeout=10)
    assert (result.returncode, result.stderr) == (4, (
        "luasup: the main chunk returned with 2 children still running: stopping them"
        " (end it with init.wait() to keep them running)\n"))
    # nothing to say when nothing runs, or when shutdown had begun already
    assert lua("init.exec('true'):wait()").stderr == ""
    assert lua("init.exec('sleep', 30); os.exit(3)").stderr == ""
