"""logs.file: appends records, rotates by renaming (app.log -> app.log.1 ...)
keeping N files, deletes rotated files older than `age`, re-creates a file
someone else deleted or moved, and reopens it on request."""

import os
import signal
import time

from helpers import DEADLINE, PY, lua_quote, start, stop, wait_until
from helpers.logfiles import (PRELUDE, WAIT_FOR, check_numbered, numbered, policy, policy_bytes, read_rotated,
                              rotated)

CHILDREN, LINES = 10, 100000


def test_ten_children_a_million_lines_reach_console_and_rotated_files_each_once_in_order(tmp_path):
    log = str(tmp_path / "app.log")
    names = ["c%d" % i for i in range(1, CHILDREN + 1)]
    spawns = "\n".join("children[%d] = init.exec%s" % (i, numbered(name, LINES))
                       for i, name in enumerate(names, 1))
    body = """
        local con = logs.console{ prefix = '{name} ', full = 'block' }
        local file = logs.file{ path = %s, prefix = '{name} ', full = 'block',
                                rotate = { size = 1e6, keep = 100 } }
        logs.route{ to = { con, file } }
        local children = {}
        %s
        for _, child in ipairs(children) do assert(child:status() == 0) end
    """ % (lua_quote(log), spawns)
    # luasup as PID 1; its stdout a pipe, read as it comes
    result = policy_bytes(body, pidns=True)
    assert result.returncode == 0, result.stderr
    files = rotated(log)
    assert len(files) > 5 and log + ".100" not in files  # it rotated, and deleted nothing
    assert all(os.path.getsize(f) <= 1e6 for f in files)
    check_numbered(read_rotated(log), names, LINES)
    check_numbered(result.stdout, names, LINES)


def lines_of(path):
    with open(path, "rb") as f:
        return f.read().decode().splitlines()


def test_rotation_renames_and_keeps_n_files_the_oldest_gone(tmp_path):
    log = str(tmp_path / "app.log")
    result = policy("""
        local f = logs.file{ path = %s, rotate = { size = 100, keep = 2 } }
        logs.route{ to = f }
        init.exec%s:status()
        while f:stats().delivered < 50 do init.sleep(0.01) end
    """ % (lua_quote(log), numbered("w", 50, width=5)))
    assert result.returncode == 0, result.stderr
    assert rotated(log) == [log + ".2", log + ".1", log]
    kept = [int(line.split()[0]) for line in read_rotated(log).decode().splitlines()]
    assert kept == list(range(kept[0], 50)) and kept[0] > 0  # the newest, the oldest gone


def test_a_file_passes_its_size_only_by_a_single_longer_line(tmp_path):
    log = str(tmp_path / "app.log")
    lengths = [30, 250, 30, 80, 10, 99, 1]  # with its newline: 31, 251, ...
    writer = "; ".join("print('%s' * %d)" % ("abcdefg"[i], n) for i, n in enumerate(lengths))
    result = policy("""
        local f = logs.file{ path = %s, rotate = { size = 100, keep = 10 } }
        logs.route{ to = f }
        init.exec{ %s, '-c', %s, stdout = 'log' }:status()
        while f:stats().delivered < %d do init.sleep(0.01) end
    """ % (lua_quote(log), lua_quote(PY), lua_quote(writer), len(lengths)))
    assert result.returncode == 0, result.stderr
    files = [lines_of(f) for f in rotated(log)]
    # each file as full as whole lines allow: the next line would not have fit
    assert [[len(line) for line in f] for f in files] == [[30], [250], [30], [80, 10], [99], [1]]
    assert "".join(open(f).read() for f in rotated(log)) == "".join(
        "abcdefg"[i] * n + "\n" for i, n in enumerate(lengths))


def test_age_deletes_rotated_files_older_than_it(tmp_path):
    log = str(tmp_path / "app.log")
    for name, age in [(".1", 7200), (".2", 60), (".4", 7200), (".old", 7200)]:
        with open(log + name, "w") as f:
            f.write("before\n")
        then = time.time() - age
        os.utime(log + name, (then, then))
    result = policy("""
        local f = logs.file{ path = %s, rotate = { size = 20, keep = 5, age = 3600 } }
        logs.route{ to = f }
        init.exec{ 'sh', '-c', 'echo 0123456789; echo 0123456789', stdout = 'log' }:status()
        while f:stats().rotations < 1 do init.sleep(0.01) end
    """ % lua_quote(log))
    assert result.returncode == 0, result.stderr
    # one rotation: .1 -> .2 (2 h old: deleted), .2 -> .3 (a minute: kept),
    # .4 -> .5 (deleted); a name that is not a rotation of it stays
    assert sorted(os.listdir(tmp_path)) == ["app.log", "app.log.1", "app.log.3", "app.log.old"]
    assert lines_of(log + ".1") == ["0123456789"] and lines_of(log) == ["0123456789"]


