"""supervise: the ordered stop, with luasup as PID 1 of a fresh PID
namespace. On SIGTERM/SIGINT each service stops once everything that
depends on it has stopped (the services' own records prove the order),
with its own stop signal and timeout, the whole within LUASUP_GRACE_MS;
a service counts as stopped once its whole process group is gone, and
nothing is restarted once the stop has begun."""

import os
import re
import signal
import time

import pytest

from helpers import DEADLINE, env_for, luasup_pid, run, start, stop, wait_until
from helpers.records import fake, first, read_records, started
from helpers.supervision import read_until, state_lines, states

def service(name, records, *options, lua=""):
    """Lua declaring a fake service, running once it says `up` (its stop
    handlers set by then); `lua` adds options to its spec."""
    return "sup.service('%s', {cmd = %s, ready = sup.output('^up$'), %s})" % (
        name, fake(name, records, "--say", "up", *options), lua)


def script(services, but=()):
    """Declare `services` (Lua lines), run, print 'all running' once every
    service (but those named in `but`) is running."""
    return """
        local sup = require('supervise')
        %s
        local waiting = {}  -- the services yet to be running
        for _, s in ipairs(sup.list()) do waiting[s.name] = true end
        for _, name in ipairs({%s}) do waiting[name] = nil end
        sup.on('state', function(ev)
            if ev.state == 'running' and waiting[ev.service] then
                waiting[ev.service] = nil
                if next(waiting) == nil then print('all running') end
            end
        end)
        return sup.run()
    """ % ("\n".join(services), ", ".join("'%s'" % name for name in but))


def start_pid1(lua, grace_ms=20000, loop="uvloop"):
    proc = start(["-e", lua], pidns=True, env=env_for(loop, LUASUP_GRACE_MS=grace_ms))
    return proc, luasup_pid(proc, True)


def stop_all(proc, host, signo=signal.SIGTERM):
    """Wait until everything runs, send `signo`; (exit code, seconds it took)."""
    read_until(proc.stdout, lambda line: line == "all running")  # past the services' `up` lines
    sent = time.monotonic()
    os.kill(host, signo)
    code = proc.wait(timeout=DEADLINE)
    return code, time.monotonic() - sent


def position(records, name, event):
    return records.index(first(records, name, event))


@pytest.mark.parametrize("loop, signo", [("uvloop", signal.SIGTERM), ("asyncio", signal.SIGINT)])
def test_services_stop_in_reverse_dependency_order(tmp_path, loop, signo):
    records = tmp_path / "records"
    after = {"db": [], "cache": [], "api": ["db", "cache"], "worker": ["api"], "admin": ["db"]}
    lua = script([service(name, records, "--linger", 0.3,
                          lua="after = {%s}" % ", ".join("'%s'" % d for d in deps))
                  for name, deps in after.items()])
    proc, host = start_pid1(lua, loop=loop)
    try:
        code, _ = stop_all(proc, host, signo)
        assert code == 128 + signo
    finally:
        stop(proc)
    got = read_records(records)
    assert sorted((r.name, r.event) for r in got) == sorted(
        (name, event) for name in after for event in ("start", "term", "exit"))
    for name, deps in after.items():
        for dep in deps:
            # the dependency was asked to stop only after its dependent had gone
            assert position(got, name, "exit") < position(got, dep, "term"), (name, dep)
    # services that nothing depends on stop together, not one after another
    assert max(position(got, n, "term") for n in ("worker", "admin")) < min(
        position(got, n, "exit") for n in ("worker", "admin"))
    err = proc.stderr.read()
    assert "luasup: supervise: stopping all services (received %s)" % signal.Signals(signo).name in err


def test_a_service_ignoring_sigterm_is_killed_at_its_stop_timeout_while_others_stop_on_time(tmp_path):
    records = tmp_path / "records"
    lua = script([
        service("stubborn", records, "--ignore-term", lua="stop = {timeout = 2}"),
        service("db", records, "--linger", 0.2),
        service("api", records, "--linger", 0.2, lua="after = 'db'"),
    ])
    proc, host = start_pid1(lua, grace_ms=20000)
    try:
        code, took = stop_all(proc, host)
        assert code == 143
    finally:
        stop(proc)
    got = read_records(records)
    term = first(got, "stubborn", "term")
    # the others were done before the stubborn one's timeout ran out
    assert first(got, "db", "exit").time < term.time + 2
    assert ("stubborn", "exit") not in [(r.name, r.event) for r in got]
    # killed at its 2 s, far from the 20 s grace period
    assert 2 <= took < 15, took
    err = proc.stderr.read()
    waited = re.search(r"^luasup: warning: service stubborn: still running (\d+) ms after SIGTERM:"
                       r" sending SIGKILL$", err, re.M)
    assert waited and 2000 <= int(waited.group(1)) < 15000, err
    assert ("stubborn", "stopped", "(signal SIGKILL)") in state_lines(err)


