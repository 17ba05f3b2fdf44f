"""`luasup ctl`: every command against a real policy, through the real
binary — human output, --json, and the exit codes (0 ok, 1 the request
failed, 2 usage, 3 luasup not reachable or permission denied) with their
one line on stderr.

Most tests share one running luasup whose policy gives each test services
of its own, so that no test depends on another having run."""

import json
import os
import re
import select
import socket
import time

import pytest

from helpers import PY, helper, read_line, stat, wait_until
from helpers.ctl import Policy, ctl, lines, one_line_error

SHARED = """
sup.service('quiet', {cmd = {'sleep', '3600'}})
sup.oneshot('setup', {cmd = {'sh', '-c', 'echo set up'}})
sup.service('flaky', {cmd = {'sh', '-c', 'echo bye; exit 3'}, restart = 'never'})
sup.service('failing', {cmd = {'sh', '-c', 'exit 4'}, restart = 'never', ready = 0.5})
sup.service('ticker', {cmd = {'sh', '-c', 'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.2; done'}})
sup.service('chatter', {cmd = {'sh', '-c', 'i=0; while :; do i=$((i+1)); echo "chat $i"; sleep 0.2; done'}})
sup.service('cycled', {cmd = {'sleep', '3600'}})
sup.service('cycled2', {cmd = {'sleep', '3600'}})
sup.service('nowait', {cmd = {'sh', '-c', [[
    trap 'while [ ! -e %(release)s ]; do sleep 0.1; done; exit 0' TERM
    while [ ! -e %(go)s ]; do sleep 0.1; done
    echo go
    while :; do sleep 0.1; done]]}, ready = sup.output('^go$'), stop = {timeout = 60}})
sup.service('evented', {cmd = {'sleep', '3600'}})
sup.service('trigger', {cmd = {'sleep', '3600'}})
sup.service('sig', {cmd = {%(py)r, %(sigprint)r, '--fork', '--out', %(sigout)r}, stop = 'KILL'})
sup.service('base', {cmd = {'sleep', '3600'}, autostart = false})
sup.service('dep', {cmd = {'sleep', '3600'}, after = {'base'}})
sup.service('held', {cmd = {'sleep', '3600'}, autostart = false})
sup.service('unstarted', {cmd = {'sleep', '3600'}, autostart = false})
sup.service('holder', {cmd = {'sleep', '3600'}, after = {'held'}, autostart = false})
sup.service('back', {cmd = {'sleep', '3600'}})
sup.service('mid', {cmd = {'sleep', '3600'}, after = {'back'}})
sup.service('cache', {cmd = {'sleep', '3600'}})
sup.service('front', {cmd = {'sleep', '3600'}, after = {'mid', 'cache'}})
return sup.run()
"""
# Where each service comes to rest once started (the rest: running).
SETTLED = {"setup": "done", "flaky": "failed", "failing": "failed", "base": "stopped",
           "dep": "waiting", "held": "stopped", "holder": "stopped", "unstarted": "stopped"}
# nowait: ready once GO exists; stopped, it exits once RELEASE exists.
SHARED_NAMES = re.findall(r"^sup\.(?:service|oneshot)\('(\w+)'", SHARED, re.M)

# app: critical; its health check fails while SICK exists, and it exits at
# once while DOWN exists (restarted again and again, never giving up, and
# never running: it is ready once it has lived 0.3 s). slow: ready once
# READY exists.
VITALS = """
sup.service('app', {cmd = {'sh', '-c', '[ -e %(down)s ] && exit 1; exec sleep 3600'}, ready = 0.3,
    critical = true, backoff = {initial = 0.2, max = 0.5}, limit = {burst = 1000, within = 60},
    health = {every = 0.2, failures = 1000, probe = function()
        if exists(%(sick)r) then return nil, 'sick file' end
        return true
    end}})
sup.service('slow', {cmd = {'sleep', '3600'}, ready = {every = 0.1, probe = function()
    return exists(%(ready)r)
end}})
return sup.run()
"""

