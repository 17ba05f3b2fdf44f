"""Lines on the log bus: an unfinished line goes out after a short wait and
at the end of the stream; a line longer than LUASUP_LINE_BYTES comes in
pieces, made whole again in a file with no prefix; bytes stay bytes."""

from helpers import DEADLINE, PY, env_for, lua_quote, start, stop, wait_until
from helpers.logfiles import PRELUDE, WAIT_FOR, lua_text, policy


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def test_an_unfinished_line_goes_out_after_a_short_wait_its_end_later(tmp_path):
    whole, pieces, gate = tmp_path / "whole.log", tmp_path / "pieces.log", tmp_path / "gate"
    writer = "printf part; while [ ! -e %s ]; do sleep 0.02; done; echo ial" % gate
    proc = start(["-e", PRELUDE + """
        local whole = logs.file{ path = %s }
        local pieces = logs.file{ path = %s, prefix = '> ' }
        logs.route{ to = { whole, pieces } }
        init.exec{ 'sh', '-c', %s, stdout = 'log' }:status()
    """ % (lua_quote(str(whole)), lua_quote(str(pieces)), lua_quote(writer))])
    try:
        # the child waits for the gate: 'part' can only come from the wait running out
        wait_until(lambda: read(whole) == b"part" and read(pieces) == b"> part\n",
                   what="the unfinished line in both files")
        gate.touch()
        assert proc.wait(timeout=DEADLINE) == 0
    finally:
        stop(proc)
    assert (read(whole), read(pieces)) == (b"partial\n", b"> part\n> ial\n")


def test_an_unfinished_last_line_goes_out_at_the_end_of_the_stream(tmp_path):
    log = tmp_path / "app.log"
    result = policy("""
        logs.route{ to = logs.file{ path = %s } }
        init.exec{ 'printf', 'one\\ntwo', stdout = 'log' }:status()
    """ % lua_quote(str(log)))
    assert result.returncode == 0, result.stderr
    assert read(log) == b"one\ntwo\n"


LONG = "abcdefghijklmnopqrstuvwxy\nshort\nexactly10c\n" + "0123456789" * 4 + "\ntail without newline"


def test_a_long_line_is_whole_in_a_file_without_prefix_and_in_pieces_with_one(tmp_path):
    whole, pieces = tmp_path / "whole.log", tmp_path / "pieces.log"
    result = policy("""
        logs.route{ to = { logs.file{ path = %s }, logs.file{ path = %s, prefix = '> ' } } }
        init.exec{ 'printf', %s, stdout = 'log' }:status()
    """ % (lua_quote(str(whole)), lua_quote(str(pieces)), lua_text(LONG)),
        env=env_for(LUASUP_LINE_BYTES=10))
    assert result.returncode == 0, result.stderr
    assert read(whole) == LONG.encode() + b"\n"
    assert read(pieces).decode().splitlines() == [
        "> abcdefghij", "> klmnopqrst", "> uvwxy", "> short", "> exactly10c"] + [
        "> 0123456789"] * 4 + ["> tail witho", "> ut newline"]


def test_binary_output_stays_bytes_in_a_file(tmp_path):
    log, data = tmp_path / "app.log", tmp_path / "data"
    binary = bytes(b for b in range(256) if b != 10)
    data.write_bytes(binary + b"\n" + binary[::-1] + b"\n")
    result = policy("""
        logs.route{ to = logs.file{ path = %s } }
        init.exec{ 'cat', %s, stdout = 'log' }:status()
    """ % (lua_quote(str(log)), lua_quote(str(data))))
    assert result.returncode == 0, result.stderr
    assert read(log) == data.read_bytes()


def test_a_child_that_closes_stdout_early_keeps_its_lines_and_its_stderr(tmp_path):
    log = tmp_path / "app.log"
    writer = "echo one; echo two; exec 1>&-; sleep 0.3; echo three >&2; echo four >&2"
    result = policy("""
        logs.route{ to = logs.file{ path = %s, prefix = '{stream} ' } }
        init.exec{ 'sh', '-c', %s, stdout = 'log', stderr = 'log' }:status()
    """ % (lua_quote(str(log)), lua_quote(writer)))
    assert result.returncode == 0, result.stderr
    assert read(log).decode().splitlines() == ["stdout one", "stdout two", "stderr three",
                                               "stderr four"]


def test_an_unfinished_line_is_not_glued_to_another_childs_line(tmp_path):
    log, gate = tmp_path / "app.log", tmp_path / "gate"
    result = policy(WAIT_FOR + """
        local log = %s
        logs.route{ to = logs.file{ path = log } }
        local slow = init.exec{ 'sh', '-c', %s, stdout = 'log' }
        wait_for(log, 'Loading...')  -- published unfinished, after the wait
        init.exec{ 'echo', 'other line', stdout = 'log' }:status()
        wait_for(log, 'other line')
        io.open(%s, 'w'):close()
        slow:status()
        init.exec{ 'printf', 'left', stdout = 'log' }:status()
        init.exec{ 'echo', 'last', stdout = 'log' }:status()
    """ % (lua_quote(str(log)),
           lua_quote('printf Loading...; while [ ! -e %s ]; do sleep 0.02; done; echo " done"' % gate),
           lua_quote(str(gate))))
    assert result.returncode == 0, result.stderr
    lines = read(log).decode().splitlines()
    # where a piece is cut off is the sink's choice; no line holds two children's bytes
    assert "other line" in lines and "last" in lines
    assert "".join(l for l in lines if l not in ("other line", "last")) == "Loading... doneleft"


def test_lines_written_while_luasup_stops_reach_every_sink(tmp_path):
    log = tmp_path / "app.log"
    child = ("import signal, sys, time\n"
             "def stop(*_):\n"
             "    print('bye', flush=True); time.sleep(0.3); sys.stdout.write('last words'); sys.exit(0)\n"
             "signal.signal(signal.SIGTERM, stop)\n"
             "print('hi', flush=True)\n"
             "while True: time.sleep(1)\n")
    result = policy(WAIT_FOR + """
        local log = %s
        logs.route{ to = { logs.file{ path = log }, logs.console{ prefix = '> ' } } }
        init.exec{ %s, '-c', %s, stdout = 'log' }
        wait_for(log, 'hi')  -- its handler is in place once it said hi
        init.kill(init.pid(), 'TERM')
        init.wait()
    """ % (lua_quote(str(log)), lua_quote(PY), lua_text(child)))
    assert result.returncode == 143, result.stderr
    assert read(log) == b"hi\nbye\nlast words\n"
    assert result.stdout == "> hi\n> bye\n> last words\n"
