"""init.watch: one call per burst of changes, after the burst; the watch
follows the path through replacement by rename, removal and symlink swaps;
cancel stops it."""

import os

import pytest

from helpers import LOOPS, read_line, run, start, stop

INIT = "local init = require('init')\n"


def lua(code, *args, loop="uvloop"):
    result = run(["-e", INIT + code] + [str(a) for a in args], loop=loop)
    assert "Traceback" not in result.stderr
    return result


def lines_of(code, *args, loop="uvloop"):
    result = lua(code, *args, loop=loop)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    return result.stdout.splitlines()


class Watching:
    """luasup watching `path`: its fn prints 'changed PATH' and exits once it
    has been called `calls` times. The test changes things from outside."""

    def __init__(self, path, calls=1, loop="uvloop", options=""):
        self.proc = start(["-e", INIT + """
            local path, wanted = ...
            local n = 0
            assert(init.watch(path, function(p)
                n = n + 1
                print('changed', p, n)
                if n == tonumber(wanted) then os.exit(0) end
            end%s))
            print('ready')
            init.sleep(120)
        """ % options, str(path), str(calls)], loop=loop)
        assert read_line(self.proc.stdout) == "ready\n"

    def next_call(self):
        line = read_line(self.proc.stdout)
        assert line.startswith("changed\t"), line + self.proc.stderr.read()
        return line.rstrip("\n").split("\t")[1:]

    def finish(self):
        out, err = self.proc.communicate(timeout=30)
        assert (self.proc.returncode, err) == (0, "")
        return out

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        stop(self.proc)


@pytest.mark.parametrize("loop", LOOPS)
def test_a_burst_of_writes_gives_one_call_after_the_burst(loop, tmp_path):
    path = tmp_path / "config"
    path.write_text("")
    out = lines_of("""
        local path = ...
        local calls, lines_seen = 0, nil
        init.watch(path, function(p)
            calls = calls + 1
            local n = 0
            for _ in io.lines(p) do n = n + 1 end
            lines_seen = n
        end, {debounce = 0.3})
        for i = 1, 20 do
            local f = assert(io.open(path, 'a'))
            f:write(i, '\\n')
            f:close()
            init.sleep(0.005)  -- luasup sees each write as it happens
        end
        while calls == 0 do init.sleep(0.02) end
        -- the thing under test is the debounce: allow a second call
        -- three debounce periods to show up
        init.sleep(1)
        print(calls, lines_seen)
    """, path, loop=loop)
    assert out == ["1\t20"]


@pytest.mark.parametrize("loop", LOOPS)
def test_write_from_outside_calls_fn_with_the_path(loop, tmp_path):
    path = tmp_path / "config"
    path.write_text("one")
    with Watching(path, loop=loop) as w:
        path.write_text("two")
        assert w.next_call() == [str(path), "1"]
        w.finish()


@pytest.mark.parametrize("loop", LOOPS)
def test_file_replaced_by_rename_keeps_being_watched(loop, tmp_path):
    path = tmp_path / "config"
    path.write_text("v1")
    with Watching(path, calls=3, loop=loop) as w:
        for n, text in enumerate(["v2", "v3"], 1):
            (tmp_path / "config.tmp").write_text(text)
            os.rename(tmp_path / "config.tmp", path)  # as editors and config tools do
            assert w.next_call() == [str(path), str(n)]
        with open(path, "a") as f:  # the new file itself is watched
            f.write("more")
        assert w.next_call() == [str(path), "3"]
        w.finish()


def test_file_removed_and_created_again(tmp_path):
    path = tmp_path / "config"
    path.write_text("v1")
    with Watching(path, calls=3) as w:
        path.unlink()
        assert w.next_call()[1] == "1"
        path.write_text("back")
        assert w.next_call()[1] == "2"
        path.write_text("changed")
        assert w.next_call()[1] == "3"
        w.finish()