def test_the_whole_stop_fits_in_the_grace_period_whatever_the_stop_timeouts(tmp_path):
    records = tmp_path / "records"
    lua = script([
        service("db", records),
        service("api", records, "--ignore-term", lua="after = 'db', stop = {timeout = 30}"),
    ])
    proc, host = start_pid1(lua, grace_ms=1500)
    try:
        code, took = stop_all(proc, host)
        assert code == 143
    finally:
        stop(proc)
    assert took < 10, took  # the grace period, not api's 30 s
    err = proc.stderr.read()
    # api stops first and gets half of the grace period: db, after it, keeps its share
    killed = re.search(r"service api: still running (\d+) ms after SIGTERM: sending SIGKILL", err)
    assert killed and 700 <= int(killed.group(1)) < 1500, err
    stops = [(svc, state) for svc, state, _ in state_lines(err)
             if state in ("stopping", "stopped")]
    assert stops == [("api", "stopping"), ("api", "stopped"), ("db", "stopping"), ("db", "stopped")]


def test_a_service_is_stopped_only_once_its_whole_process_group_is_gone(tmp_path):
    records = tmp_path / "records"
    lua = script([
        service("db", records),
        service("app", records, "--group-helper", 0.5, lua="after = 'db'"),
    ])
    proc, host = start_pid1(lua)
    try:
        wait_until(lambda: "app-helper" in started(records), what="app's helper")
        code, _ = stop_all(proc, host)
        assert code == 143
    finally:
        stop(proc)
    got = read_records(records)
    # app's own process went at once, the rest of its group half a second later
    assert position(got, "app", "exit") < position(got, "app-helper", "exit")
    assert position(got, "app-helper", "exit") < position(got, "db", "term")


def test_nothing_is_restarted_once_the_stop_has_begun(tmp_path):
    records = tmp_path / "records"
    lua = script([
        # exits soon, over and over: in backoff or running when the signal
        # comes, and its turn to stop comes only after the worker's 3 s
        "sup.service('crasher', {cmd = %s, backoff = {initial = 0}, limit = false, ready = 0})"
        % fake("crasher", records, "--exit", 1, "--run", 0.2),
        # exits on SIGTERM with code 0, which `always` would restart
        service("server", records),
        service("worker", records, "--ignore-term",
                lua="after = {'server', 'crasher'}, restart = 'on-failure'"),
    ], but=["crasher"])
    proc, host = start_pid1(lua, grace_ms=3000)
    try:
        wait_until(lambda: [r.event for r in read_records(records) if r.name == "crasher"].count(
            "start") >= 2, what="crasher restarted")
        code, _ = stop_all(proc, host)
        assert code == 143
    finally:
        stop(proc)
    err = proc.stderr.read()
    after_stop = err[err.index("luasup: supervise: stopping all services"):]
    assert "starting" not in after_stop
    assert "backoff" not in after_stop
    starts = [r.name for r in read_records(records) if r.event == "start"]
    assert (starts.count("server"), starts.count("worker")) == (1, 1)


def test_each_service_gets_its_own_stop_signal(tmp_path):
    records = tmp_path / "records"
    lua = script([
        service("quits", records, lua="stop = 'QUIT'"),
        service("hangs_up", records, lua="stop = {signal = 'SIGHUP'}"),
        service("plain", records),
    ])
    proc, host = start_pid1(lua)
    try:
        code, _ = stop_all(proc, host)
        assert code == 143
    finally:
        stop(proc)
    assert sorted((r.name, r.event) for r in read_records(records) if r.event != "start") == [
        ("hangs_up", "SIGHUP"), ("hangs_up", "exit"), ("plain", "exit"), ("plain", "term"),
        ("quits", "SIGQUIT"), ("quits", "exit")]


