"""Captured output is drained as it arrives (an unread pipe never blocks a
child) and what is kept is bounded: the newest LUASUP_CAPTURE_BYTES."""

import pytest

from helpers import LOOPS, PY, env_for, run


@pytest.mark.parametrize("loop", LOOPS)
def test_child_flooding_output_nobody_reads_is_not_blocked(loop):
    # 64 MiB on each stream: far past a pipe's 64 KiB buffer
    flood = "import os\nb = b'x' * 65536\nfor _ in range(1024): os.write(1, b); os.write(2, b)\n"
    result = run(["-e", "print(require('init').exec(%r, '-c', %r):status())" % (PY, flood)],
                 loop=loop)
    assert (result.returncode, result.stdout) == (0, "0\n")


def test_capture_keeps_the_newest_bytes_up_to_the_limit():
    writer = ("import os\n"
              "for i in range(1000): os.write(1, b'%04d\\n' % i)\n")
    result = run(["-e", "local out = require('init').exec(%r, '-c', %r):stdout()\n"
                        "io.write(#out, '|', out:sub(1, 5), '|', out:sub(-5))" % (PY, writer)],
                 env=env_for(LUASUP_CAPTURE_BYTES=100))
    assert (result.returncode, result.stdout) == (0, "100|0980\n|0999\n")


def test_binary_output_passes_unchanged():
    result = run(["-e", "local s = require('init').exec('printf', '\\\\377\\\\000\\\\001'):stdout()\n"
                        "print(#s, s:byte(1, -1))"])
    assert (result.returncode, result.stdout) == (0, "3\t255\t0\t1\n")


def test_stdout_and_stderr_can_be_read_in_any_order_and_twice():
    result = run(["-e", """
        local c = require('init').exec('sh', '-c', 'echo out; echo err >&2')
        print(c:stderr(), c:stdout(), c:stdout(), c:status())
    """])
    assert (result.returncode, result.stdout) == (0, "err\n\tout\n\tout\n\t0\n")


def test_capture_across_all_children_is_bounded_oldest_bytes_dropped_first():
    # 3 children of 1000 bytes each, kept 1000 per stream but 1500 in all
    result = run(["-e", """
        local init = require('init')
        local children = {}
        for i = 1, 3 do
            children[i] = init.exec('head', '-c', 1000, '/dev/zero')
            children[i]:stdout()
        end
        for i = 1, 3 do io.write(#(children[i]:stdout() or ''), ' ') end
    """], env=env_for(LUASUP_CAPTURE_BYTES=1000, LUASUP_CAPTURE_TOTAL_BYTES=1500))
    assert (result.returncode, result.stdout) == (0, "0 500 1000 "), result.stderr