# eval enabled, and no logs.ring declared
EVAL = """local init = require('init')
local sup = require('supervise')
sup.control{eval = true}
sup.service('beat', {cmd = {'sleep', '3600'}, backoff = {initial = 0}})
return sup.run()
"""


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """The shared luasup once each service has come to rest; its statuses
    then in .settled (each test changes only services of its own)."""
    d = tmp_path_factory.mktemp("shared")
    body = SHARED % {"py": PY, "sigprint": helper("sigprint.py"), "sigout": str(d / "signals"),
                     "go": d / "GO", "release": d / "RELEASE"}
    (d / "GO").touch()
    with Policy(body, d) as policy:
        def settled():
            listed = {st["name"]: st for st in policy.json("list")["services"]}
            return all(st["state"] == SETTLED.get(name, "running") for name, st in listed.items()) \
                and listed
        policy.settled = wait_until(settled, what="every service at rest")
        yield policy


@pytest.fixture(scope="module")
def vitals(tmp_path_factory):
    d = tmp_path_factory.mktemp("vitals")
    with Policy(VITALS % {"down": d / "DOWN", "sick": str(d / "SICK"), "ready": str(d / "READY")},
                d) as policy:
        yield policy


@pytest.fixture(scope="module")
def evaluating(tmp_path_factory):
    with Policy(EVAL, tmp_path_factory.mktemp("eval"), head="") as policy:
        yield policy


# a duration as the client shows it: 3s, 5m02s, 2h03m
DURATION = r"\d+[smhd](?:\d\d[smh])?"


def gone(pid):
    return stat(pid) is None


def lines_of(result):
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert result.stderr == ""
    return result.stdout.splitlines()


# -- list, status ---------------------------------------------------------------

