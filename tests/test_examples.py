"""Every script in lua/ runs as documented."""

import json
import os
import re
import signal

import pytest

from helpers import ctlsocket
from helpers import LOOPS, LUA_EXAMPLES, env_for, read_line, run, start, stat, stop, wait_until


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


@pytest.mark.parametrize("stable, delays", [(10, ["0.1 s", "0.2 s"]), (0.5, ["0.1 s", "0.1 s"])])
def test_restart_backs_off_and_gives_up_after_a_burst_of_exits(stable, delays):
    # each run lasts 1 s: the library's minimum interval between starts
    # does not hide the backoff; a run longer than STABLE resets it
    result = run([example("restart.lua"), "sh", "-c", "echo run; sleep 1; exit 3"],
                 env=env_for(BURST=2, STABLE=stable))
    assert result.returncode == 3, result.stderr
    assert result.stdout == "run\n" * 3
    backoffs = re.findall(r"service sh: backoff (.*) after exit code 3 \(restart (\d) of 2 within 60 s\)",
                          result.stderr)
    assert backoffs == [(delays[0], "1"), (delays[1], "2")]
    assert "luasup: warning: service sh: failed: 3 exits within 60 s; last: exit code 3\n" in result.stderr


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
    result = run([example("posthook.lua"), "sh", "-c", "echo hook saw $LUASUP_EXIT_CODE: $LUASUP_EXIT_TEXT",
                  "--", "sh", "-c", "echo service; exit 6"])
    assert result.returncode == 6
    assert result.stdout == "service\nhook saw 6: exit code 6\n"


def test_posthook_runs_when_luasup_is_stopped():
    proc = start([example("posthook.lua"), "sh", "-c", "echo hook saw $LUASUP_EXIT_TEXT",
                  "--", "sh", "-c", "echo service; exec sleep 30"])
    try:
        assert read_line(proc.stdout) == "service\n"
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
        assert proc.stdout.read() == "hook saw signal SIGTERM\n"
    finally:
        stop(proc)


def test_posthook_is_cut_off_at_its_timeout():
    result = run([example("posthook.lua"), "sh", "-c", "echo hook runs; exec sleep 30",
                  "--", "sh", "-c", "exit 5"], env=env_for(HOOK_TIMEOUT=0.3))
    assert result.returncode == 5
    assert result.stdout == "hook runs\n"
    assert "luasup: warning: service main: post_exit hook still running after 0.3 s: stopped\n" in result.stderr


def _http(port, path="/", timeout=5):
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(b"GET %s HTTP/1.0\r\n\r\n" % path.encode())
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


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lines_until(stream, text):
    """Lines read from stream up to and including the first containing text."""
    lines = [read_line(stream)]
    while text not in lines[-1]:
        lines.append(read_line(stream))
    return lines


def _pid_of(line):
    return int(re.search(r"\(pid (\d+)\)", line).group(1))


def test_health_check_restarts_a_service_after_three_failed_probes():
    port = _free_port()
    proc = start([example("health.lua"), str(port), "0.3"])
    try:
        web = _pid_of(_lines_until(proc.stderr, "service web: running")[-1])
        assert _http_ok(port)  # running means it answers: readiness came first
        os.kill(web, signal.SIGSTOP)  # hung: accepts nothing, answers nothing
        lines = _lines_until(proc.stderr, "service web: running")
        failures = [re.search(r"\((\d) of 3\)", l).group(1) for l in lines if "health check failed (" in l]
        assert failures[-3:] == ["1", "2", "3"]  # (a slow machine may fail a probe before the hang)
        assert any("service web: stopping (pid %d): health check failed 3 times" % web in l for l in lines)
        new = _pid_of(lines[-1])
        assert new != web
        assert _http_ok(port)
        wait_until(lambda: stat(web) is None, what="the hung server to be gone")
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
    finally:
        stop(proc)


def _http_ok(port, path="/"):
    try:
        return _http(port, path, timeout=1).startswith(b"HTTP/1.0 200")
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


def _index(lines, text):
    return next(i for i, l in enumerate(lines) if text in l)


@pytest.mark.parametrize("loop", LOOPS)
def test_services_start_in_order_work_and_stop_in_reverse(tmp_path, loop):
    port = _free_port()
    proc = start([example("services.lua"), str(tmp_path / "app"), str(port)], loop=loop)
    try:
        lines = _lines_until(proc.stderr, "service worker: running")
        assert _index(lines, "service migrate: done (exit code 0)") < _index(lines, "service app: starting")
        assert _index(lines, "service app: running") < _index(lines, "service worker: starting")
        assert _http_ok(port, "/healthz")
        (tmp_path / "app" / "queue" / "job1").write_text("")
        assert read_line(proc.stdout) == "worker: did job1\n"
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
        lines = proc.stderr.read().splitlines()
        assert _index(lines, "service worker: stopped") < _index(lines, "service app: stopping")
        assert "service app: stopped (signal SIGTERM)" in lines[-1]
    finally:
        stop(proc)


def test_services_restart_the_app_when_its_health_check_fails(tmp_path):
    port = _free_port()
    proc = start([example("services.lua"), str(tmp_path / "app"), str(port)])
    try:
        app = _pid_of(_lines_until(proc.stderr, "service app: running")[-1])
        (tmp_path / "app" / "healthz").unlink()  # now answered 404
        lines = _lines_until(proc.stderr, "service app: stopping")
        assert lines[-1].endswith("(pid %d): health check failed 3 times: HTTP 404\n" % app)
        assert [l for l in lines if "health check failed (" in l][-1].endswith("(3 of 3): HTTP 404\n")
        (tmp_path / "app" / "healthz").write_text("ok\n")
        lines = _lines_until(proc.stderr, "service app: running")
        assert _pid_of(lines[-1]) != app
        assert not any("service worker" in l for l in lines)  # the worker kept running
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
    finally:
        stop(proc)


