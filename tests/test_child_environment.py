"""Children start clean: own process group, empty signal mask, default
dispositions, stdin from /dev/null, and none of luasup's file descriptors."""

import fcntl
import os
import select
import termios

from helpers import PY, lua_quote, run, start, stop

# The probe is sh (not Python, which sets dispositions of its own at start-up)
# looking at itself through /proc: blocked and ignored signals, open fds,
# stdin, and whether it leads its own process group.
PROBE = ("grep -E '^Sig(Blk|Ign)' /proc/$$/status; echo fds $(ls /proc/$$/fd);"
         " readlink /proc/$$/fd/0; [ $(cut -d' ' -f5 /proc/$$/stat) = $$ ] && echo leader")
# fd 3 is the observer's own: the pipe of sh's $(...) (a leaked fd would
# push it to 4 or show up beside it).
CLEAN = "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\nfds 0 1 2 3\n%s\nleader\n"
# glibc's posix_spawn leaves its two internal signals (32, 33: never usable
# by programs, and re-armed by glibc itself when a program needs them)
# ignored in every child it starts; all the others must be at default.
GLIBC_INTERNAL = 0x180000000


def _without_glibc_internal(text):
    lines = text.splitlines(True)
    ign = int(lines[1].split()[1], 16) & ~GLIBC_INTERNAL
    lines[1] = "SigIgn:\t%016x\n" % ign
    return "".join(lines)


def test_script_children_start_clean():
    result = run(["-e", """
        local f = assert(io.open('/dev/null'))   -- a stray fd Lua opened
        local c = require('init').exec('sh', '-c', %s)
        io.write(c:stdout())
        f:close()
    """ % lua_quote(PROBE)])
    assert result.returncode == 0, result.stderr
    assert _without_glibc_internal(result.stdout) == CLEAN % "/dev/null"


def test_command_mode_child_starts_clean_and_inherits_stdio():
    with open(os.devnull) as null:
        result = run(["--", "sh", "-c", PROBE], stdin=null)
    assert result.returncode == 0, result.stderr
    assert _without_glibc_internal(result.stdout) == CLEAN % "/dev/null"


def test_command_mode_gives_the_terminal_to_the_child():
    import pty
    master, slave = pty.openpty()
    probe = ("import os; print('fg' if os.tcgetpgrp(0) == os.getpgrp() == os.getpid() else 'bg',"
             " flush=True); os.read(0, 1)")

    def controlling_terminal():  # as a login shell would have it
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = start(["--", PY, "-c", probe], stdin=slave, stdout=slave, stderr=slave,
                 preexec_fn=controlling_terminal)
    os.close(slave)
    try:
        line = b""
        while not line.endswith(b"\n"):
            ready, _, _ = select.select([master], [], [], 30)
            assert ready, "no output from the child"
            line += os.read(master, 100)
        assert line.strip() == b"fg"
        os.write(master, b"x\n")
        assert proc.wait(timeout=30) == 0
    finally:
        stop(proc)
        os.close(master)
