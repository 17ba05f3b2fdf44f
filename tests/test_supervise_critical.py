"""supervise: critical services. One that gives up stops everything and
luasup exits with its code (128+N for a signal); critical = 'exit' does so
at its first exit; a non-critical failure leaves the rest running; oneshots
are critical by default and may be cut off at their timeout. Run as PID 1
of a fresh PID namespace: the code is the container's exit status."""

import re

import pytest

from helpers import stat, stop
from helpers.supervision import read_until, state_lines, states, sup_run, sup_start

STEADY = "sup.service('steady', {cmd = {'sleep', '3600'}})\n"


@pytest.mark.parametrize("ends,code", [("exit 7", 7), ("kill -USR1 $$", 128 + 10)])
def test_a_critical_service_that_gives_up_stops_everything_with_its_code(ends, code):
    result = sup_run(STEADY + """
        sup.service('api', {cmd = {'sh', '-c', 'echo run; ' .. ...}, critical = true,
                            backoff = {initial = 0}, limit = {burst = 1, within = 60}})
        return sup.run()
    """, ends, pidns=True)
    assert result.returncode == code, result.stderr
    assert result.stdout == "run\n" * 2  # gave up after one restart
    assert states(result.stderr, "api")[-1] == "failed"
    assert "luasup: supervise: stopping all services (service api failed)\n" in result.stderr
    assert states(result.stderr, "steady")[-2:] == ["stopping", "stopped"]


@pytest.mark.parametrize("code", [0, 4])
def test_critical_exit_stops_everything_at_its_first_exit_whatever_the_code(code):
    result = sup_run(STEADY + """
        sup.service('job', {cmd = {'sh', '-c', 'echo run; exit ' .. ...}, critical = 'exit',
                            restart = 'always'})
        return sup.run()
    """, code, pidns=True)
    assert result.returncode == code, result.stderr
    assert result.stdout == "run\n"  # no restart
    assert "luasup: supervise: stopping all services (service job %s)\n" % (
        "exited" if code == 0 else "failed") in result.stderr
    assert states(result.stderr, "steady")[-1] == "stopped"


def test_a_non_critical_service_that_gives_up_leaves_the_rest_running():
    proc = sup_start(STEADY + """
        sup.service('flaky', {cmd = {'sh', '-c', 'exit 3'}, limit = {burst = 0, within = 60}})
        local once = false
        sup.on('state', function(ev)
            if ev.state == 'failed' and not once then
                once = true
                -- refused with 'shutting down' had the failure begun the ordered stop
                print('start again', sup.start('flaky'))
            end
        end)
        return sup.run()
    """)
    try:
        lines = read_until(proc.stderr, lambda l: "service flaky: failed" in l)
        steady = int(re.search(r"service steady: running \(pid (\d+)\)", "\n".join(lines)).group(1))
        assert lines[-1] == "luasup: warning: service flaky: failed: 1 exit within 60 s; last: exit code 3"
        assert read_until(proc.stdout, lambda l: l.startswith("start again"))[-1] == "start again\ttrue"
        assert stat(steady)[0] != "Z" and proc.poll() is None
        proc.terminate()
        assert proc.wait(timeout=30) == 143
        rest = proc.stderr.read()
        assert states(rest, "steady") == ["stopping", "stopped"]
        assert stat(steady) is None
    finally:
        stop(proc)


def test_a_failing_oneshot_is_critical_by_default_and_its_dependents_never_start():
    result = sup_run(STEADY + """
        sup.oneshot('migrate', {cmd = {'sh', '-c', 'exit 5'}})
        sup.service('app', {cmd = {'sh', '-c', 'echo app started'}, after = 'migrate'})
        return sup.run()
    """, pidns=True)
    assert result.returncode == 5, result.stderr
    assert "app started" not in result.stdout
    assert states(result.stderr, "migrate") == ["starting", "failed"]
    assert states(result.stderr, "app") == ["waiting", "stopped"]
    assert "luasup: supervise: stopping all services (service migrate failed)\n" in result.stderr
    assert states(result.stderr, "steady")[-1] == "stopped"