def test_list_shows_every_service_with_its_state_pid_and_last_exit(shared):
    quiet = shared.settled["quiet"]
    out = lines_of(shared.ctl("list"))
    assert out[0].split() == ["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "LAST", "EXIT"]
    rows = {line.split()[0]: line for line in out[1:]}
    assert sorted(rows) == sorted(SHARED_NAMES) and len(out) == len(SHARED_NAMES) + 1
    assert re.match(r"quiet +running +%d +%s +0 +-$" % (quiet["pid"], DURATION), rows["quiet"])
    assert re.match(r"flaky +failed +- +- +0 +exit code 3$", rows["flaky"])
    assert re.match(r"setup +done +- +- +0 +exit code 0$", rows["setup"])
    assert re.match(r"base +stopped +- +- +0 +-$", rows["base"])

    listed = {st["name"]: st for st in shared.json("list")["services"]}
    assert sorted(listed) == sorted(SHARED_NAMES)
    st = listed["quiet"]
    assert (st["kind"], st["state"], st["pid"], st["restarts"], st["after"]) == (
        "service", "running", quiet["pid"], 0, [])
    assert st["uptime"] >= 0 and st["for"] >= 0 and "last_exit" not in st
    assert stat(st["pid"])[1] == shared.pid  # a child of this luasup
    assert listed["setup"]["kind"] == "oneshot" and listed["setup"]["critical"] is True
    assert listed["front"]["after"] == ["mid", "cache"]
    assert "pid" not in listed["flaky"] and "uptime" not in listed["flaky"]


def test_status_of_a_service_and_of_a_oneshot(shared):
    quiet = shared.settled["quiet"]
    # `FIELD      VALUE`, the field padded to 10
    fields = {line[:10].rstrip(): line[11:] for line in lines_of(shared.ctl("status", "quiet"))}
    assert fields["name"] == "quiet" and fields["state"] == "running"
    assert fields["kind"] == "service" and fields["pid"] == str(quiet["pid"])
    assert fields["after"] == "-" and fields["restarts"] == "0" and fields["last exit"] == "-"

    setup = shared.status("setup")
    assert setup["state"] == "done" and setup["kind"] == "oneshot" and "pid" not in setup
    assert (setup["last_exit"]["how"], setup["last_exit"]["code"]) == ("exit", 0)
    assert setup["last_exit"]["text"] == "exit code 0" and setup["last_exit"]["runtime"] >= 0


def test_a_service_that_does_not_exist_fails_the_request_with_exit_1(shared):
    for args in (["status", "nope"], ["--json", "why", "nope"], ["kill", "nope"],
                 ["restart", "nope"]):
        one_line_error(shared.ctl(*args), 1, "no service 'nope'")
    # one unknown name: nothing is done, not even to the names before it
    one_line_error(shared.ctl("stop", "quiet", "nope"), 1, "no service 'nope'")
    assert shared.status("quiet")["pid"] == shared.settled["quiet"]["pid"]


# -- start, stop, restart ------------------------------------------------------------

def test_stop_start_and_restart_wait_for_the_state_change(shared):
    first = shared.settled["cycled"]["pid"]
    assert lines_of(shared.ctl("stop", "cycled")) == ["cycled: stopped"]
    st = shared.status("cycled")
    assert st["state"] == "stopped" and "pid" not in st and gone(first)
    assert st["why"] == "stop requested"

    assert lines_of(shared.ctl("start", "cycled")) == ["cycled: running"]
    second = shared.status("cycled")
    assert second["state"] == "running" and second["pid"] != first

    assert lines_of(shared.ctl("restart", "cycled")) == ["cycled: running"]
    third = shared.status("cycled")["pid"]
    assert third != second["pid"] and gone(second["pid"]) and not gone(third)

    # several names, in --json
    other = shared.settled["cycled2"]["pid"]
    results = shared.json("restart", "cycled", "cycled2")["results"]
    assert [(r["name"], r["ok"], r["state"]) for r in results] == [
        ("cycled", True, "running"), ("cycled2", True, "running")]
    assert gone(third) and gone(other)
    assert lines_of(shared.ctl("stop", "cycled", "cycled2")) == ["cycled: stopped", "cycled2: stopped"]


def test_no_wait_returns_once_the_change_has_begun(shared):
    go, release = shared.path("GO"), shared.path("RELEASE")
    first = shared.settled["nowait"]["pid"]
    # its stop lasts until RELEASE exists
    assert lines_of(shared.ctl("stop", "--no-wait", "nowait")) == ["nowait: stop begun"]
    assert shared.status("nowait")["state"] == "stopping"
    open(release, "w").close()
    shared.wait_state("nowait", "stopped")
    assert gone(first)

    # its start lasts until GO exists
    os.unlink(go)
    assert lines_of(shared.ctl("start", "--no-wait", "nowait")) == ["nowait: start begun"]
    assert shared.status("nowait")["state"] == "starting"
    open(go, "w").close()
    second = shared.wait_state("nowait", "running")["pid"]

    os.unlink(go)
    assert lines_of(shared.ctl("restart", "--no-wait", "nowait")) == ["nowait: restart begun"]
    assert shared.status("nowait")["state"] in ("stopping", "stopped", "starting")
    open(go, "w").close()
    third = shared.wait_state("nowait", "running")["pid"]
    assert third != second and gone(second)


def test_a_start_that_fails_exits_1_with_the_state_and_reason(shared):
    one_line_error(shared.ctl("start", "failing"), 1, "luasup ctl: failing: failed (exit code 4)")
    result = shared.ctl("--json", "start", "failing")
    assert result.returncode == 1
    results = json.loads(result.stdout)["results"]
    assert [(r["name"], r["ok"], r["state"]) for r in results] == [("failing", False, "failed")]


def test_a_start_waiting_for_a_stopped_dependency_says_so_at_once(shared):
    line = one_line_error(shared.ctl("start", "holder"), 1)
    assert line == "luasup ctl: holder: waiting (waiting for held (stopped))"
    assert lines_of(shared.ctl("start", "held")) == ["held: running"]
    shared.wait_state("holder", "running")


# -- kill ----------------------------------------------------------------------------

def test_kill_signals_the_service_s_whole_process_group(shared):
    out = shared.path("signals")

    def got(signame):
        return {line.split()[0] for line in lines(out) if line.split()[1:2] == [signame]}

    wait_until(lambda: {line.split()[1] for line in lines(out) if line.startswith("ready ")}
               == {"child", "grandchild"}, what="sigprint and its grandchild ready")
    pid = shared.settled["sig"]["pid"]
    assert lines_of(shared.ctl("kill", "sig", "USR1")) == ["sig: sent SIGUSR1"]
    wait_until(lambda: got("SIGUSR1") == {"child", "grandchild"}, what="SIGUSR1 in the whole group")
    assert shared.json("kill", "sig", "12") == {"name": "sig", "signal": "SIGUSR2"}
    wait_until(lambda: got("SIGUSR2") == {"child", "grandchild"}, what="signal 12 in the whole group")
    # TERM by default; sigprint lives on, so the service is the same process
    assert lines_of(shared.ctl("kill", "sig")) == ["sig: sent SIGTERM"]
    wait_until(lambda: got("SIGTERM") == {"child", "grandchild"}, what="SIGTERM in the whole group")
    assert shared.status("sig")["pid"] == pid

    one_line_error(shared.ctl("kill", "sig", "BOGUS"), 1, "bad signal BOGUS")
    one_line_error(shared.ctl("kill", "unstarted"), 1, "unstarted: not running")


# -- logs ----------------------------------------------------------------------------

TICK = re.compile(r"^ticker \| tick (\d+)$")


def test_logs_gives_the_last_n_lines_of_the_named_services(shared):
    out = wait_until(lambda: (lambda out: len(out) == 3 and out)(
        lines_of(shared.ctl("logs", "-n", "3", "ticker"))), what="three lines of ticker")
    numbers = [int(TICK.match(line).group(1)) for line in out]
    assert numbers == list(range(numbers[0], numbers[0] + 3))

    assert lines_of(shared.ctl("logs", "flaky")) == ["flaky | bye"]
    assert sorted(lines_of(shared.ctl("logs", "flaky", "setup"))) == ["flaky | bye", "setup | set up"]
    mixed = lines_of(shared.ctl("logs", "-n", "6", "ticker", "chatter"))
    assert len(mixed) == 6 and all(re.match(r"^(ticker \| tick|chatter \| chat) \d+$", line)
                                   for line in mixed)
    everything = lines_of(shared.ctl("logs", "-n", "2000"))
    assert "flaky | bye" in everything and "setup | set up" in everything
    assert lines_of(shared.ctl("logs", "-n", "0")) == []

    before = time.time()
    records = [json.loads(line) for line in lines_of(shared.ctl("--json", "logs", "-n", "2", "ticker"))]
    pid = shared.settled["ticker"]["pid"]
    assert [(r["name"], r["stream"], r["pid"]) for r in records] == [("ticker", "stdout", pid)] * 2
    assert all(r["line"].startswith("tick ") and before - 60 < r["time"] <= time.time()
               for r in records)


def _read_lines(proc, count, timeout=20):
    out = []
    for _ in range(count):
        line = read_line(proc.stdout, timeout)
        assert line, "the client ended early: %r" % proc.stderr.read()
        out.append(line.rstrip("\n"))
    return out


def test_logs_follow_prints_every_new_line_as_it_comes(shared):
    human = shared.follow("logs", "-f", "-n", "1", "ticker")
    machine = shared.follow("--json", "logs", "-f", "-n", "1", "ticker")
    try:
        # the first line is the one from the ring: after it, every new one
        out = _read_lines(human, 6)
        numbers = [int(TICK.match(line).group(1)) for line in out]
        assert numbers == list(range(numbers[0], numbers[0] + 6))
        records = [json.loads(line) for line in _read_lines(machine, 6)]
        assert {r["name"] for r in records} == {"ticker"}
        numbers = [int(r["line"].split()[1]) for r in records]
        assert numbers == list(range(numbers[0], numbers[0] + 6))
    finally:
        for proc in (human, machine):
            proc.kill()
            proc.wait()


# -- why, tree -----------------------------------------------------------------------

def test_why_names_the_dependency_a_service_waits_for(shared):
    out = lines_of(shared.ctl("why", "dep"))
    assert re.match(r"^dep: waiting for %s: waiting for base$" % DURATION, out[0]), out
    assert out[1:] == ["waiting for: base (stopped)"]
    answer = shared.json("why", "dep")
    assert (answer["name"], answer["state"], answer["waiting_for"]) == ("dep", "waiting",
                                                                        ["base (stopped)"])
    assert "last_exit" not in answer

    assert lines_of(shared.ctl("start", "base")) == ["base: running"]
    shared.wait_state("dep", "running")
    out = lines_of(shared.ctl("why", "dep"))
    assert len(out) == 1 and re.match(r"^dep: running for %s: " % DURATION, out[0]), out
    assert shared.json("why", "dep")["waiting_for"] == []


def test_why_gives_the_last_exit(shared):
    out = lines_of(shared.ctl("why", "flaky"))
    assert re.match(r"^flaky: failed for %s: exit code 3$" % DURATION, out[0]), out
    assert re.match(r"^last exit: exit code 3 after \d+s$", out[1]), out
    answer = shared.json("why", "flaky")
    assert (answer["state"], answer["why"], answer["waiting_for"]) == ("failed", "exit code 3", [])
    exit_ = answer["last_exit"]
    assert (exit_["how"], exit_["code"], exit_["text"]) == ("exit", 3, "exit code 3")


def test_tree_draws_the_dependencies_with_their_states(shared):
    out = lines_of(shared.ctl("tree"))
    start = out.index("front (running)")
    assert out[start:start + 4] == [
        "front (running)",
        "├─ mid (running)",
        "│  └─ back (running)",
        "└─ cache (running)"]
    # those that something needs are drawn under it, not at the top
    tops = [line for line in out if not line.startswith(("├", "│", "└", " "))]
    assert "mid (running)" not in tops and "quiet (running)" in tops
    services = {s["name"]: s for s in shared.json("tree")["services"]}
    assert sorted(services) == sorted(SHARED_NAMES)
    assert services["front"] == {"name": "front", "state": "running", "after": ["mid", "cache"]}


# -- events --------------------------------------------------------------------------

def test_events_follows_state_changes(shared):
    pid = shared.settled["evented"]["pid"]
    human = shared.follow("events")
    machine = shared.follow("--json", "events")
    try:
        # the clients print nothing before the first event: make some (to
        # another service) until both print, then they follow for certain
        def printing():
            assert lines_of(shared.ctl("restart", "trigger")) == ["trigger: running"]
            return all(select.select([p.stdout], [], [], 1.0)[0] for p in (human, machine))
        wait_until(printing, what="both event clients to print")
        before = time.time()
        assert lines_of(shared.ctl("restart", "evented")) == ["evented: running"]
        after = shared.status("evented")["pid"]

        def evented(proc, count, pick):
            found = []
            while len(found) < count:
                line = _read_lines(proc, 1)[0]
                if pick(line):
                    found.append(line)
            return found

        out = evented(human, 4, lambda line: " evented: " in line)
        assert [re.sub(r"^\d\d:\d\d:\d\d ", "", line) for line in out] == [
            "evented: running -> stopping (stop requested)",
            "evented: stopping -> stopped (stop requested)",
            "evented: stopped -> starting (started)",
            "evented: starting -> running (ready: started)"]
        events = [json.loads(line) for line in
                  evented(machine, 4, lambda line: json.loads(line)["service"] == "evented")]
        assert [(e["previous"], e["state"], e.get("pid")) for e in events] == [
            ("running", "stopping", pid), ("stopping", "stopped", None),
            ("stopped", "starting", after), ("starting", "running", after)]
        assert all(before - 1 <= e["time"] <= time.time() + 1 for e in events)
    finally:
        for proc in (human, machine):
            proc.kill()
            proc.wait()


# -- reload --------------------------------------------------------------------------

def test_reload_dry_run_of_an_unchanged_policy_would_keep_everything(shared):
    plan = shared.json("reload", "--dry-run")
    assert plan == {"dry_run": True, "unchanged": SHARED_NAMES, "added": [], "changed": [],
                    "removed": []}
    assert lines_of(shared.ctl("reload", "--dry-run")) == ["would keep: " + ", ".join(SHARED_NAMES)]


# -- health, ready -------------------------------------------------------------------

def _exits(policy, code, *args):
    """The result of `ctl ARGS` once it exits with code."""
    return wait_until(lambda: (lambda r: r.returncode == code and r)(policy.ctl(*args)),
                      what="`luasup ctl %s` to exit %d" % (" ".join(args), code))


def test_health_follows_the_critical_service(vitals):
    assert _exits(vitals, 0, "health").stdout == "healthy\n"
    assert vitals.json("health") == {"healthy": True, "problems": []}

    # its health check fails: unhealthy, and the reason is the check's
    open(vitals.path("SICK"), "w").close()
    line = one_line_error(_exits(vitals, 1, "health"), 1)
    assert line.startswith("luasup ctl: app: unhealthy (") and "sick file" in line, line
    os.unlink(vitals.path("SICK"))
    assert _exits(vitals, 0, "health").stdout == "healthy\n"

    # it fails and is restarted, again and again while DOWN exists
    open(vitals.path("DOWN"), "w").close()
    assert lines_of(vitals.ctl("kill", "app", "KILL")) == ["app: sent SIGKILL"]
    line = one_line_error(_exits(vitals, 1, "health"), 1)
    assert re.match(r"^luasup ctl: app: (backoff|starting) \(.+\)$", line), line
    result = vitals.ctl("--json", "health")
    assert result.returncode == 1
    answer = json.loads(result.stdout)
    assert answer["healthy"] is False and answer["problems"][0].startswith("app: ")
    os.unlink(vitals.path("DOWN"))
    assert _exits(vitals, 0, "health").stdout == "healthy\n"


def test_ready_once_every_service_is_ready(vitals):
    vitals.wait_state("app", "running")
    result = vitals.ctl("ready")
    assert result.returncode == 1 and result.stdout == ""
    err = result.stderr.splitlines()
    assert all(line.startswith("luasup ctl: ") for line in err)
    assert [line for line in err if line.startswith("luasup ctl: slow: ")] == [
        "luasup ctl: slow: starting (not ready: probe failed)"]
    result = vitals.ctl("--json", "ready")
    assert result.returncode == 1
    assert json.loads(result.stdout)["ready"] is False

    open(vitals.path("READY"), "w").close()
    assert _exits(vitals, 0, "ready").stdout == "ready\n"
    assert vitals.json("ready") == {"ready": True, "waiting": []}


# -- eval ----------------------------------------------------------------------------

def test_eval_is_refused_unless_the_policy_enables_it(shared):
    one_line_error(shared.ctl("eval", "1 + 1"), 3,
                   "luasup ctl: permission denied: the policy does not enable eval")


def test_eval_runs_lua_inside_the_policy(evaluating):
    evaluating.wait_state("beat", "running")
    assert lines_of(evaluating.ctl("eval", "1 + 1")) == ["2"]
    assert lines_of(evaluating.ctl("eval", "return sup.status('beat').state, 'x', nil")) == [
        "running\tx\tnil"]
    assert lines_of(evaluating.ctl("eval", "local x = 1")) == []
    assert evaluating.json("eval", "6 * 7") == {"values": ["42"]}


def test_eval_errors_come_back_as_text(evaluating):
    line = one_line_error(evaluating.ctl("eval", "local = 1"), 1)
    assert line.startswith("luasup ctl: eval:1: ") and "near" in line, line

    result = evaluating.ctl("eval", "local function f() error('boom') end f()")
    assert result.returncode == 1 and result.stdout == ""
    err = result.stderr.splitlines()
    assert err[:2] == ["luasup ctl: eval:1: boom", "stack traceback:"], result.stderr
    assert any("in function 'f'" in line for line in err[2:]), result.stderr
    assert "Traceback" not in result.stderr
    # an expression's error has its position too
    err = evaluating.ctl("eval", "error('bang')").stderr.splitlines()
    assert err[:2] == ["luasup ctl: eval:1: bang", "stack traceback:"], err


def test_a_runaway_eval_is_interrupted_while_luasup_goes_on_supervising(evaluating):
    pid = evaluating.wait_state("beat", "running")["pid"]
    mark = evaluating.path("looping")
    runaway = evaluating.follow("eval", "io.open(%r, 'w'):close() while true do end" % mark)
    try:
        wait_until(lambda: os.path.exists(mark), what="the eval to loop")
        os.kill(pid, 9)  # an exit for luasup to handle while the eval runs
        out, err = (text.decode() for text in runaway.communicate(timeout=30))
    finally:
        runaway.kill()
        runaway.wait()
    assert runaway.returncode == 1 and out == ""
    assert err.startswith("luasup ctl: eval:1: interrupted: ran for more than "), err
    again = wait_until(lambda: (lambda st: st["state"] == "running" and st["pid"] != pid and st)(
        evaluating.status("beat")), what="beat restarted")
    assert again["restarts"] >= 1 and again["last_exit"]["text"] == "signal SIGKILL"
    assert lines_of(evaluating.ctl("eval", "'still' .. ' here'")) == ["still here"]


def test_logs_without_a_ring_fails_with_exit_1(evaluating):
    one_line_error(evaluating.ctl("logs"), 1, "luasup ctl: no ring buffer: the policy declares no logs.ring")


# -- exit codes 2 and 3 ----------------------------------------------------------------

@pytest.mark.parametrize("args", [
    [], ["bogus"], ["status"], ["logs", "-n", "-1"], ["--timeout", "soon", "list"],
], ids=lambda args: " ".join(args) or "nothing")
def test_usage_errors_exit_2_before_connecting(tmp_path, args):
    line = one_line_error(ctl(str(tmp_path / "none.sock"), *args), 2)
    assert "see luasup ctl --help" in line


def test_help_exits_0(tmp_path):
    result = ctl(str(tmp_path / "none.sock"), "--help")
    assert result.returncode == 0 and "health" in result.stdout and result.stderr == ""


def test_no_luasup_at_the_path_exits_3(tmp_path):
    missing = str(tmp_path / "none.sock")
    one_line_error(ctl(missing, "list"), 3, "luasup ctl: cannot reach luasup at %s: " % missing)

    # a socket file no one listens on
    dead = str(tmp_path / "dead.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(dead)
    s.close()
    one_line_error(ctl(dead, "health"), 3, "luasup ctl: cannot reach luasup at %s: " % dead)

    plain = tmp_path / "plain"
    plain.write_text("not a socket")
    one_line_error(ctl(str(plain), "ready"), 3, "luasup ctl: cannot reach luasup at %s: " % plain)


def test_a_luasup_that_does_not_answer_is_given_up_at_the_timeout(tmp_path):
    path = str(tmp_path / "mute.sock")
    mute = socket.socket(socket.AF_UNIX)
    mute.bind(path)
    mute.listen(1)  # connections wait in the backlog, unanswered
    try:
        one_line_error(ctl(path, "--timeout", "0.5", "list"), 3,
                       "luasup ctl: no answer from luasup at %s within 0.5 s" % path)
    finally:
        mute.close()
