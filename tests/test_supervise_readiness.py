"""supervise: readiness. A service is `running`, and its dependents start,
only once its ready probe passes — a delay, sd_notify READY=1, a TCP
connect, an HTTP 2xx/3xx, a command exiting 0, or a line of its output
matching a pattern — and a start that is not ready by the deadline counts
as a failed start."""

import re
import signal

import pytest

from helpers import run, start, stop, wait_until
from helpers.records import fake, first, free_port, read_records, started
from helpers.supervision import read_until, state_lines, states

# prints api's state and why whenever they change, so the test can see a
# probe fail before it lets the service become ready
WATCH = """
    local init = require('init')
    local seen
    init.every(0.05, function()
        local s = sup.status('api')
        local line = s.state .. ': ' .. tostring(s.why)
        if line ~= seen then seen = line; print(line) end
    end)
"""


def probe_cases(gate, port):
    """kind -> (the fake api's options, its `ready`, the why while not ready
    (a pattern, None when the probe tells nothing), the why once ready, the
    line it says, where that line shows up)."""
    return {
        "tcp": (["--tcp", port], "sup.tcp('127.0.0.1', %d)" % port,
                r"not ready: .*refused", "ready: port %d open" % port, None),
        "http": (["--http", port], "sup.http('http://127.0.0.1:%d/ready')" % port,
                 "not ready: HTTP 503", "ready: HTTP 200", None),
        "command": ([], "{probe = sup.command{'test', '-e', '%s'}, every = 0.1}" % gate,
                    "not ready: test exited 1", "ready: test exited 0", None),
        "notify": (["--notify"], "sup.notify()", None, "ready: READY=1", None),
        "stdout": (["--say", "listening on 8080"], "sup.output('^listening on %d+$')", None,
                   'ready: output matching "^listening on %d+$"', ("stdout", "listening on 8080")),
        "stderr": (["--say", "listening", "--stderr"], "sup.output('listen', 'stderr')", None,
                   'ready: output matching "listen"', ("stderr", "listening")),
        "prefixed": (["--say", "listening", "--stderr"], "sup.output('^listening')", None,
                     'ready: output matching "^listening"', ("stderr", "[api] listening")),
    }


@pytest.mark.parametrize("kind", ["tcp", "http", "command", "notify", "stdout", "stderr",
                                  "prefixed"])
def test_a_dependent_starts_only_once_the_service_is_ready(tmp_path, kind):
    records, gate, port = tmp_path / "records", str(tmp_path / "gate"), free_port()
    options, ready, waiting_why, ready_why, said = probe_cases(gate, port)[kind]
    extra = ", prefix = '[api] '" if kind == "prefixed" else ""
    script = """
        local sup = require('supervise')
        sup.service('api', {cmd = %s, ready = %s%s})
        sup.service('client', {cmd = %s, after = 'api'})
        %s
        return sup.run()
    """ % (fake("api", records, "--gate", gate, *options), ready, extra,
           fake("client", records), WATCH)
    proc = start(["-e", script])
    try:
        wait_until(lambda: "api" in started(records), what="api started")
        if waiting_why:
            read_until(proc.stdout, lambda line: re.fullmatch("starting: " + waiting_why, line))
        assert "client" not in started(records)
        with open(records, "a") as f:
            f.write("test gate 0 0\n")
        open(gate, "w").close()
        wait_until(lambda: "client" in started(records), what="client started")
        out = read_until(proc.stdout, lambda line: line == "running: " + ready_why)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
    finally:
        stop(proc)
    got = read_records(records)
    assert got.index(first(got, "test", "gate")) < got.index(first(got, "client", "start"))
    if said:
        stream, text = said
        shown = out + proc.stdout.read().splitlines() if stream == "stdout" else (
            proc.stderr.read().splitlines())
        assert text in shown  # the output is still shown