def test_a_critical_failure_stops_the_rest_in_reverse_dependency_order(tmp_path):
    records, gate = tmp_path / "records", tmp_path / "gate"
    lua = script([
        service("db", records, "--linger", 0.2),
        service("api", records, "--linger", 0.2, lua="after = 'db'"),
        service("worker", records, "--linger", 0.2, lua="after = 'api'"),
        # fails for good once the test opens the gate
        "sup.service('guard', {cmd = {'sh', '-c', 'echo up; while [ ! -e %s ]; do sleep 0.02; done;"
        " exit 5'}, critical = true, restart = 'never', ready = sup.output('up')})" % gate,
    ])
    proc, _ = start_pid1(lua)
    try:
        read_until(proc.stdout, lambda line: line == "all running")
        gate.touch()
        assert proc.wait(timeout=DEADLINE) == 5
    finally:
        stop(proc)
    got = [(r.name, r.event) for r in read_records(records) if r.event != "start"]
    assert got == [("worker", "term"), ("worker", "exit"), ("api", "term"), ("api", "exit"),
                   ("db", "term"), ("db", "exit")]
    assert "luasup: supervise: stopping all services (service guard failed)" in proc.stderr.read()


def test_a_stop_while_a_service_is_starting_does_not_wait_for_its_readiness(tmp_path):
    records = tmp_path / "records"
    lua = """
        local sup = require('supervise')
        sup.service('api', {cmd = %s, ready = {probe = sup.command{'false'}, deadline = 60}})
        sup.service('client', {cmd = %s, after = 'api'})
        return sup.run()
    """ % (fake("api", records), fake("client", records))
    proc, host = start_pid1(lua)
    try:
        wait_until(lambda: "api" in started(records), what="api started")
        sent = time.monotonic()
        os.kill(host, signal.SIGTERM)
        assert proc.wait(timeout=DEADLINE) == 143
        assert time.monotonic() - sent < 10  # not the 60 s readiness deadline
    finally:
        stop(proc)
    assert [(r.name, r.event) for r in read_records(records)] == [
        ("api", "start"), ("api", "term"), ("api", "exit")]
    assert states(proc.stderr.read(), "client") == ["waiting", "stopped"]


def test_what_is_left_of_a_group_is_killed_within_the_grace_period(tmp_path):
    records = tmp_path / "records"
    # the service itself takes 3.5 of the 4 s to exit; a member of its group
    # ignores SIGTERM (it would take an hour)
    lua = script([service("app", records, "--linger", 3.5, "--group-helper", 3600)])
    proc, host = start_pid1(lua, grace_ms=4000)
    try:
        wait_until(lambda: "app-helper" in started(records), what="app's helper")
        code, took = stop_all(proc, host)
        assert code == 143
    finally:
        stop(proc)
    assert ("app", "exit") in [(r.name, r.event) for r in read_records(records)]
    assert took < 6, took  # 4 s and some, not 4 + 4
    assert re.search(r"^luasup: warning: service app: processes of its group still running \d+ ms"
                     r" after SIGTERM: sending SIGKILL$", proc.stderr.read(), re.M)


def test_twenty_independent_services_stop_at_once(tmp_path):
    records = tmp_path / "records"
    names = ["s%02d" % i for i in range(20)]
    lua = script([service(name, records, "--linger", 0.5) for name in names])
    proc, host = start_pid1(lua)
    try:
        code, _ = stop_all(proc, host)
        assert code == 143
    finally:
        stop(proc)
    events = [r.event for r in read_records(records) if r.event != "start"]
    # every one was asked to stop before the first had finished (each takes 0.5 s)
    assert events == ["term"] * 20 + ["exit"] * 20


def test_the_default_stop_timeout_is_the_grace_period_in_force_at_the_stop(tmp_path):
    records = tmp_path / "records"
    # set after the declaration: the service's stop timeout follows it
    lua = script([service("api", records, "--ignore-term"),
                  "require('init').shutdown_grace(1)"])
    proc, host = start_pid1(lua, grace_ms=30000)
    try:
        code, took = stop_all(proc, host)
        assert code == 143
    finally:
        stop(proc)
    assert 1 <= took < 10, took  # not the 30 s of LUASUP_GRACE_MS
    assert ("api", "stopped", "(signal SIGKILL)") in state_lines(proc.stderr.read())


