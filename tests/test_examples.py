"""Every script in lua/ runs as documented."""

import os
import re

import pytest

from helpers import LOOPS, LUA_EXAMPLES, run


def example(name):
    return os.path.join(LUA_EXAMPLES, name)


@pytest.mark.parametrize("loop", LOOPS)
def test_tour_shows_every_call(loop):
    result = run([example("tour.lua")], loop=loop)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"luasup pid\t\d+", lines[0])
    assert re.fullmatch(r"child pid\t\d+", lines[1])
    assert lines[2:] == ["stdout\ta-b|3-c|", "stderr\tnil", "status\t0", "stderr\toops", "",
                         "status\t3", "kill\t9", "killed by\tSIGKILL", "init.kill\t0",
                         "terminated by\tSIGTERM", "tick\t1", "tick\t2", "ticks while sleeping\t2"]
    assert result.stderr == ""


@pytest.mark.parametrize("loop", LOOPS)
def test_pair_runs_two_children_concurrently(loop):
    result = run([example("pair.lua"), "1"], loop=loop, timeout=30)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"started web\t\d+\tand worker\t\d+", lines[0])
    assert lines[1:] == ["web up", "web done", "worker up", "worker done",
                         "web exited\t0\tworker exited\t0"]


def test_pair_exits_with_the_worse_status(tmp_path):
    # the same script with a failing worker: copy it and break the worker
    source = open(example("pair.lua")).read().replace("echo worker done", "exit 4")
    (tmp_path / "pair.lua").write_text(source)
    result = run(["pair.lua", "0"], cwd=tmp_path)
    assert result.returncode == 4
    assert result.stdout.splitlines()[-1] == "web exited\t0\tworker exited\t4"


@pytest.mark.parametrize("loop", LOOPS)
def test_updater_stops_updates_and_restarts_the_server(loop):
    result = run([example("updater.lua"), "2", "0.3"], loop=loop)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"server started\t\d+", lines[0])
    for round_no, start in ((1, 1), (2, 4)):
        assert lines[start] == "server stopped by signal\t9"
        assert lines[start + 1] == "update says\tupdated\tand exited\t0"
        assert re.fullmatch(r"server restarted\t\d+\tround\t%d" % round_no, lines[start + 2])
    assert len(lines) == 7
    pids = {int(l.split("\t")[1]) for l in lines
            if l.startswith(("server started", "server restarted"))}
    assert len(pids) == 3  # three distinct server processes
