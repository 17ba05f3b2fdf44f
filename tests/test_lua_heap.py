"""A restart loop does not grow the Lua heap. lupa leaks a little of it for
each Python object handed to Lua (the slots of its Python-reference table,
~26 bytes a restart with a stdout callback), so luasup hands Lua none per
child: a child is a number for Lua, and a line callback gets its lines
without a task or queue object. Tasks and timers are numbers too, so a
probe task every second or a task cancelled before it ran costs nothing
that stays."""

import pytest

from helpers import run

# How much lupa's table of Python references and the Lua heap grow from
# fn(first) to fn(then_): both measured after a full collection.
GROWTH = """
local function measure(fn, n)
    fn(n)
    collectgarbage()
    collectgarbage()
    local refs = 0
    for _ in pairs(debug.getregistry().LUPA_PYTHON_REFERENCES_TABLE) do
        refs = refs + 1
    end
    return refs, collectgarbage('count')
end
local refs, kbytes = measure(%(fn)s, %(first)d)
local refs2, kbytes2 = measure(%(fn)s, %(then_)d)
print(refs2 - refs, kbytes2 - kbytes)
"""

LOOP = """
local init = require('init')
local stdout = %s
local function restarts(n)
    for _ = 1, n do
        init.exec{'echo', 'line', stdout = stdout}:wait()
    end
    init.sleep(0.02) -- the last callback task ends
end
""" + GROWTH % {"fn": "restarts", "first": 200, "then_": 1500}


@pytest.mark.parametrize("stdout", ["function(line) end", "'capture'"])
def test_restarting_a_child_keeps_the_lua_heap_flat(stdout):
    result = run(["-e", LOOP % stdout], timeout=120)
    assert (result.returncode, result.stderr) == (0, "")
    grown_refs, grown_kbytes = result.stdout.split()
    # it grew by ~1.5 entries a restart with a callback (~0.15 without)
    assert int(grown_refs) < 20
    # the heap itself: ~40 KB more after 1,500 restarts before; what is left
    # is the noise of when garbage Python still references gets collected
    assert float(grown_kbytes) < 30


TASKS = """
local init = require('init')
local function churn(n)
    for _ = 1, n do
        init.spawn(function() end):wait()
        init.spawn(init.sleep, 1000):cancel() -- cancelled before its first step
        init.every(1, print):cancel()
    end
    init.sleep(0.02)
end
""" + GROWTH % {"fn": "churn", "first": 500, "then_": 3000}


def test_tasks_that_end_or_are_cancelled_keep_the_lua_heap_flat():
    result = run(["-e", TASKS], timeout=120)
    assert (result.returncode, result.stderr) == (0, "")
    grown_refs, grown_kbytes = result.stdout.split()
    # before: ~1.5 slots and ~2.5 KB (the coroutine of a task cancelled
    # before it ran was never dropped) for each round of three
    assert int(grown_refs) < 20
    assert float(grown_kbytes) < 100
