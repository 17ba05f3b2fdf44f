"""A full sink: with full = 'block' it holds back only the children routed
to it (they wait on their pipes; nothing is lost), while other children,
the reaper and signals carry on; otherwise it drops its oldest or newest
lines, with one warning when dropping begins and a count when it ends."""

import os
import re
import select
import signal
import subprocess

import pytest

from helpers import DEADLINE, env_for, lua_quote, start, stop, wait_until
from helpers.logfiles import PRELUDE, progress, progress_argv, progress_writer

A_LINES, B_LINES, SIZE = 5000, 20000, 1000  # a: 5 MB to the console; b: 20 MB to a file
A_BOUND = 2000  # lines a can write before it waits: the pipes' and queues' worth, with room


def held_back(tmp_path, **env):
    """luasup with child a routed to a blocking console nobody reads (its
    stdout is a pipe the test leaves alone), child b to a file; waits until
    b has written everything. The Popen and a function giving how many
    children the script has started and reaped so far."""
    reaped = tmp_path / "reaped"
    proc = start(["-e", PRELUDE + """
        local con = logs.console{ full = 'block', max_bytes = 65536, prefix = '{name} ' }
        logs.route{ name = 'a', to = con }
        logs.route{ name = 'b', to = logs.file{ path = %s } }
        local a = init.exec%s
        init.exec%s
        local reaped = 0
        init.every(0.05, function()
            init.exec{ 'true' }:status()
            reaped = reaped + 1
            local out = io.open(%s, 'w'); out:write(reaped); out:close()
        end)
        a:status()
    """ % (lua_quote(str(tmp_path / "b.log")),
           progress_writer("a", tmp_path / "a.progress", A_LINES, SIZE),
           progress_writer("b", tmp_path / "b.progress", B_LINES, SIZE),
           lua_quote(str(reaped)))], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env=env_for(**env))

    def reaps():
        try:
            return int(reaped.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0
    try:
        wait_until(lambda: progress(tmp_path / "b.progress") == B_LINES, what="b's 20 MB written")
    except BaseException:
        stop(proc)
        raise
    return proc, reaps


def test_a_blocking_sink_holds_back_only_its_children_and_loses_nothing(tmp_path):
    proc, reaps = held_back(tmp_path)
    try:
        assert progress(tmp_path / "a.progress") < A_BOUND
        before = reaps()
        wait_until(lambda: reaps() > before + 3, what="children still started and reaped")
        assert progress(tmp_path / "a.progress") < A_BOUND
        out, _ = proc.communicate(timeout=DEADLINE)  # the reader is back: a goes on to its end
        assert proc.returncode == 0
    finally:
        stop(proc)
    assert progress(tmp_path / "a.progress") == A_LINES
    assert [int(line.split()[1]) for line in out.splitlines() if line.startswith("a ")] == list(range(A_LINES))


def test_luasup_held_back_by_a_blocking_sink_still_stops_on_sigterm(tmp_path):
    proc, _ = held_back(tmp_path, LUASUP_GRACE_MS=1000)
    try:
        assert progress(tmp_path / "a.progress") < A_BOUND
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=DEADLINE) == 143
    finally:
        stop(proc)


