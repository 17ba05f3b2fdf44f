"""init.spawn tasks, after/every timers with cancel, init.wait_any."""

import pytest

from helpers import LOOPS, run


def lua(code, **kw):
    return run(["-e", "local init = require('init')\n" + code], **kw)


@pytest.mark.parametrize("loop", LOOPS)
def test_spawn_runs_concurrently_and_wait_returns_results(loop):
    result = lua("""
        local order = {}
        local t = init.spawn(function(a, b)
            init.sleep(0.05); order[#order + 1] = 'task'; return a + b, 'done'
        end, 2, 3)
        order[#order + 1] = 'main'
        print(t:done(), t:wait())
        print(t:done(), table.concat(order, ','))
    """, loop=loop)
    assert (result.returncode, result.stdout) == (0, "false\t5\tdone\ntrue\tmain,task\n")


def test_task_error_is_raised_by_wait():
    result = lua("""
        local t = init.spawn(function() error('broken') end)
        local ok, err = pcall(t.wait, t)
        print(ok, err:match('broken') ~= nil)
    """)
    assert (result.returncode, result.stdout, result.stderr) == (0, "false\ttrue\n", "")


def test_task_error_nobody_waits_for_is_reported():
    result = lua("""
        init.spawn(function() error('lonely failure') end)
        init.sleep(0.1)
        print('main goes on')
    """)
    assert result.returncode == 0
    assert result.stdout == "main goes on\n"
    assert "luasup: error in task task (command line):3: (command line):3: lonely failure" \
        in result.stderr


def test_cancel_stops_a_task_where_it_waits():
    result = lua("""
        local reached = false
        local t = init.spawn(function() init.sleep(10); reached = true end)
        init.sleep(0.05)
        t:cancel()
        print(pcall(t.wait, t))
        print(reached, t:done())
    """)
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "false\t(command line):7: the task was cancelled", "false\ttrue"]


def test_after_fires_once_and_can_be_cancelled():
    result = lua("""
        local fired = 0
        init.after(0.05, function(n) fired = fired + n end, 1)
        local stopped = init.after(0.05, function() fired = fired + 100 end)
        stopped:cancel()
        init.sleep(0.2)
        print(fired)
    """)
    assert (result.returncode, result.stdout) == (0, "1\n")


def test_every_returns_a_timer_that_cancels():
    result = lua("""
        local n = 0
        local timer = init.every(0.02, function() n = n + 1 end)
        while n < 3 do init.sleep(0.01) end
        timer:cancel()
        local at_cancel = n
        init.sleep(0.1)
        print(n == at_cancel)
    """)
    assert (result.returncode, result.stdout) == (0, "true\n")


def test_a_timeout_of_zero_still_sees_what_already_happened():
    result = lua("""
        local c = init.exec('true')
        c:wait()
        local t = init.spawn(function() end)
        init.sleep(0.01)
        print(c:wait(0), init.wait_any(t, 0) == t, t:cancel(), tostring(t))
    """)
    assert (result.returncode, result.stdout) == (
        0, "true\ttrue\ttrue\ttask task (command line):5 done\n")


def test_wait_any_returns_whichever_finishes_first():
    result = lua("""
        local slow, fast = init.exec('sleep', 10), init.exec('sleep', 0.05)
        print(init.wait_any(slow, fast) == fast)
        local t = init.spawn(function() init.sleep(0.05) end)
        print(init.wait_any(slow, t) == t)
        print(init.wait_any(slow, 0.05))
        slow:kill()
    """)
    assert (result.returncode, result.stdout) == (0, "true\ntrue\nnil\ttimeout\n")


@pytest.mark.parametrize("call, message", [
    ("init.spawn(5)", "bad argument #1 to 'spawn' (function expected, got number)"),
    ("init.after(-1, print)", "bad argument #1 to 'after' (non-negative finite number expected, got -1)"),
    ("init.wait_any()", "bad argument #1 to 'wait_any' (child, task or timer expected, got no value)"),
    ("init.wait_any({})", "bad argument #1 to 'wait_any' (child, task or timer expected, got table)"),
    ("init.every(0, print)", "bad argument #1 to 'every' (positive number expected, got 0)"),
    ("init.spawn(print).wait()", "bad argument #1 to 'wait' (task expected, got nil); call it as task:wait()"),
])
def test_bad_arguments(call, message):
    result = lua(call)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "luasup: error in task main: (command line):2: " + message
