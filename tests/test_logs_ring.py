"""logs.ring: the last lines of each name in memory, bounded by lines and
bytes; ring:tail(name, n) gives them oldest first, every name merged by time."""

from helpers import lua_quote
from helpers.logfiles import policy

SHOW = """
    local function show(records)
        local out = {}
        for _, r in ipairs(records) do out[#out + 1] = r.name .. ':' .. r.stream .. ':' .. r.line end
        print(table.concat(out, ' '))
    end
    -- a child's lines, all in the ring once status() returns
    local function say(name, script)
        init.exec{ 'sh', '-c', script, name = name, stdout = 'log', stderr = 'log' }:status()
    end
"""


def ring(body, lines=None, size=None):
    options = ", ".join(k + " = " + str(v) for k, v in [("lines", lines), ("bytes", size)] if v)
    result = policy("local r = logs.ring{ %s }\nlogs.route{ to = r }\n%s%s" % (options, SHOW, body))
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_tail_of_a_name_the_last_n_oldest_first():
    assert ring("""
        say('a', 'echo a1; echo a2; echo a3')
        say('b', 'echo b1')
        say('a', 'echo a4 >&2')
        show(r:tail('a')); show(r:tail('a', 2)); show(r:tail('a', 5)); show(r:tail('nobody'))
    """) == ["a:stdout:a1 a:stdout:a2 a:stdout:a3 a:stderr:a4", "a:stdout:a3 a:stderr:a4",
             "a:stdout:a1 a:stdout:a2 a:stdout:a3 a:stderr:a4", ""]


def test_tail_of_every_name_merged_by_time():
    assert ring("""
        say('a', 'echo 1'); say('b', 'echo 2'); say('a', 'echo 3'); say('c', 'echo 4'); say('b', 'echo 5')
        show(r:tail()); show(r:tail(nil, 2))
    """) == ["a:stdout:1 b:stdout:2 a:stdout:3 c:stdout:4 b:stdout:5", "c:stdout:4 b:stdout:5"]


def test_a_record_has_name_stream_pid_line_and_time():
    out = ring("""
        local before = os.time()
        local c = init.exec{ 'echo', 'hi', name = 'web', stdout = 'log' }
        c:status()
        while r:stats().delivered < 1 do init.sleep(0.01) end
        local rec = r:tail('web')[1]
        print(rec.name, rec.stream, rec.pid == c:pid(), rec.line, rec.time >= before - 1 and rec.time <= os.time() + 1)
    """)
    assert out == ["web\tstdout\ttrue\thi\ttrue"]


def test_bounded_by_lines_per_name():
    assert ring("""
        say('a', 'echo a1; echo a2; echo a3; echo a4; echo a5')
        say('b', 'echo b1; echo b2')
        show(r:tail('a')); show(r:tail('b'))
    """, lines=3) == ["a:stdout:a3 a:stdout:a4 a:stdout:a5", "b:stdout:b1 b:stdout:b2"]


def test_bounded_by_bytes_per_name_keeping_at_least_the_last_line():
    # lines of 1000 bytes under a bound of 2500: two fit, whatever a record costs beside its line
    lines = "; ".join("echo %s" % (c * 999) for c in "abc")
    assert ring("""
        say('a', %s)
        say('b', 'echo %s')
        local kept = {}
        for _, rec in ipairs(r:tail('a')) do kept[#kept + 1] = rec.line:sub(1, 1) .. #rec.line end
        print(table.concat(kept, ' ')); print(#r:tail('b'), #r:tail('b')[1].line)
    """ % (lua_quote(lines), "x" * 4000), size=2500) == ["b999 c999", "1\t4000"]


def test_tail_of_zero_records_is_empty():
    assert ring("say('a', 'echo a1')\nprint(#r:tail('a', 0))") == ["0"]


def test_the_number_of_names_is_bounded_the_least_recent_going_first():
    # jobs named by a counter must not grow the ring for ever
    out = ring("""
        for i = 1, 300 do say('job' .. i, 'echo hi') end
        local names = {}
        for _, rec in ipairs(r:tail()) do names[rec.name] = true end
        local n = 0
        for _ in pairs(names) do n = n + 1 end
        print(n < 300, #r:tail('job1'), #r:tail('job300'))
    """)
    assert out == ["true\t0\t1"]


def test_what_a_child_wrote_is_in_the_ring_once_its_wait_returns():
    # its last line unfinished: published only when its pipe ends, a moment after the exit
    assert ring("""
        local missed = 0
        for i = 1, 200 do
            init.exec{ 'printf', 'x', name = 'n' .. i, stdout = 'log' }:status()
            if #r:tail('n' .. i) ~= 1 then missed = missed + 1 end
        end
        print(missed)
    """) == ["0"]
