"""`luasup ctl top`: a table of each service's state, pid, CPU %, RSS,
restarts and uptime, and luasup's own line, refreshed every -d seconds; a
plain table per refresh when not on a terminal or without rich, drawn in
place with rich on a terminal; q or Ctrl-C ends it with 0."""

import signal
import subprocess
import termios

from helpers import LUASUP, env_for, read_line
from helpers.controlled import (Terminal, ctl, noted_imports, python_env, serving, services,
                                wait_restarted, wait_state)

BUSY_AND_IDLE = """
    sup.service('busy', {cmd = {'sh', '-c', 'while :; do :; done'}})
    sup.service('idle', {cmd = {'sleep', '3600'}})
"""
HEADER = ["NAME", "STATE", "PID", "CPU%", "RSS", "RESTARTS", "UPTIME"]


def tables(text):
    """The tables printed, each a {name: {column: value}}."""
    out = []
    for block in text.strip("\n").split("\n\n"):
        lines = block.splitlines()
        assert lines[0].split() == HEADER, block
        out.append({row.split()[0]: dict(zip(HEADER, row.split())) for row in lines[1:]})
    return out


def test_piped_top_prints_one_plain_table_per_refresh_with_cpu_from_successive_answers():
    with serving(BUSY_AND_IDLE) as proc:
        wait_state("busy", "running")
        wait_state("idle", "running")
        listed = services()
        result = ctl("top", "-n", "3", "-d", "0.3")
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        shown = tables(result.stdout)
        assert len(shown) == 3
        for table in shown:
            assert list(table) == ["busy", "idle", "(luasup)"]
            for name in ("busy", "idle"):
                assert table[name]["STATE"] == "running"
                assert table[name]["PID"] == str(listed[name]["pid"])
                assert table[name]["RESTARTS"] == "0"
                assert table[name]["RSS"][-1] in "KM"
            assert table["(luasup)"]["PID"] == str(proc.pid)
        # the first table: CPU since each process started; then between answers
        assert shown[0]["(luasup)"]["CPU%"] == "-"
        for table in shown:  # a busy loop, on a machine others may load too
            assert 0.0 < float(table["busy"]["CPU%"]) <= 150.0
        for table in shown[1:]:
            assert float(table["idle"]["CPU%"]) == 0.0
            assert float(table["(luasup)"]["CPU%"]) >= 0.0


def test_top_shows_a_stopped_service_and_the_restarts_of_a_killed_one():
    with serving("""
        sup.service('victim', {cmd = {'sleep', '3600'}, restart = 'always',
                               backoff = {initial = 0}})
        sup.service('idle', {cmd = {'sleep', '3600'}})
    """):
        first = wait_state("victim", "running")
        wait_state("idle", "running")
        assert ctl("kill", "victim", "KILL").returncode == 0
        again = wait_restarted("victim", first["pid"])
        assert ctl("stop", "idle").returncode == 0
        table, = tables(ctl("top", "-n", "1").stdout)
        assert table["victim"]["RESTARTS"] == "1"
        assert table["victim"]["PID"] == str(again["pid"])
        assert table["idle"]["STATE"] == "stopped"
        assert [table["idle"][c] for c in ("PID", "CPU%", "RSS", "UPTIME")] == ["-"] * 4


def test_ctrl_c_ends_a_piped_top_with_0():
    with serving(BUSY_AND_IDLE):
        top = subprocess.Popen([LUASUP, "ctl", "top", "-d", "0.2"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env_for())
        try:
            assert read_line(top.stdout).split() == HEADER
            top.send_signal(signal.SIGINT)
            assert top.wait(timeout=10) == 0
            assert "Traceback" not in top.stderr.read()
        finally:
            top.kill()
            top.wait()


def test_on_a_terminal_rich_draws_the_table_and_q_ends_it_giving_the_terminal_back():
    with serving(BUSY_AND_IDLE):
        wait_state("idle", "running")
        term = Terminal(["top", "-d", "0.2"])
        try:
            term.expect(rb"q or Ctrl-C to quit")
            term.expect(rb"idle\s+(\x1b\[[0-9;]*m)?running")
            assert termios.tcgetattr(term.slave)[3] & termios.ICANON == 0  # keys without Enter
            term.send(b"q")
            assert term.wait() == 0
            assert termios.tcgetattr(term.slave)[3] & termios.ICANON
        finally:
            term.close()


def test_on_a_terminal_without_rich_top_prints_plain_tables_and_ctrl_c_ends_it(tmp_path):
    env = python_env(tmp_path, hide=["rich"])
    with serving(BUSY_AND_IDLE):
        wait_state("idle", "running")
        term = Terminal(["top", "-d", "0.2"], env=env)
        try:
            term.expect(rb"NAME +STATE +PID +CPU% +RSS +RESTARTS +UPTIME")
            term.expect(rb"idle +running")
            term.expect(rb"NAME +STATE")  # refreshed
            term.interrupt()
            assert term.wait() == 0
            assert b"Traceback" not in term.output
        finally:
            term.close()


def test_rich_is_imported_by_top_on_a_terminal_only(tmp_path):
    env = python_env(tmp_path, note=["rich"])
    with serving("sup.service('idle', {cmd = {'sleep', '3600'}})"):
        wait_state("idle", "running")
        for args in (["list"], ["status", "idle"], ["top", "-n", "1"], ["--json", "tree"]):
            assert ctl(*args, env=env).returncode == 0
        assert noted_imports(env) == []
        term = Terminal(["top", "-n", "1"], env=env)
        try:
            assert term.wait() == 0
        finally:
            term.close()
        assert "rich" in noted_imports(env)


def test_bad_delays_are_usage_errors_and_no_luasup_is_exit_3():
    for delay in ("0", "-1", "nan", "soon"):
        result = ctl("top", "-d", delay)
        assert result.returncode == 2, (delay, result.stderr)
        assert result.stderr.startswith("luasup ctl: ") and len(result.stderr.splitlines()) == 1
    result = ctl("top", "-n", "1")
    assert result.returncode == 3
    assert result.stderr.startswith("luasup ctl: cannot reach luasup at ")
    assert len(result.stderr.splitlines()) == 1