def test_services_start_nothing_after_a_failed_migration(tmp_path):
    (tmp_path / "file").write_text("")  # DIR cannot be made under a file
    result = run([example("services.lua"), str(tmp_path / "file" / "app"), str(_free_port())])
    assert result.returncode == 1
    assert "luasup: warning: service migrate: failed: exit code 1\n" in result.stderr
    assert "service app: starting" not in result.stderr
    assert "service worker: starting" not in result.stderr


def test_logs_fans_output_out_to_console_rotating_file_and_alert(tmp_path):
    result = run([example("logs.lua"), str(tmp_path)])
    assert result.returncode == 0, result.stderr
    out, err = result.stdout.splitlines(), result.stderr.splitlines()
    # the console: each line behind its service's name, on its own stream
    assert [l for l in out if l.startswith("counter | ")] == ["counter | tick %d" % i for i in (1, 2, 3)]
    assert [l for l in out if l.startswith("chatty | ")] == ["chatty | line %d of 200" % i
                                                             for i in range(1, 201)]
    assert "checker | checking disk" in out
    assert "checker | ERROR: disk 97% full" in err
    # the alert function got the ERROR line, and only it
    assert [l for l in err if "alert:" in l] == ['luasup: warning: alert: checker said "ERROR: disk 97% full"']
    # the file: rotated by renaming, every line once and in order across the files
    names = sorted(os.listdir(tmp_path))
    assert "app.log.1" in names and set(names) <= {"app.log", "app.log.1", "app.log.2", "app.log.3"}
    records = []
    for name in ["app.log.3", "app.log.2", "app.log.1", "app.log"]:
        if name in names:
            data = (tmp_path / name).read_bytes()
            assert len(data) <= 4096 and data.endswith(b"\n"), name
            records += data.decode().splitlines()
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert all(re.fullmatch(stamp + r" \w+ std(out|err): .+", r) for r in records), records
    lines = [r.split(" ", 1)[1] for r in records]
    assert [l for l in lines if l.startswith("chatty ")] == ["chatty stdout: line %d of 200" % i
                                                             for i in range(1, 201)]
    assert "checker stderr: ERROR: disk 97% full" in lines
    assert len(lines) == 3 + 200 + 2


def _ctl(*args):
    return run(["ctl"] + list(args))  # the socket: LUASUP_CTL, set for each test by conftest.py


def _generation():
    """hello's generation: the re-execs so far (None while nobody answers)."""
    try:
        client = ctlsocket.Client(os.environ["LUASUP_CTL"])
    except OSError:
        return None
    try:
        client.request(1, "hello")
        answer = client.line()
        return answer and ctlsocket.strict_json(answer)["result"]["generation"]
    finally:
        client.close()


def test_control_is_driven_with_luasup_ctl():
    proc = start([example("control.lua")])
    try:
        wait_until(lambda: _ctl("ready").returncode == 0, what="luasup ctl ready")
        listed = _ctl("list")
        assert listed.returncode == 0, listed.stderr
        rows = [line.split() for line in listed.stdout.splitlines()]
        assert rows[0][:3] == ["NAME", "STATE", "PID"]
        assert [row[:2] for row in rows[1:]] == [["db", "running"], ["web", "running"],
                                                 ["worker", "running"]]
        # the ring the policy routes output to
        def ring():
            lines = _ctl("logs").stdout.splitlines()
            return "worker | job 1 done" in lines and lines

        lines = wait_until(ring, what="the worker's first line in the ring")
        assert "db | db: ready to accept connections" in lines
        assert _ctl("logs", "-n", "1", "db").stdout == "db | db: ready to accept connections\n"
        before = json.loads(_ctl("--json", "status", "worker").stdout)
        restarted = _ctl("restart", "worker")
        assert (restarted.returncode, restarted.stdout) == (0, "worker: running\n"), restarted.stderr
        after = json.loads(_ctl("--json", "status", "worker").stdout)
        assert after["pid"] != before["pid"] and after["restarts"] == before["restarts"] + 1
        assert _ctl("eval", "#sup.list()").stdout == "3\n"  # eval = true, and we are root
        # luasup replaced in place: the same pids, the ring kept, by ctl and by SIGUSR2
        pids = [(s["name"], s["pid"]) for s in json.loads(_ctl("--json", "list").stdout)["services"]]
        reexec = _ctl("--json", "reexec")
        assert reexec.returncode == 0, reexec.stderr
        assert json.loads(reexec.stdout)["generation"] == 1
        os.kill(proc.pid, signal.SIGUSR2)
        wait_until(lambda: _generation() == 2, what="the second re-exec, by SIGUSR2")
        assert [(s["name"], s["pid"]) for s in json.loads(_ctl("--json", "list").stdout)["services"]] == pids
        assert _ctl("logs", "-n", "1", "db").stdout == "db | db: ready to accept connections\n"
        # web is the critical one: stopped, the container is unhealthy
        assert _ctl("stop", "web").stdout == "web: stopped\n"
        health = _ctl("health")
        assert (health.returncode, health.stderr) == (1, "luasup ctl: web: stopped (stop requested)\n")
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
        assert not os.path.exists(os.environ["LUASUP_CTL"])  # luasup removed its socket
        gone = _ctl("list")
        assert gone.returncode == 3 and gone.stderr.startswith("luasup ctl: cannot reach luasup at ")
    finally:
        stop(proc)