def test_symlink_swap_as_kubernetes_updates_a_configmap(tmp_path):
    # config -> ..data/config; ..data -> v1. An update makes v2, points
    # ..data at it atomically and removes v1.
    for version in ("v1", "v2"):
        (tmp_path / version).mkdir()
        (tmp_path / version / "config").write_text(version)
    os.symlink("v1", tmp_path / "..data")
    os.symlink("..data/config", tmp_path / "config")
    with Watching(tmp_path / "config", calls=2) as w:
        os.symlink("v2", tmp_path / "..data_tmp")
        os.rename(tmp_path / "..data_tmp", tmp_path / "..data")
        (tmp_path / "v1" / "config").unlink()
        assert w.next_call()[1] == "1"
        (tmp_path / "v2" / "config").write_text("v2, edited")  # now watched
        assert w.next_call()[1] == "2"
        w.finish()


def test_symlink_swap_is_seen_while_the_old_version_stays(tmp_path):
    # the swap alone, before (or without) the old version's removal
    for version in ("v1", "v2"):
        (tmp_path / version).mkdir()
        (tmp_path / version / "config").write_text(version)
    os.symlink("v1", tmp_path / "..data")
    os.symlink("..data/config", tmp_path / "config")
    with Watching(tmp_path / "config", calls=2) as w:
        os.symlink("v2", tmp_path / "..data_tmp")
        os.rename(tmp_path / "..data_tmp", tmp_path / "..data")
        assert w.next_call()[1] == "1"
        os.symlink("v1", tmp_path / "..data_tmp")
        os.rename(tmp_path / "..data_tmp", tmp_path / "..data")
        assert w.next_call()[1] == "2"
        w.finish()


@pytest.mark.parametrize("loop", LOOPS)
def test_directory_entries_created_and_removed(loop, tmp_path):
    folder = tmp_path / "conf.d"
    folder.mkdir()
    with Watching(folder, calls=2, loop=loop) as w:
        (folder / "a.conf").write_text("x")
        assert w.next_call() == [str(folder), "1"]
        (folder / "a.conf").unlink()
        assert w.next_call() == [str(folder), "2"]
        w.finish()


def test_writes_to_the_old_file_after_it_was_moved_away_do_not_count(tmp_path):
    path = tmp_path / "config"
    path.write_text("v1")
    out = lines_of("""
        local path = ...
        local calls, old_calls = 0, 0
        init.watch(path, function() calls = calls + 1 end)
        assert(os.rename(path, path .. '~'))      -- a backup, as vi makes
        local f = assert(io.open(path, 'w')) f:write('v2') f:close()
        while calls == 0 do init.sleep(0.02) end
        -- a witness on the backup: once it has seen the write, the first
        -- watch would have too, had it still been looking at that file
        init.watch(path .. '~', function() old_calls = old_calls + 1 end)
        f = assert(io.open(path .. '~', 'a')) f:write('old') f:close()
        while old_calls == 0 do init.sleep(0.02) end
        init.sleep(0.5)
        print(calls, old_calls)
    """, path)
    assert out == ["1\t1"]


def test_cancel_stops_calls(tmp_path):
    path = tmp_path / "config"
    path.write_text("v1")
    out = lines_of("""
        local path = ...
        local cancelled, witness = 0, 0
        local w = init.watch(path, function() cancelled = cancelled + 1 end)
        init.watch(path, function() witness = witness + 1 end)
        print(w:cancel(), w:cancel(), tostring(w) == 'watcher ' .. path)
        local f = assert(io.open(path, 'w')) f:write('v2') f:close()
        while witness == 0 do init.sleep(0.02) end
        init.sleep(0.5)
        print(cancelled, witness)
    """, path)
    assert out == ["true\ttrue\ttrue", "0\t1"]


