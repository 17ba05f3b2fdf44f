"""The Lua bridge: blocking-looking calls yield to the loop, so `every`
jobs run while the main chunk sleeps or waits."""

import pytest

from helpers import LOOPS, run


@pytest.mark.parametrize("loop", LOOPS)
def test_every_runs_while_main_sleeps_and_waits_for_a_child(loop, tmp_path):
    # Waits for the ticks themselves, not for a time in which they should
    # have come: a busy machine may delay a tick, never lose one for good.
    result = run(["-e", """
        local init = require('init')
        local ticks, waiting_from, flag = 0, nil, ...
        init.every(0.05, function(step)
            ticks = ticks + step
            if waiting_from and ticks > waiting_from then io.open(flag, 'w'):close() end
        end, 1)
        while ticks < 3 do init.sleep(0.01) end
        local after_sleep = ticks
        -- the child exits once a tick has come while main waits for it
        waiting_from = after_sleep
        init.exec('sh', '-c', 'while [ ! -e "$1" ]; do sleep 0.01; done', 'sh', flag):status()
        print(after_sleep >= 3, ticks > after_sleep)
    """, str(tmp_path / "ticked")], loop=loop)
    assert (result.returncode, result.stdout, result.stderr) == (0, "true\ttrue\n", "")


@pytest.mark.parametrize("loop", LOOPS)
def test_every_error_is_reported_with_traceback_and_the_timer_keeps_going(loop, tmp_path):
    (tmp_path / "job.lua").write_text(
        "local init = require('init')\n"
        "local n = 0\n"
        "init.every(0.05, function()\n"
        "  n = n + 1\n"
        "  if n == 1 then error('first tick fails') end\n"
        "end)\n"
        "while n < 3 do init.sleep(0.05) end\n"
        "print('ticks', n >= 3)\n")
    result = run(["job.lua"], cwd=tmp_path, loop=loop)
    assert result.returncode == 0
    assert result.stdout == "ticks\ttrue\n"
    lines = result.stderr.splitlines()
    assert lines[0] == "luasup: error in task every 0.05s job job.lua:3: job.lua:5: first tick fails"
    assert lines[1] == "stack traceback:"
    assert any("job.lua:5: in function <job.lua:3>" in l for l in lines)


def test_every_job_never_overlaps_itself():
    result = run(["-e", """
        local init = require('init')
        local running, overlaps, runs = 0, 0, 0
        init.every(0.01, function()
            running = running + 1
            if running > 1 then overlaps = overlaps + 1 end
            init.sleep(0.05)   -- longer than the period
            running = running - 1
            runs = runs + 1
        end)
        while runs < 4 do init.sleep(0.01) end
        print(overlaps)
    """])
    assert (result.returncode, result.stdout) == (0, "0\n")


def test_waiting_inside_a_script_coroutine_is_a_clear_error():
    result = run(["-e", """
        local init = require('init')
        local co = coroutine.wrap(function() init.sleep(0.1) end)
        co()
    """])
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith("luasup: error in task main: (command line):")
    # (coroutine.wrap prefixes where it was resumed; the cause's line follows)
    assert first.endswith("(command line):3: init.sleep: cannot wait inside a"
        " coroutine the script created itself (its yield would go to that coroutine, not to"
        " luasup); call it from the main chunk or an init.every job")


RAW_YIELD = ("coroutine.yield outside a coroutine the script created: luasup resumes"
             " its tasks itself; wait with init.sleep, child:wait or another call that waits")


@pytest.mark.parametrize("loop", LOOPS)
def test_raw_yield_in_the_main_chunk_is_a_lua_error_at_its_line(loop, tmp_path):
    # it used to print a Python IndexError and hang
    (tmp_path / "main.lua").write_text("print('before')\ncoroutine.yield()\nprint('after')\n")
    result = run(["main.lua"], cwd=tmp_path, loop=loop, timeout=10)
    assert (result.returncode, result.stdout) == (1, "before\n")
    lines = result.stderr.splitlines()
    assert lines[0] == "luasup: error in task main: main.lua:2: " + RAW_YIELD
    assert "Traceback" not in result.stderr


def test_raw_yield_in_an_every_job_is_reported_and_the_timer_keeps_going():
    # it used to stop the timer silently
    result = run(["-e", """
        local init = require('init')
        local runs = 0
        init.every(0.02, function()
            runs = runs + 1
            coroutine.yield('sleep', 1)
        end)
        while runs < 5 do init.sleep(0.02) end
        print(runs >= 5)
    """], timeout=10)
    assert (result.returncode, result.stdout) == (0, "true\n"), result.stderr
    errors = [l for l in result.stderr.splitlines() if l.startswith("luasup: error")]
    assert len(errors) >= 4
    assert errors[0] == ("luasup: error in task every 0.02s job (command line):4:"
                         " (command line):6: " + RAW_YIELD)


def test_yield_inside_a_script_coroutine_still_goes_to_that_coroutine():
    result = run(["-e", """
        local gen = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end end)
        print(gen(), gen(), gen())
    """])
    assert (result.returncode, result.stdout, result.stderr) == (0, "1\t2\t3\n", "")


def test_pcall_around_waiting_calls_works():
    result = run(["-e", """
        local init = require('init')
        local ok, code = pcall(function() return init.exec('sh', '-c', 'exit 6'):status() end)
        print(ok, code)
    """])
    assert (result.returncode, result.stdout) == (0, "true\t6\n")


def test_status_distinguishes_nothing_but_matches_luavisors():
    result = run(["-e", """
        local init = require('init')
        local c = init.exec('sleep', 10)
        init.kill(c:pid(), 'TERM')
        print(c:status() == init.signal.SIGTERM, c:kill(), init.signal.SIGKILL, init.signal.SIGHUP)
    """])
    assert (result.returncode, result.stdout) == (0, "true\t9\t9\t1\n")