def test_the_ordered_stop_waits_for_a_stop_already_in_progress(tmp_path):
    records = tmp_path / "records"
    lua = """
        local init, sup = require('init'), require('supervise')
        %s
        %s
        sup.on('state', function(ev)
            if ev.service == 'api' and ev.state == 'running' then
                init.spawn(sup.stop, 'api')  -- takes a second
                init.after(0.3, sup.shutdown, 0)
            end
        end)
        return sup.run()
    """ % (service("db", records), service("api", records, "--linger", 1, lua="after = 'db'"))
    result = run(["-e", lua], pidns=True)
    assert result.returncode == 0, result.stderr
    got = read_records(records)
    assert position(got, "api", "exit") < position(got, "db", "term")
    assert states(result.stderr, "api").count("stopping") == 1  # signalled once


def test_a_critical_oneshot_failing_because_it_was_stopped_does_not_change_the_exit_code(tmp_path):
    mark = tmp_path / "trapped"
    lua = """
        local init, sup = require('init'), require('supervise')
        sup.oneshot('migrate', {cmd = {'sh', '-c', 'trap "exit 1" TERM; touch %s; sleep 30 & wait'}})
        sup.service('api', {cmd = {'sleep', 30}, after = 'migrate'})
        init.spawn(function()
            while not io.open('%s') do init.sleep(0.02) end
            init.kill(init.pid(), 'TERM')
        end)
        return sup.run()
    """ % (mark, mark)
    result = run(["-e", lua], pidns=True)
    assert result.returncode == 143, result.stderr  # not the oneshot's 1
    assert state_lines(result.stderr)[-1] == ("migrate", "stopped", "(exit code 1)")
    assert states(result.stderr, "api") == ["waiting", "stopped"]


def test_a_service_added_while_running_stops_before_what_it_depends_on(tmp_path):
    records = tmp_path / "records"
    lua = """
        local sup = require('supervise')
        %s
        sup.on('state', function(ev)
            if ev.service == 'db' and ev.state == 'running' then
                %s
            elseif ev.service == 'late' and ev.state == 'running' then
                sup.shutdown(0)
            end
        end)
        return sup.run()
    """ % (service("db", records), service("late", records, "--linger", 0.5, lua="after = 'db'"))
    result = run(["-e", lua], pidns=True)
    assert result.returncode == 0, result.stderr
    got = read_records(records)
    assert position(got, "late", "exit") < position(got, "db", "term")


def test_a_service_stopping_after_a_stubborn_one_still_gets_its_share_of_the_grace_period(tmp_path):
    records = tmp_path / "records"
    lua = script([
        service("db", records, "--linger", 0.3),
        service("api", records, "--ignore-term", lua="after = 'db'"),  # default timeout: all of it
    ])
    proc, host = start_pid1(lua, grace_ms=2000)
    try:
        code, took = stop_all(proc, host)
        assert code == 143
    finally:
        stop(proc)
    assert took < 10, took
    got = read_records(records)
    # db got its stop signal with time left, handled it and exited by itself
    assert position(got, "db", "term") < position(got, "db", "exit")
    err = proc.stderr.read()
    killed = re.search(r"service api: still running (\d+) ms after SIGTERM: sending SIGKILL", err)
    assert killed and 900 <= int(killed.group(1)) < 2000, err  # half of the 2 s
    assert ("db", "stopped", "(exit code 0)") in state_lines(err), err


def test_a_second_stop_signal_kills_every_service_at_once(tmp_path):
    records = tmp_path / "records"
    lua = script([
        service("db", records, "--ignore-term"),
        service("api", records, "--ignore-term", lua="after = 'db', stop = {timeout = 30}"),
    ])
    proc, host = start_pid1(lua, grace_ms=60000)
    try:
        read_until(proc.stdout, lambda line: line == "all running")
        os.kill(host, signal.SIGTERM)
        wait_until(lambda: ("api", "term") in [(r.name, r.event) for r in read_records(records)])
        sent = time.monotonic()
        os.kill(host, signal.SIGTERM)
        assert proc.wait(timeout=DEADLINE) == 143
        took = time.monotonic() - sent
    finally:
        stop(proc)
    assert took < 10, took  # not api's 30 s, nor the 60 s grace period
    err = proc.stderr.read()
    assert "luasup: warning: supervise: received SIGTERM again: sending SIGKILL to every service\n" in err
    assert ("api", "stopped", "(signal SIGKILL)") in state_lines(err), err
    assert [r for r in read_records(records) if r.event == "exit"] == []  # neither exited by itself