def test_cancel_from_inside_the_call(tmp_path):
    path = tmp_path / "config"
    path.write_text("v1")
    out = lines_of("""
        local path = ...
        local calls, witness, w = 0, 0, nil
        w = init.watch(path, function() calls = calls + 1; w:cancel() end)
        init.watch(path, function() witness = witness + 1 end)
        for i = 1, 2 do
            local f = assert(io.open(path, 'a')) f:write(i) f:close()
            while witness < i do init.sleep(0.02) end
        end
        init.sleep(0.5)
        print(calls, witness)
    """, path)
    assert out == ["1\t2"]


def test_changes_during_a_call_give_one_more_call_after_it(tmp_path):
    path = tmp_path / "config"
    path.write_text("")
    out = lines_of("""
        local path = ...
        local calls, running, overlaps = 0, false, 0
        init.watch(path, function()
            if running then overlaps = overlaps + 1 end
            running = true
            calls = calls + 1
            if calls == 1 then
                for i = 1, 5 do  -- the file changes while fn still runs
                    local f = assert(io.open(path, 'a')) f:write(i) f:close()
                    init.sleep(0.05)
                end
                init.sleep(0.3)
            end
            running = false
        end, {debounce = 0.05})
        local f = assert(io.open(path, 'a')) f:write('go') f:close()
        while calls < 2 do init.sleep(0.02) end
        init.sleep(0.5)
        print(calls, overlaps)
    """, path)
    assert out == ["2\t0"]


def test_an_error_in_fn_is_reported_and_the_watch_goes_on(tmp_path):
    path = tmp_path / "config"
    path.write_text("v1")
    script = tmp_path / "w.lua"
    script.write_text(INIT + (
        "local path, calls = ..., 0\n"
        "init.watch(path, function()\n"
        "  calls = calls + 1\n"
        "  if calls == 1 then error('bad config') end\n"
        "end)\n"
        "for i = 1, 2 do\n"
        "  local f = assert(io.open(path, 'a')) f:write(i) f:close()\n"
        "  while calls < i do init.sleep(0.02) end\n"
        "end\n"
        "print(calls)\n"))
    result = run(["w.lua", str(path)], cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "2\n")
    lines = result.stderr.splitlines()
    assert lines[0] == "luasup: error in task watch %s job w.lua:3: w.lua:5: bad config" % path
    assert lines[1] == "stack traceback:"


def test_custom_debounce_is_accepted(tmp_path):
    path = tmp_path / "config"
    path.write_text("v1")
    with Watching(path, options=", {debounce = 0}") as w:
        path.write_text("v2")
        assert w.next_call()[1] == "1"
        w.finish()


def test_missing_path_is_nil_and_a_message(tmp_path):
    missing = tmp_path / "nope" / "config"
    out = lines_of("print(init.watch(..., print))", missing)
    assert out == ["nil\tunable to watch %s: No such file or directory" % missing]


@pytest.mark.parametrize("call, message", [
    ("init.watch()", "bad argument #1 to 'watch' (string expected, got nil)"),
    ("init.watch('/tmp')", "bad argument #2 to 'watch' (function expected, got nil)"),
    ("init.watch('/tmp', print, 0.1)", "bad argument #3 to 'watch' (table expected, got number)"),
    ("init.watch('/tmp', print, {delay = 1})", "bad argument #3 to 'watch' (unknown option 'delay')"),
    ("init.watch('/tmp', print, {debounce = '1'})",
     "bad argument #3 to 'watch' (option 'debounce': number expected, got string)"),
    ("init.watch('/tmp', print, {debounce = -1})",
     "bad argument #3 to 'watch' (option 'debounce': non-negative finite number expected, got -1)"),
    ("init.watch('/tmp', print).cancel()",
     "bad argument #1 to 'cancel' (watcher expected, got nil); call it as watcher:cancel()"),
])
def test_bad_arguments(call, message):
    assert lines_of("print(select(2, pcall(function() %s end)))" % call) == [
        "(command line):2: " + message]
