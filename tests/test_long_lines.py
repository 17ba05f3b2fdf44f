"""Lines longer than LUASUP_LINE_BYTES come in pieces, each but the last
marked as continued, so a child writing one endless line costs luasup
bounded memory and linear time (reading one was quadratic)."""

import pytest

from helpers import LOOPS, env_for, run

LINES = "printf 'abcdefghijklmnopqrstuvwxy\\nshort\\nexactly10c\\ntail without newline'"
PIECES = ("abcdefghij\ttrue\nklmnopqrst\ttrue\nuvwxy\tnil\nshort\tnil\nexactly10c\tnil\n"
          "tail witho\ttrue\nut newline\tnil\n")


def test_lines_gives_long_lines_in_pieces_marked_as_continued():
    result = run(["-e", """
        local c = require('init').exec('sh', '-c', %r)
        for line, continues in c:lines() do print(line, continues) end
    """ % LINES], env=env_for(LUASUP_LINE_BYTES=10))
    assert (result.returncode, result.stdout) == (0, PIECES), result.stderr


def test_line_callback_gets_the_same_pieces_and_marks():
    result = run(["-e", """
        local init = require('init')
        local seen = 0
        local c = init.exec{'sh', '-c', %r, stdout = function(line, continues)
            print(line, continues)
            seen = seen + 1
        end}
        c:wait()
        while seen < 7 do init.sleep(0.01) end
    """ % LINES], env=env_for(LUASUP_LINE_BYTES=10))
    assert (result.returncode, result.stdout) == (0, PIECES), result.stderr


def test_relayed_long_lines_are_cut_at_the_cap():
    result = run(["-e", "require('init').exec{'sh', '-c', %r, prefix = '> '}:wait()" % LINES],
                 env=env_for(LUASUP_LINE_BYTES=10))
    assert result.returncode == 0
    assert result.stdout == ("> abcdefghij\n> klmnopqrst\n> uvwxy\n> short\n> exactly10c\n"
                             "> tail witho\n> ut newline\n")


@pytest.mark.parametrize("loop", LOOPS)
def test_an_endless_line_keeps_memory_bounded(loop):
    size = 128 << 20  # with no newline, far past the default 64 KiB cap
    result = run(["-e", """
        local n, biggest = 0, 0
        for line in require('init').exec('head', '-c', %d, '/dev/zero'):lines() do
            n, biggest = n + #line, math.max(biggest, #line)
        end
        local peak = io.open('/proc/self/status'):read('*a'):match('VmHWM:%%s*(%%d+) kB')
        print(n, biggest, tonumber(peak) < 64 * 1024)
    """ % size], loop=loop)
    assert (result.returncode, result.stdout) == (0, "%d\t65536\ttrue\n" % size), result.stderr


@pytest.mark.parametrize("setting", ["LUASUP_LINE_BYTES", "LUASUP_CAPTURE_TOTAL_BYTES"])
def test_size_settings_are_checked(setting):
    result = run(["-e", "print(1)"], env=env_for(**{setting: "lots"}))
    assert result.returncode == 2 and setting in result.stderr and result.stdout == ""
