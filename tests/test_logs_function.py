"""logs.fn: a Lua callback gets each record, in order, one at a time, in
a task of its own; an error in it is reported in one line and the next
records still come; what is queued at exit is still handed to it."""

import pytest

from helpers import LOOPS, env_for, run


@pytest.mark.parametrize("loop", LOOPS)
def test_the_callback_sees_every_field(loop):
    result = run(["-e", """
        local init, logs = require('init'), require('logs')
        local got = {}
        local f = logs.fn(function(rec) got[#got + 1] = rec end)
        logs.route{to = f}
        local before_wall, before_mono = os.time(), init.now()
        local c = init.exec{'sh', '-c', 'echo out; echo err >&2; printf "0123456789abcdefghij\\\\nend"',
                            name = 'web', stdout = 'log', stderr = 'log'}
        c:wait()
        while #got < 5 do init.sleep(0.02) end
        table.sort(got, function(a, b) return a.stream .. a.line < b.stream .. b.line end)
        for _, r in ipairs(got) do
            print(r.name, r.stream, r.pid == c:pid(), r.line, tostring(r.continued),
                  r.time >= before_wall - 1 and r.time <= os.time() + 1,
                  r.mono >= before_mono and r.mono <= init.now())
        end
    """], loop=loop, env=env_for(loop, LUASUP_LINE_BYTES=16))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "web\tstderr\ttrue\terr\tfalse\ttrue\ttrue",
        "web\tstdout\ttrue\t0123456789abcdef\ttrue\ttrue\ttrue",  # cut at 16 bytes: goes on
        "web\tstdout\ttrue\tend\tfalse\ttrue\ttrue",  # unfinished, then whole at the stream's end
        "web\tstdout\ttrue\tghij\tfalse\ttrue\ttrue",
        "web\tstdout\ttrue\tout\tfalse\ttrue\ttrue",
    ]


def test_records_come_in_order_one_at_a_time_even_when_the_callback_waits():
    result = run(["-e", """
        local init, logs = require('init'), require('logs')
        local got, busy, overlap = {}, false, false
        local f = logs.fn(function(rec)
            overlap = overlap or busy
            busy = true
            if #got % 1000 == 0 then init.sleep(0.01) end -- a callback may wait
            got[#got + 1] = tonumber(rec.line)
            busy = false
        end)
        logs.route{to = f}
        init.exec{'seq', 1, 20000, name = 'seq', stdout = 'log'}:wait()
        while f:stats().delivered < 20000 do init.sleep(0.02) end
        local ordered = true
        for i = 1, #got do ordered = ordered and got[i] == i end
        print(#got, ordered, overlap, f:stats().dropped)
    """], env=env_for(LUASUP_LOG_LEVEL="error"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "20000\ttrue\tfalse\t0\n"


def test_an_error_in_the_callback_is_reported_in_one_line_and_the_next_records_still_come():
    result = run(["-e", """
        local init, logs = require('init'), require('logs')
        local got = {}
        local f = logs.fn(function(rec)
            if rec.line == '2' or rec.line == '4' then error('no ' .. rec.line) end
            got[#got + 1] = rec.line
        end)
        logs.route{to = f}
        init.exec{'seq', 1, 5, name = 'seq', stdout = 'log'}:wait()
        while f:stats().delivered < 5 do init.sleep(0.02) end
        print(table.concat(got, ' '), f:stats().errors)
    """])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1 3 5\t2\n"
    errors = [line for line in result.stderr.splitlines() if "error in task" in line]
    # the first error at once; the one right after it counted, not repeated
    assert errors == ["luasup: error in task logs.fn (command line):4: (command line):5: no 2"]


def test_what_is_queued_at_exit_still_reaches_the_callback(tmp_path):
    out = tmp_path / "got"
    result = run(["-e", """
        local init, logs = require('init'), require('logs')
        local file = io.open(%r, 'w')
        logs.route{to = logs.fn(function(rec) file:write(rec.line, '\\n') file:flush() end)}
        init.exec{'seq', 1, 3000, name = 'seq', stdout = 'log'}:wait()
    """ % str(out)])  # the main chunk returns at once: luasup exits
    assert result.returncode == 0, result.stderr
    assert out.read_text().split() == [str(i) for i in range(1, 3001)]


def test_the_queue_is_bounded_and_drops_the_oldest():
    result = run(["-e", """
        local init, logs = require('init'), require('logs')
        local got, hold, holding = {}, true, false
        local f = logs.fn(function(rec)
            while hold do holding = true init.sleep(0.01) end
            got[#got + 1] = tonumber(rec.line)
        end, { max_bytes = 1000 })
        logs.route{to = f}
        local function count(from, to) init.exec{'seq', from, to, name = 'seq', stdout = 'log'}:wait() end
        count(1, 1)
        while not holding do init.sleep(0.01) end -- the callback holds record 1
        count(2000, 2199) -- 1000 bytes: the queue is full
        while f:stats().queued == 0 do init.sleep(0.01) end
        count(3000, 3199) -- these push out the oldest
        while f:stats().dropped == 0 do init.sleep(0.01) end
        hold = false
        while f:stats().delivered < 201 do init.sleep(0.01) end
        local ok = #got == 201 and got[1] == 1
        for i = 2, #got do ok = ok and got[i] == 2998 + i end
        print(ok, f:stats().dropped)
    """])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "true\t200\n"
    assert "logs: function (command line):4 is full (1000 bytes queued): dropping its oldest lines" \
        in result.stderr


@pytest.mark.parametrize("call, message", [
    ("logs.fn()", "bad argument #1 to 'logs.fn' (function expected, got nil)"),
    ("logs.fn(print, 3)", "bad argument #2 to 'logs.fn' (table expected, got number)"),
    ("logs.fn(print, {full = 'block'})", "logs.fn: full = 'block' is only for console and file sinks"),
    ("logs.fn(print, {color = true})", "bad argument #2 to 'logs.fn' (unknown option 'color')"),
])
def test_bad_arguments(call, message):
    result = run(["-e", "local logs = require('logs')\n" + call])
    assert result.returncode == 1
    assert "(command line):2: " + message in result.stderr


def test_init_exit_in_the_callback_stops_luasup_at_once_with_its_code():
    # the callback goes on (init.exit returns there) and the stop does not
    # wait out the grace period for it
    result = run(["-e", """
        local init, logs = require('init'), require('logs')
        logs.route{match = 'FATAL', to = logs.fn(function(rec)
            init.exit(3)
            io.stderr:write('after exit: ', rec.line, '\\n')
        end)}
        init.exec{'sh', '-c', 'echo FATAL boom; exec sleep 30', name = 'app', stdout = 'log'}
        init.wait()
    """], env=env_for(LUASUP_GRACE_MS=20000))
    assert result.returncode == 3, result.stderr
    assert "after exit: FATAL boom\n" in result.stderr
    assert "not every sink delivered" not in result.stderr
