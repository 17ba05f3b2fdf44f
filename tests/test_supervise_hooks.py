"""supervise: pre_start and post_exit hooks, as Lua functions and as
commands. A failing pre_start counts as a failed start; post_exit is given
the exit's details; both are cut off at hook_timeout, and post_exit also
runs during the ordered stop, within the grace period."""

import re

import pytest

from helpers import env_for, stat, stop, wait_until
from helpers.supervision import read_until, state_lines, states, sup_run, sup_start

FAILING_PRE_START = {
    "function": ("function(info) print('pre_start', info.service, info.restarts) "
                 "return false, 'db down' end", "pre_start hook failed: db down"),
    "command": ("{'sh', '-c', 'exit 1'}", "pre_start hook failed: sh exited 1"),
}


@pytest.mark.parametrize("kind", sorted(FAILING_PRE_START))
def test_a_failing_pre_start_is_a_failed_start_counted_toward_the_limit(kind):
    hook, why = FAILING_PRE_START[kind]
    result = sup_run("""
        sup.service('s', {cmd = {'sh', '-c', 'echo service ran'}, pre_start = %s,
                          backoff = {initial = 0}, limit = {burst = 2, within = 60}})
        return sup.run()
    """ % hook)
    assert "service ran" not in result.stdout  # the command never starts
    if kind == "function":
        assert result.stdout == "pre_start\ts\t0\npre_start\ts\t1\npre_start\ts\t2\n"
    lines = [(state, rest) for svc, state, rest in state_lines(result.stderr) if svc == "s"]
    # the minimum interval between starts holds for a start that failed at once
    assert lines == [("starting", "(pre_start hook)"),
                     ("backoff", "1 s after %s (restart 1 of 2 within 60 s)" % why),
                     ("starting", "(pre_start hook)"),
                     ("backoff", "1 s after %s (restart 2 of 2 within 60 s)" % why),
                     ("starting", "(pre_start hook)"),
                     ("failed", "3 exits within 60 s; last: %s" % why)]
    assert result.returncode == 1, result.stderr


def test_pre_start_runs_before_every_start_and_its_success_lets_the_service_run():
    result = sup_run("""
        sup.service('s', {cmd = {'sh', '-c', 'echo run; exit 3'}, restart = 'on-failure',
                          pre_start = function(info) print('pre', info.restarts) end,
                          backoff = {initial = 0}, limit = {burst = 1, within = 60}})
        return sup.run()
    """)
    assert result.stdout == "pre\t0\nrun\npre\t1\nrun\n"
    assert result.returncode == 3


def test_post_exit_gets_the_exit_details_after_every_run(tmp_path):
    result = sup_run("""
        sup.service('s', {cmd = {'sh', '-c', 'sleep 0.3; if [ -e "$0" ]; then kill -USR1 $$; fi; touch "$0"; exit 3',
                                 ...},
                          post_exit = function(i)
                              print(i.service, i.how, i.value, i.code, i.text, i.restarts, i.runtime)
                          end,
                          backoff = {initial = 0}, limit = {burst = 1, within = 60}})
        return sup.run()
    """, tmp_path / "ran-once")
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [r[:6] for r in rows] == [
        ["s", "exit", "3", "3", "exit code 3", "0"],
        ["s", "signal", "10", "138", "signal SIGUSR1", "1"]]
    assert all(0.25 <= float(r[6]) < 10 for r in rows), rows  # its run time from when exec returned
    assert result.returncode == 138


def test_a_command_post_exit_gets_the_details_in_its_environment(tmp_path):
    out = tmp_path / "env"
    result = sup_run("""
        sup.oneshot('job', {cmd = {'sh', '-c', 'exit 4'},
                            post_exit = {'sh', '-c', 'env | grep ^LUASUP_ > "$0"', ...}})
        return sup.run()
    """, out)
    assert result.returncode == 4, result.stderr
    env = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert {k: env[k] for k in ("LUASUP_SERVICE", "LUASUP_EXIT_CODE", "LUASUP_EXIT_TEXT",
                                "LUASUP_RESTARTS")} == {
        "LUASUP_SERVICE": "job", "LUASUP_EXIT_CODE": "4", "LUASUP_EXIT_TEXT": "exit code 4",
        "LUASUP_RESTARTS": "0"}
    assert 0 <= float(env["LUASUP_RUNTIME"]) < 10


