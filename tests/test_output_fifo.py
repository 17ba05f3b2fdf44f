"""exec{stdout = PATH} never blocks luasup in open(): a FIFO nobody reads
is an error at once (and luasup stays responsive), a FIFO with a reader
works, and the child gets an ordinary blocking fd."""

import os
import signal

from helpers import PY, lua_quote, read_line, start, stop


def test_fifo_with_no_reader_fails_at_once_and_luasup_still_stops(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    proc = start(["-e", """
        local init = require('init')
        print(pcall(init.exec, {'echo', 'hi', stdout = %s}))
        init.wait()
    """ % lua_quote(str(fifo))])
    try:
        assert read_line(proc.stdout) == (
            "false\t(command line):3: unable to spawn echo: cannot open %s: "
            "it is a FIFO with no reader\n" % fifo)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
    finally:
        stop(proc)


def test_fifo_with_a_reader_gets_the_output_through_a_blocking_fd(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    check = "import fcntl, os; print(fcntl.fcntl(1, fcntl.F_GETFL) & os.O_NONBLOCK)"
    proc = start(["-e", "require('init').exec{%s, '-c', %s, stdout = %s}:wait()"
                  % (lua_quote(PY), lua_quote(check), lua_quote(str(fifo)))])
    try:
        assert proc.wait(timeout=30) == 0, proc.stderr.read()
        assert os.read(reader, 100) == b"0\n"
    finally:
        os.close(reader)
        stop(proc)