def test_a_file_deleted_or_moved_by_someone_else_is_recreated_on_the_next_write(tmp_path):
    log, moved = str(tmp_path / "app.log"), str(tmp_path / "moved")
    result = policy(WAIT_FOR + """
        logs.route{ to = logs.file{ path = %s } }
        local cat = init.exec{ 'cat', stdin = 'pipe', stdout = 'log' }
        cat:write('one\\n'); wait_for(%s, 'one')
        assert(os.rename(%s, %s))
        cat:write('two\\n'); wait_for(%s, 'two')
        assert(os.remove(%s))
        cat:write('three\\n'); wait_for(%s, 'three')
        cat:close()
        cat:status()
    """ % ((lua_quote(log),) * 2 + (lua_quote(log), lua_quote(moved)) + (lua_quote(log),) * 3))
    assert result.returncode == 0, result.stderr
    assert (lines_of(moved), lines_of(log)) == (["one"], ["three"])


def test_reopen_from_a_hup_handler_after_an_outside_move_starts_a_new_file(tmp_path):
    log, fifo = str(tmp_path / "app.log"), str(tmp_path / "fifo")
    os.mkfifo(fifo)
    proc = start(["-e", PRELUDE + """
        local f = logs.file{ path = %s }
        logs.route{ to = f }
        init.on('HUP', function() f:reopen() end)
        init.exec{ 'cat', %s, stdout = 'log' }:status()
    """ % (lua_quote(log), lua_quote(fifo))])
    try:
        with open(fifo, "w") as writer:
            writer.write("one\n")
            writer.flush()
            wait_until(lambda: os.path.exists(log) and lines_of(log) == ["one"], what="one in app.log")
            os.rename(log, log + ".1")
            proc.send_signal(signal.SIGHUP)
            # reopened at once, not at the next write
            wait_until(lambda: os.path.exists(log), what="a new app.log")
            writer.write("two\n")
        assert proc.wait(timeout=DEADLINE) == 0
    finally:
        stop(proc)
    assert (lines_of(log + ".1"), lines_of(log)) == (["one"], ["two"])


def test_an_unwritable_path_fails_at_its_declaration(tmp_path):
    for path, why in [(tmp_path / "missing" / "app.log", "No such file or directory"),
                      (tmp_path, "Is a directory")]:
        result = policy("logs.file{ path = %s }\nprint('not reached')" % lua_quote(str(path)))
        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr.splitlines()[0] == (
            "luasup: error in task main: (command line):2: logs.file: cannot open %s: %s" % (path, why))
        assert "Traceback" not in result.stderr


def test_what_a_child_wrote_before_the_exit_is_all_in_the_files(tmp_path):
    # the file sink is still writing (and rotating) behind the child when the script ends
    log = str(tmp_path / "app.log")
    result = policy("""
        logs.route{ to = logs.file{ path = %s, prefix = '{name} ', rotate = { size = 10000, keep = 1000 } } }
        init.exec%s:status()
    """ % (lua_quote(log), numbered("w", 200000)))
    assert result.returncode == 0, result.stderr
    assert log + ".1000" not in rotated(log)
    check_numbered(read_rotated(log), ["w"], 200000)


def test_a_file_that_cannot_be_written_drops_lines_with_one_warning_until_it_can(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    log = str(folder / "app.log")
    result = policy("""
        local f = logs.file{ path = %s }
        logs.route{ to = f }
        local cat = init.exec{ 'cat', stdin = 'pipe', stdout = 'log' }
        local function say(text, n)  -- and wait until the sink is done with it
            cat:write(text)
            while f:stats().delivered + f:stats().dropped < n do init.sleep(0.01) end
        end
        say('one\\n', 1)
        assert(os.remove(%s)); assert(os.remove(%s))
        say('two\\n', 2); say('three\\n', 3)
        assert(os.execute('mkdir ' .. %s))
        say('four\\n', 4)
        cat:close(); cat:status()
        print(f:stats().delivered, f:stats().dropped)
    """ % (lua_quote(log), lua_quote(log), lua_quote(str(folder)), lua_quote(str(folder))))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "2\t2\n"
    assert lines_of(log) == ["four"]
    assert [line for line in result.stderr.splitlines() if "logs: " in line] == [
        "luasup: warning: logs: file %s: No such file or directory: dropping lines until it works again" % log,
        "luasup: logs: file %s: writing again" % log]


def test_a_fifo_is_refused_with_no_reader_and_never_rotated(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result = policy("logs.file{ path = %s }" % lua_quote(str(fifo)))  # opening it must not hang
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "luasup: error in task main: (command line):2: logs.file: cannot open %s: it is a FIFO with no reader"
        % fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        result = policy("logs.file{ path = %s, rotate = { size = 100 } }" % lua_quote(str(fifo)))
    finally:
        os.close(reader)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "luasup: error in task main: (command line):2: logs.file: %s is not a regular file: it cannot be rotated"
        % fifo)


def test_two_file_sinks_on_one_file_are_refused(tmp_path):
    path = str(tmp_path / "app.log")
    result = policy("logs.file{ path = %s }\nlogs.file{ path = %s }\nprint('not reached')"
                    % (lua_quote(path), lua_quote(str(tmp_path / "." / "app.log"))))
    assert (result.returncode, result.stdout) == (1, "")
    assert "logs.file: %s is the file of another file sink already: route both to that one" \
        % (tmp_path / "." / "app.log") in result.stderr
