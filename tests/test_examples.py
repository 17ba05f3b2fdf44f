"""Every script in lua/ runs as documented."""

import os
import re
import signal

import pytest

from helpers import LOOPS, LUA_EXAMPLES, env_for, read_line, run, start, stop, wait_until


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


def test_restart_backs_off_exponentially_and_gives_up_after_max_restarts():
    result = run([example("restart.lua"), "sh", "-c", "echo run; exit 3"],
                 env=env_for(MAX_RESTARTS=3))
    assert result.returncode == 3
    assert result.stdout == "run\n" * 4
    delays = [l.split(" in ")[1] for l in result.stderr.splitlines() if "restarting sh in" in l]
    assert delays == ["0.1 s", "0.2 s", "0.4 s"]


def test_restart_needs_a_command():
    result = run([example("restart.lua")])
    assert result.returncode == 1
    assert "usage: luasup restart.lua CMD [ARGS...]" in result.stderr


def test_cron_job_never_overlaps():
    result = run([example("cron.lua"), "0.1", "3"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "run 1 starts (1 running)", "run 1 ends", "run 2 starts (1 running)", "run 2 ends",
        "run 3 starts (1 running)", "run 3 ends"]


def _drained(worker, **env):
    """drain.lua over `worker`, sent SIGTERM once the worker is up: luasup's
    exit code and what the worker printed after that."""
    proc = start([example("drain.lua"), "sh", "-c", worker], env=env_for(DRAIN=5, **env))
    try:
        assert read_line(proc.stdout) == "up\n"
        os.kill(proc.pid, signal.SIGTERM)
        return proc.wait(timeout=30), proc.stdout.read()
    finally:
        stop(proc)


def test_drain_quits_the_worker_and_waits_for_it():
    # a drained worker exits 0, yet luasup was stopped by SIGTERM: 143, as
    # without a handler (it used to exit 0, or race the handler's exit)
    worker = "trap 'echo draining; sleep 0.2; echo drained; exit 0' QUIT; echo up; while :; do sleep 0.05; done"
    assert _drained(worker) == (128 + signal.SIGTERM, "draining\ndrained\n")


def test_drain_outlasts_luasups_grace_period():
    # the handler owns SIGTERM: the grace period (here 0.2 s) starts only
    # with its init.exit, so a 1 s drain is not cut short
    worker = "trap 'sleep 1; echo drained; exit 0' QUIT; echo up; while :; do sleep 0.05; done"
    assert _drained(worker, LUASUP_GRACE_MS=200) == (128 + signal.SIGTERM, "drained\n")


def test_drain_exits_with_the_workers_own_code_when_it_ends_by_itself():
    result = run([example("drain.lua"), "sh", "-c", "exit 7"])
    assert result.returncode == 7, result.stderr


def test_drain_terminates_a_worker_that_ignores_quit():
    worker = "trap '' QUIT; echo up; while :; do sleep 0.05; done"
    proc = start([example("drain.lua"), "sh", "-c", worker], env=env_for(DRAIN=0.3))
    try:
        assert read_line(proc.stdout) == "up\n"
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
        assert "luasup: warning: worker still busy after 0.3 s: sending SIGTERM" in proc.stderr.read()
    finally:
        stop(proc)


def test_posthook_runs_after_the_service_with_its_exit_code():
    result = run([example("posthook.lua"), "sh", "-c", "echo hook saw $EXIT_CODE",
                  "--", "sh", "-c", "echo service; exit 6"])
    assert result.returncode == 6
    assert result.stdout == "service\nhook saw 6\n"


def _http(port, timeout=5):
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                return data
            data += chunk


def test_handover_restarts_without_refusing_a_connection():
    import threading
    import time
    proc = start([example("handover.lua"), "0", "3", "0.5"])
    seen, errors, done = set(), [], threading.Event()

    def hammer(port):
        # Requests one after another until the third generation has answered
        # (or the deadline): a fixed count would end before it on a fast machine.
        deadline = time.monotonic() + 60
        while "3" not in seen and not done.is_set() and time.monotonic() < deadline:
            try:
                body = _http(port)
                seen.add(body.rsplit(b"generation ", 1)[1].strip().decode())
            except OSError as e:
                errors.append(repr(e))

    try:
        address = read_line(proc.stdout).strip()
        assert address.startswith("listening on tcp://127.0.0.1:")
        port = int(address.rsplit(":", 1)[1])
        client = threading.Thread(target=hammer, args=(port,))
        client.start()
        assert read_line(proc.stdout, timeout=60) == "all generations started\n"
        client.join(timeout=60)
        assert not client.is_alive()
        assert errors == []
        assert seen == {"1", "2", "3"}
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
    finally:
        done.set()
        stop(proc)


def test_health_check_restarts_a_service_after_three_failed_probes():
    import socket
    with socket.socket() as s:  # a free port for the example's server
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = start([example("health.lua"), str(port), "0.3"])
    try:
        first = read_line(proc.stderr)
        assert first.startswith("luasup: started web (pid ")
        web = int(first.split("pid ")[1].rstrip(")\n"))
        wait_until(lambda: _http_ok(port), what="the service to answer")
        os.kill(web, signal.SIGSTOP)  # hung: accepts nothing, answers nothing
        lines = []
        while not lines or not lines[-1].startswith("luasup: restarted web"):
            lines.append(read_line(proc.stderr, timeout=30))
        failures = [l for l in lines if "probe of http://127.0.0.1:%d/ failed" % port in l]
        # (a probe may also fail while a slow machine still starts the server)
        assert [l.rsplit(", ", 1)[1] for l in failures][-3:] == ["1 in a row\n", "2 in a row\n", "3 in a row\n"]
        new = int(lines[-1].rsplit("pid ", 1)[1])
        assert new != web
        wait_until(lambda: _http_ok(port), what="the restarted service to answer")
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
    finally:
        stop(proc)


def test_health_logs_the_status_of_a_failed_probe_not_its_body():
    # the body of a 503 used to be logged as the error
    from helpers.servers import raw_server
    busy = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy"
    with raw_server(busy) as port:  # it holds the port: the example's own server cannot bind it
        proc = start([example("health.lua"), str(port), "0.2"])
        try:
            line = ""
            while "probe of" not in line:
                line = read_line(proc.stderr)
            assert line == ("luasup: warning: probe of http://127.0.0.1:%d/ failed (status 503),"
                            " 1 in a row\n" % port)
        finally:
            stop(proc)


def _http_ok(port):
    try:
        return _http(port, timeout=1).startswith(b"HTTP/1.0 200")
    except OSError:
        return False


def test_reload_sends_one_sighup_per_burst_of_config_writes(tmp_path):
    config = tmp_path / "app.conf"
    config.write_text("v0\n")
    service = "trap 'echo reloaded' HUP; echo up; while :; do sleep 0.05; done"
    proc = start([example("reload.lua"), str(config), "sh", "-c", service])
    try:
        assert read_line(proc.stdout) == "up\n"
        for i in range(20):
            config.write_text("v%d\n" % i)
        assert read_line(proc.stdout) == "reloaded\n"
        tmp = tmp_path / "app.conf.new"  # an editor's save: write a copy, rename it over
        tmp.write_text("final\n")
        os.rename(tmp, config)
        assert read_line(proc.stdout) == "reloaded\n"
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
        assert proc.stdout.read() == ""  # no extra reloads
        assert proc.stderr.read().count("changed: sending SIGHUP to sh") == 2
    finally:
        stop(proc)
