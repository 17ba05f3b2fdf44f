"""Children start clean: own process group, empty signal mask, default
dispositions (when luasup itself was started so: see
test_child_signal_state), stdin from /dev/null, and none of luasup's file
descriptors."""

import fcntl
import os
import select
import termios

from helpers import PY, lua_quote, run, start, stop

# Each probe is one program looking at itself through /proc (not a shell,
# which blocks every signal for a moment while it forks, nor Python, which
# sets dispositions of its own at start-up).
STATUS = ["cat", "/proc/self/status"]
FDS = ["ls", "/proc/self/fd"]


def _check_status(text, stdin):
    fields = dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)
    assert fields["SigBlk"] == "0000000000000000"
    assert fields["SigIgn"] == "0000000000000000"
    assert fields["NSpgid"] == fields["Pid"], "leads its own process group"


def _check_fds(text):
    # fd 3 is ls's own, reading the directory: a leaked fd would show beside it
    assert text.split() == ["0", "1", "2", "3"]


def test_script_children_start_clean():
    result = run(["-e", """
        local init = require('init')
        init.exec('true'):wait()                 -- the first spawn already happened
        local f = assert(io.open('/dev/null'))   -- a stray fd Lua opened after it
        local status = init.exec(%s):stdout()
        local fds = init.exec(%s):stdout()
        local stdin = init.exec('readlink', '/proc/self/fd/0'):stdout()
        io.write(status, '---\\n', fds, '---\\n', stdin)
        f:close()
    """ % (lua_list(STATUS), lua_list(FDS))])
    assert result.returncode == 0, result.stderr
    status, fds, stdin = result.stdout.split("---\n")
    _check_status(status, stdin)
    _check_fds(fds)
    assert stdin == "/dev/null\n"


def test_command_mode_child_starts_clean_and_inherits_stdio():
    with open(os.devnull) as null:
        status = run(["--"] + STATUS, stdin=null)
        fds = run(["--"] + FDS, stdin=null)
    assert status.returncode == fds.returncode == 0
    _check_status(status.stdout, None)
    _check_fds(fds.stdout)


def lua_list(argv):
    return "{" + ", ".join(lua_quote(a) for a in argv) + "}"


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