def test_a_non_critical_oneshot_failure_blocks_only_its_dependents():
    proc = sup_start(STEADY + """
        sup.oneshot('warm', {cmd = {'sh', '-c', 'exit 5'}, critical = false})
        sup.service('cache', {cmd = {'sh', '-c', 'echo cache started'}, after = 'warm'})
        sup.oneshot('seed', {cmd = {'true'}})
        sup.service('app', {cmd = {'sh', '-c', 'echo app started; exec sleep 3600'}, after = 'seed'})
        return sup.run()
    """)
    try:
        assert read_until(proc.stdout, lambda l: l == "app started")
        lines = read_until(proc.stderr, lambda l: "service warm: failed" in l)
        assert proc.poll() is None
        proc.terminate()
        assert proc.wait(timeout=30) == 143
        logged = "\n".join(lines) + "\n" + proc.stderr.read()
        assert states(logged, "seed") == ["starting", "done"]
        assert "luasup: service seed: done (exit code 0)" in logged
        assert "cache started" not in proc.stdout.read()
    finally:
        stop(proc)


def test_a_oneshot_cut_off_at_its_timeout_fails_and_the_container_exits_1():
    result = sup_run(STEADY + """
        sup.oneshot('migrate', {cmd = {'sh', '-c', 'echo $$; exec sleep 3600'}, timeout = 0.3})
        return sup.run()
    """, pidns=True)
    # luasup ended it: its SIGTERM status would read as the container being stopped
    assert result.returncode == 1, result.stderr
    lines = [(state, rest) for svc, state, rest in state_lines(result.stderr) if svc == "migrate"]
    assert lines[-2:] == [("stopping", "(pid %s): timed out after 0.3 s" % result.stdout.split()[0]),
                          ("failed", "timed out after 0.3 s")]


def test_a_critical_failure_never_exits_0():
    result = sup_run(STEADY + """
        sup.oneshot('migrate', {cmd = {'sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'},
                                timeout = 0.3})
        return sup.run()
    """, pidns=True)
    assert "service migrate: failed: timed out after 0.3 s" in result.stderr
    assert result.returncode == 1, result.stderr


def test_a_critical_service_that_gives_up_on_a_loop_of_clean_exits_does_not_exit_0():
    result = sup_run(STEADY + """
        sup.service('z', {cmd = {'true'}, critical = true, backoff = {initial = 0},
                          limit = {burst = 1, within = 60}})
        return sup.run()
    """, pidns=True)
    assert "service z: failed: 2 exits within 60 s;" in result.stderr
    assert result.returncode == 1, result.stderr


@pytest.mark.parametrize("cmd,code", [
    ("/nonexistent/program", 127),
    ("/etc/hostname", 126),
])
def test_a_critical_service_that_cannot_be_spawned_ends_the_container_as_a_shell_would(cmd, code):
    result = sup_run(STEADY + """
        sup.service('api', {cmd = {...}, critical = true, limit = {burst = 0, within = 60}})
        return sup.run()
    """, cmd, pidns=True)
    assert re.search(r"service api: failed: .*unable to spawn %s: " % re.escape(cmd), result.stderr)
    assert states(result.stderr, "steady")[-1] == "stopped"
    assert result.returncode == code


def test_a_critical_failure_stops_the_rest_dependents_first(tmp_path):
    log, flag = tmp_path / "stops", tmp_path / "worker-up"
    result = sup_run("""
        local log, flag = ...
        local function records(name, extra)
            return {'sh', '-c', ('trap "echo %s >> %s; exit 0" TERM; %s while :; do sleep 0.05; done')
                :format(name, log, extra or '')}
        end
        sup.service('db', {cmd = records('db')})
        -- api gives up once worker, which depends on it, is up and trapping TERM
        sup.service('api', {cmd = {'sh', '-c', ('while [ ! -e %s ]; do sleep 0.02; done; exit 7'):format(flag)},
                            after = 'db', critical = true, limit = {burst = 0, within = 60}})
        sup.service('worker', {cmd = records('worker', 'touch ' .. flag .. ';'), after = 'api'})
        return sup.run()
    """, log, flag, pidns=True)
    assert result.returncode == 7, result.stderr
    assert log.read_text().split() == ["worker", "db"]
    assert "luasup: supervise: stopping all services (service api failed)\n" in result.stderr


@pytest.mark.parametrize("code", [0, 3])
def test_a_oneshot_with_critical_exit_ends_the_container_with_its_code_once_it_ran(code):
    # A job that needs a service beside it: run the job, then stop everything.
    result = sup_run(STEADY + """
        sup.oneshot('job', {cmd = {'sh', '-c', 'exit ' .. ...}, critical = 'exit', after = 'steady'})
        return sup.run()
    """, code, pidns=True)
    assert result.returncode == code, result.stderr
    order = [(svc, state) for svc, state, _ in state_lines(result.stderr)]
    assert order.index(("steady", "running")) < order.index(("job", "starting"))
    assert states(result.stderr, "job")[-1] == ("done" if code == 0 else "failed")
    assert states(result.stderr, "steady")[-1] == "stopped"