def test_a_delay_makes_dependents_wait_that_long():
    script = """
        local sup = require('supervise')
        sup.service('api', {cmd = {'sleep', 30}, ready = 0.5})
        sup.service('client', {cmd = {'sleep', 30}, after = 'api'})
        local started = {}
        sup.on('state', function(ev)
            if ev.state == 'starting' then started[ev.service] = ev.time end
            if ev.service == 'client' and ev.state == 'starting' then
                print(sup.status('api').state, started.client - started.api >= 0.5)
                sup.shutdown(0)
            end
        end)
        return sup.run()
    """
    result = run(["-e", script])
    assert (result.returncode, result.stdout) == (0, "running\ttrue\n"), result.stderr
    lines = [(svc, state) for svc, state, _ in state_lines(result.stderr)]
    assert lines.index(("api", "running")) < lines.index(("client", "starting"))


@pytest.mark.parametrize("probe, cmd", [
    ("sup.command{'false'}", "sleep 30"),
    ("sup.notify()", "sleep 30"),
    ("sup.output('ready', 'stderr')", "echo ready; exec sleep 30"),  # not on the stream watched
], ids=["command", "notify", "output"])
def test_a_service_not_ready_by_its_deadline_is_a_failed_start(probe, cmd):
    script = """
        local sup = require('supervise')
        sup.service('api', {cmd = {'sh', '-c', '%s'}, ready = {probe = %s, every = 0.1, deadline = 0.5},
                            backoff = {initial = 0}, limit = {burst = 1, within = 60}})
        sup.service('client', {cmd = {'sleep', 30}, after = 'api'})
        return sup.run()
    """ % (cmd, probe)
    result = run(["-e", script])
    assert result.returncode == 1, result.stderr  # a failure luasup caused: not its stop signal's 143
    # each start stopped at its deadline: two starts, then the limit
    lines = [(state, rest) for svc, state, rest in state_lines(result.stderr) if svc == "api"]
    assert [state for state, _ in lines if state != "backoff"] == [
        "starting", "stopping", "starting", "stopping", "failed"]
    # the deadline, and the last probe's reason when there was one
    assert all(re.search(r"\): not ready within 0\.5 s(: .+)?$", rest) for state, rest in lines
               if state == "stopping"), lines
    assert re.fullmatch(r"2 exits within 60 s; last: not ready within 0\.5 s(: .+)?", lines[-1][1])
    assert lines[-1][0] == "failed"
    assert states(result.stderr, "client") == ["waiting", "stopped"]


def test_a_hung_ready_probe_is_cut_off_at_its_timeout_and_tried_again():
    script = """
        local init, sup = require('init'), require('supervise')
        local calls = 0
        sup.service('api', {cmd = {'sleep', 30}, ready = {timeout = 0.3, every = 0.05, deadline = 30,
            probe = function()
                calls = calls + 1
                if calls == 1 then init.sleep(3600) end
                return true
            end}})
        sup.on('state', function(ev)
            if ev.state == 'running' then print(calls, ev.why) sup.shutdown(0) end
        end)
        return sup.run()
    """
    result = run(["-e", script], timeout=15)
    assert (result.returncode, result.stdout) == (0, "2\tready: probe passed\n"), result.stderr


def test_why_a_service_is_not_ready_is_logged_once_and_given_with_the_deadline():
    port = free_port()  # nobody listens there
    result = run(["-e", """
        local sup = require('supervise')
        sup.service('api', {cmd = {'sleep', 30}, restart = 'never',
                            ready = {probe = sup.tcp('127.0.0.1', %d), every = 0.05, deadline = 0.6}})
        return sup.run()
    """ % port])
    assert result.returncode == 1, result.stderr
    # a probe every 0.05 s, the same reason each time: one line
    assert result.stderr.count("luasup: service api: not ready yet: connection refused\n") == 1, result.stderr
    assert ("api", "failed", "not ready within 0.6 s: connection refused") in state_lines(result.stderr)