def test_a_hung_pre_start_function_is_cut_off_at_hook_timeout_and_fails_the_start():
    result = sup_run("""
        sup.service('s', {cmd = {'sh', '-c', 'echo service ran'}, hook_timeout = 0.3,
                          pre_start = function() init.sleep(3600) end,
                          limit = {burst = 0, within = 60}})
        return sup.run()
    """)
    assert "luasup: warning: service s: pre_start hook still running after 0.3 s: stopped\n" \
        in result.stderr
    assert "service s: failed: 1 exit within 60 s; last: pre_start hook timed out after 0.3 s" \
        in result.stderr
    assert result.stdout == ""
    assert result.returncode == 1


def test_a_hung_command_hook_is_killed_at_hook_timeout_with_what_it_started(tmp_path):
    pidfile = tmp_path / "hook.pid"
    proc = sup_start("""
        sup.service('s', {cmd = {'sh', '-c', 'exit 3'}, hook_timeout = 0.3, limit = false,
                          post_exit = {'sh', '-c', 'sleep 3600 & echo $$ $! > "$0"; wait', ...}})
        return sup.run()
    """, pidfile)
    try:
        read_until(proc.stderr, lambda l: "post_exit hook still running after 0.3 s: stopped" in l)
        for pid in map(int, pidfile.read_text().split()):
            wait_until(lambda: stat(pid) is None, what="the hook's process %d reaped" % pid)
        # and the service carries on: the hook's end does not end the service
        read_until(proc.stderr, lambda l: l.startswith("luasup: service s: backoff"))
        proc.terminate()
        assert proc.wait(timeout=30) == 143
    finally:
        stop(proc)


def test_post_exit_runs_during_the_ordered_stop_and_is_bounded_by_the_grace_period():
    proc = sup_start("""
        sup.service('calm', {cmd = {'sleep', '3600'},
                             post_exit = function(i) print('calm', i.text) end})
        sup.service('hung', {cmd = {'sleep', '3600'}, hook_timeout = 600,
                             post_exit = function(i) print('hung', i.text); init.sleep(3600) end})
        sup.on('state', function(ev)
            if ev.service == 'calm' and ev.state == 'running' then print('up') end
        end)
        return sup.run()
    """, env=env_for(LUASUP_GRACE_MS=1500))
    try:
        read_until(proc.stdout, lambda l: l == "up")
        proc.terminate()
        # a hook waited for up to its hook_timeout would keep luasup 600 s
        assert proc.wait(timeout=30) == 143
        assert sorted(proc.stdout.read().splitlines()) == ["calm\tsignal SIGTERM",
                                                           "hung\tsignal SIGTERM"]
        err = proc.stderr.read()
        assert re.search(r"luasup: warning: service hung: post_exit hook still running after "
                         r"[0-9.]+ s: stopped\n", err), err
        assert states(err, "calm")[-1] == states(err, "hung")[-1] == "stopped"
    finally:
        stop(proc)


@pytest.mark.parametrize("which,runs", [("pre_start", 0), ("post_exit", 2)])
def test_a_hook_function_s_error_is_logged_with_its_line_and_the_service_carries_on(which, runs):
    result = sup_run("""
        sup.service('s', {cmd = {'sh', '-c', 'echo run; exit 3'}, limit = {burst = 1, within = 60},
                          backoff = {initial = 0},
                          %s = function() error('hook trouble') end})
        return sup.run()
    """ % which)
    assert result.stdout == "run\n" * runs
    errors = re.findall(r"luasup: error: service s: %s hook failed: \(command line\):\d+: hook trouble"
                        % which, result.stderr)
    assert len(errors) == 2, result.stderr
    assert states(result.stderr, "s")[-1] == "failed"  # after its restart, as without the hook
    assert "Traceback" not in result.stderr


def test_a_command_post_exit_runs_during_the_ordered_stop(tmp_path):
    out = tmp_path / "post_exit"
    proc = sup_start("""
        sup.service('s', {cmd = {'sleep', '3600'},
                          post_exit = {'sh', '-c', 'echo "$LUASUP_EXIT_TEXT" > "$0"', ...}})
        sup.on('state', function(ev) if ev.state == 'running' then print('up') end end)
        return sup.run()
    """, out)
    try:
        read_until(proc.stdout, lambda l: l == "up")
        proc.terminate()
        assert proc.wait(timeout=30) == 143
        assert out.read_text() == "signal SIGTERM\n"
    finally:
        stop(proc)