@pytest.mark.parametrize("full", ["drop-oldest", "drop-newest"])
def test_a_full_sink_drops_with_one_warning_and_a_count_matching_its_stats(tmp_path, full):
    lines, stats = 40000, tmp_path / "stats"
    script = PRELUDE + """
        local con = logs.console{ max_bytes = 65536, prefix = '', full = %s }
        logs.route{ to = con }
        init.exec%s:status()
        local s = con:stats()
        while s.delivered + s.dropped < %d do init.sleep(0.02); s = con:stats() end
        local out = io.open(%s, 'w'); out:write(s.delivered, ' ', s.dropped, ' ', s.dropped_bytes); out:close()
    """ % (lua_quote(full), progress_writer("w", tmp_path / "progress", lines, 100), lines,
           lua_quote(str(stats)))
    with open(tmp_path / "stderr", "w") as err:
        proc = start(["-e", script], stdout=subprocess.PIPE, stderr=err)
    try:
        # 4 MB while nobody reads luasup's stdout: the sink fills and drops
        wait_until(lambda: "exited w" in (tmp_path / "stderr").read_text(), what="the writer's exit")
        out, _ = proc.communicate(timeout=DEADLINE)
        assert proc.returncode == 0
    finally:
        stop(proc)
    got = [int(line.split()[0]) for line in out.splitlines()]
    delivered, dropped, dropped_bytes = map(int, stats.read_text().split())
    assert (delivered, dropped, dropped_bytes) == (len(got), lines - len(got), (lines - len(got)) * 100)
    assert got == sorted(got) and dropped > 0
    first_lost = min(set(range(lines)) - set(got))
    after = [n for n in got if n > first_lost]
    if full == "drop-oldest":  # what came last is what is kept
        assert after == list(range(lines - len(after), lines))
    else:  # what came last is lost, but for batches small enough to fit
        assert len(after) * 100 < 65536
    warnings = [line for line in (tmp_path / "stderr").read_text().splitlines() if "logs: " in line]
    assert len(warnings) == 2
    began = re.fullmatch(r"luasup: warning: logs: console same is full \((\d+) bytes queued\): dropping its %s lines"
                         % full[5:], warnings[0])
    assert began and 0 < int(began.group(1)) <= 65536
    assert warnings[1] == "luasup: warning: logs: console same dropped %d lines (%d bytes) while full" % (
        dropped, dropped_bytes)


def test_a_blocking_sink_holds_back_a_service_with_an_output_probe(tmp_path):
    # an output probe watches the service's lines: they are held back all the same
    proc = start(["-e", PRELUDE + """
        local sup = require('supervise')
        local con = logs.console{ full = 'block', max_bytes = 65536, prefix = '{name} ' }
        logs.route{ name = 'a', to = con }
        logs.route{ name = 'b', to = logs.file{ path = %s } }
        sup.service('a', { cmd = { %s }, ready = sup.output('^0 ') })
        sup.service('b', { cmd = { %s }, restart = 'never' })
        return sup.run()
    """ % (lua_quote(str(tmp_path / "b.log")), progress_argv(tmp_path / "a.progress", A_LINES, SIZE),
           progress_argv(tmp_path / "b.progress", B_LINES, SIZE))],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env_for(LUASUP_GRACE_MS=1000))
    try:
        wait_until(lambda: progress(tmp_path / "b.progress") == B_LINES, what="b's 20 MB written")
        assert progress(tmp_path / "a.progress") < A_BOUND
    finally:
        stop(proc)


def test_a_blocking_file_sink_holds_back_only_its_children(tmp_path):
    # the file is a FIFO the test reads from, or not: a disk that stops
    fifo = tmp_path / "a.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    proc = start(["-e", PRELUDE + """
        logs.route{ name = 'a', to = logs.file{ path = %s, full = 'block', max_bytes = 65536 } }
        logs.route{ name = 'b', to = logs.file{ path = %s } }
        local a = init.exec%s
        init.exec%s:status()
        a:status()
    """ % (lua_quote(str(fifo)), lua_quote(str(tmp_path / "b.log")),
           progress_writer("a", tmp_path / "a.progress", A_LINES, SIZE),
           progress_writer("b", tmp_path / "b.progress", B_LINES, SIZE))])
    got = b""
    try:
        wait_until(lambda: progress(tmp_path / "b.progress") == B_LINES, what="b's 20 MB written")
        assert progress(tmp_path / "a.progress") < A_BOUND
        while True:  # read a's lines until luasup exits and closes the FIFO
            select.select([reader], [], [], DEADLINE)
            data = os.read(reader, 1 << 20)
            if not data and proc.poll() is not None:
                break
            got += data
        assert proc.wait(timeout=DEADLINE) == 0
    finally:
        os.close(reader)
        stop(proc)
    assert [int(line.split()[0]) for line in got.splitlines()] == list(range(A_LINES))
