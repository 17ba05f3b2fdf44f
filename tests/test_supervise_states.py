"""supervise: states. Each change is one stable log line and one event to
every sup.on('state') subscriber, in the same order; a subscriber that
fails or blocks hurts neither the services nor the other subscribers."""

import json
import re

from helpers import env_for, stop
from helpers.supervision import read_until, state_lines, sup_run, sup_start

# A oneshot, a service waiting for it, and a service that fails once then
# exits 0; the script stops everything once the latter has exited.
SCENE = """
    local flag = ...
    sup.oneshot('migrate', {cmd = {'true'}})
    sup.service('app', {cmd = {'sleep', '3600'}, after = 'migrate'})
    sup.service('worker', {cmd = {'sh', '-c', '[ -e "$0" ] && exit 0; touch "$0"; exit 3', flag},
                           restart = 'on-failure', backoff = {initial = 0}})
"""

PRINT_EVENTS = """
    sup.on('state', function(ev)
        print(ev.service, ev.previous, ev.state, ev.why, ev.pid or '-', ev.time)
        if ev.service == 'worker' and ev.state == 'exited' then sup.shutdown() end
    end)
"""


def test_every_state_change_is_one_log_line_and_one_event_in_the_same_order(tmp_path):
    result = sup_run(SCENE + PRINT_EVENTS + "return sup.run()", tmp_path / "flag")
    assert result.returncode == 0, result.stderr
    events = [line.split("\t") for line in result.stdout.splitlines()]
    logged = state_lines(result.stderr)
    assert [(e[0], e[2]) for e in events] == [(svc, state) for svc, state, _ in logged]
    # each event's `previous` is the state its service's last event went to
    last = {}
    for svc, previous, state, *_ in events:
        assert previous == last.get(svc, "stopped"), events
        last[svc] = state
    times = [float(e[5]) for e in events]
    assert times == sorted(times)
    # the pid an event carries is the one its log line shows
    for (svc, _, state, _, pid, _), (_, _, rest) in zip(events, logged):
        if state in ("starting", "running"):
            assert rest == "(pid %s)" % pid

    by_service = {}
    for svc, state, rest in logged:
        by_service.setdefault(svc, []).append((state + " " + rest).strip())
    pid = r"\(pid \d+\)"
    expected = {
        "migrate": [r"starting " + pid, r"done \(exit code 0\)"],
        "app": [r"waiting for migrate", r"starting " + pid, r"running " + pid,
                r"stopping \(pid \d+\): shutdown", r"stopped \(signal SIGTERM\)"],
        "worker": [r"starting " + pid, r"running " + pid,
                   r"backoff (0\.9\d*|1) s after exit code 3 \(restart 1 of 5 within 60 s\)",
                   r"starting " + pid, r"running " + pid, r"exited \(exit code 0\)"],
    }
    for svc, patterns in expected.items():
        assert len(by_service[svc]) == len(patterns), by_service[svc]
        for line, pattern in zip(by_service[svc], patterns):
            assert re.fullmatch(pattern, line), (line, pattern)
    assert "luasup: supervise: stopping all services (requested)\n" in result.stderr


def test_events_carry_why_a_service_is_in_its_state(tmp_path):
    result = sup_run(SCENE + PRINT_EVENTS + "return sup.run()", tmp_path / "flag")
    why = {(e[0], e[2]): e[3] for e in (l.split("\t") for l in result.stdout.splitlines())}
    assert why[("app", "waiting")] == "waiting for migrate"
    assert why[("migrate", "done")] == "exit code 0"
    assert why[("app", "running")] == "ready: started"
    assert re.fullmatch(r"restart in [0-9.]+ s after exit code 3", why[("worker", "backoff")])
    assert why[("app", "stopped")] == "shutdown"


def test_a_failing_handler_is_logged_and_keeps_receiving_events(tmp_path):
    result = sup_run(SCENE + """
        sup.on('state', function(ev)
            print(ev.service, ev.state)
            if ev.state == 'starting' then error('handler trouble') end
        end)
        sup.on('state', function(ev)
            if ev.service == 'worker' and ev.state == 'exited' then sup.shutdown() end
        end)
        return sup.run()
    """, tmp_path / "flag")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["%s\t%s" % (svc, state)
                                          for svc, state, _ in state_lines(result.stderr)]
    errors = re.findall(r"luasup: error: supervise: error in a state handler: "
                        r"\(command line\):\d+: handler trouble", result.stderr)
    assert len(errors) == result.stdout.count("\tstarting")


def test_a_blocked_handler_delays_neither_the_services_nor_other_handlers(tmp_path):
    proc = sup_start(SCENE + """
        sup.on('state', function(ev) init.sleep(3600) end)
        sup.on('state', function(ev)
            print(ev.service, ev.state)
            if ev.service == 'worker' and ev.state == 'exited' then print('all seen') end
        end)
        return sup.run()
    """, tmp_path / "flag")
    try:
        seen = read_until(proc.stdout, lambda l: l == "all seen")
        assert "app\trunning" in seen and "worker\tbackoff" in seen
        proc.terminate()
        assert proc.wait(timeout=30) == 143
    finally:
        stop(proc)


def test_on_takes_only_state_events_and_a_function():
    result = sup_run("sup.on('exit', print)")
    assert result.returncode == 1
    assert "bad argument #1 to 'on' ('state' expected, got exit)" in result.stderr
    result = sup_run("sup.on('state', 'print')")
    assert result.returncode == 1
    assert "bad argument #2 to 'on' (function expected, got string)" in result.stderr
    assert "Traceback" not in result.stderr


FAILING = """
    sup.service('s', {cmd = {'sh', '-c', 'exit 3'}, limit = {burst = 0, within = 60}})
    return sup.run()
"""


def test_state_lines_follow_the_log_level_and_format():
    quiet = sup_run(FAILING, env=env_for(LUASUP_LOG_LEVEL="warn"))
    assert quiet.stderr == "luasup: warning: service s: failed: 1 exit within 60 s; last: exit code 3\n"
    as_json = sup_run(FAILING, env=env_for(LUASUP_LOG_FORMAT="json"))
    records = [json.loads(line) for line in as_json.stderr.splitlines()]
    pid = re.search(r"\(pid (\d+)\)", records[0]["msg"]).group(1)
    assert [(r["level"], r["msg"]) for r in records if r["msg"].startswith("service s:")] == [
        ("info", "service s: starting (pid %s)" % pid),
        ("info", "service s: running (pid %s)" % pid),
        ("warn", "service s: failed: 1 exit within 60 s; last: exit code 3")]
    assert quiet.returncode == as_json.returncode == 3
