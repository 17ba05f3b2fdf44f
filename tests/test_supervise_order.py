"""supervise: dependencies. A service starts once everything it is `after`
is ready (services) or done (oneshots), independent ones at once; unknown
names and cycles stop luasup before anything starts; a failed oneshot
blocks its dependents and, being critical, ends the container."""

import os
import signal

import pytest

from helpers import LOOPS, read_line, run, start, stop, wait_until
from helpers.records import fake, read_records, started
from helpers.supervision import state_lines

# 20 services in four layers; each one after two of the layer before it
WIDTHS = [8, 6, 4, 2]
LAYERS = [["s%d%d" % (k, i) for i in range(width)] for k, width in enumerate(WIDTHS)]


def deps_of(k, i):
    return [] if k == 0 else [LAYERS[k - 1][i], LAYERS[k - 1][i + 1]]


def layered_script(records, gates):
    lines = ["local sup = require('supervise')",
             # a layer's services are ready only once the test opens its gate
             "local function gate(path) return function()",
             "    local f = io.open(path); if f then f:close() return true end",
             "    return nil, 'gate closed' end end"]
    for k, layer in enumerate(LAYERS):
        for i, name in enumerate(layer):
            after = ", ".join("'%s'" % d for d in deps_of(k, i))
            lines.append("sup.service('%s', {cmd = %s, after = {%s}, ready = {probe = gate('%s'),"
                         " every = 0.05}})" % (name, fake(name, records), after, gates[k]))
    lines += ["local running = 0",
              "sup.on('state', function(ev)",
              "    if ev.state == 'running' then running = running + 1 end",
              "    if running == %d then print('all running') end" % sum(WIDTHS),
              "end)",
              "return sup.run()"]
    return "\n".join(lines)


@pytest.mark.parametrize("loop", LOOPS)
def test_twenty_services_start_in_dependency_order_each_layer_at_once(tmp_path, loop):
    records = tmp_path / "records"
    gates = [str(tmp_path / ("gate%d" % k)) for k in range(len(LAYERS))]
    proc = start(["-e", layered_script(records, gates)], loop=loop)
    try:
        for k, layer in enumerate(LAYERS):
            # the whole layer runs while none of it is ready: started at once,
            # not one after another's readiness; nothing later has started
            wait_until(lambda: set(layer) <= started(records), what="layer %d started" % k)
            later = {name for layer_after in LAYERS[k + 1:] for name in layer_after}
            assert started(records) & later == set()
            open(gates[k], "w").close()
        assert read_line(proc.stdout) == "all running\n"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
    finally:
        stop(proc)
    # luasup's own account agrees: each service starts after its
    # dependencies are running
    index = {(svc, state): n for n, (svc, state, _) in enumerate(state_lines(proc.stderr.read()))}
    for k, layer in enumerate(LAYERS):
        for i, name in enumerate(layer):
            for dep in deps_of(k, i):
                assert index[(dep, "running")] < index[(name, "starting")], (dep, name)
    events = sorted((r.name, r.event) for r in read_records(records))
    assert events == sorted((name, event) for layer in LAYERS for name in layer
                            for event in ("start", "term", "exit"))


def test_a_dependent_of_a_oneshot_starts_once_it_has_exited_0(tmp_path):
    records = tmp_path / "records"
    script = """
        local sup = require('supervise')
        sup.oneshot('migrate', {cmd = %s})
        sup.service('api', {cmd = %s, after = 'migrate', ready = sup.output('^up$')})
        sup.on('state', function(ev)
            if ev.service == 'api' and ev.state == 'running' then sup.shutdown(0) end
        end)
        return sup.run()
    """ % (fake("migrate", records, "--exit", 0, "--run", 0.3), fake("api", records, "--say", "up"))
    result = run(["-e", script])
    assert result.returncode == 0, result.stderr
    assert [(r.name, r.event) for r in read_records(records)] == [
        ("migrate", "start"), ("migrate", "exit"), ("api", "start"), ("api", "term"), ("api", "exit")]
    assert ("api", "waiting", "for migrate") in state_lines(result.stderr)
    assert [(svc, state) for svc, state, _ in state_lines(result.stderr)
            if svc == "migrate" or state == "starting"] == [
        ("migrate", "starting"), ("migrate", "done"), ("api", "starting")]


def test_a_failed_oneshot_blocks_its_dependents_and_stops_the_container_with_its_code(tmp_path):
    records = tmp_path / "records"
    script = """
        local sup = require('supervise')
        sup.oneshot('migrate', {cmd = %s, restart = 'on-failure', backoff = {initial = 0},
                                limit = {burst = 1, within = 60}})
        sup.service('api', {cmd = %s, after = 'migrate'})
        sup.service('worker', {cmd = %s, after = 'api'})
        sup.service('cache', {cmd = %s})
        return sup.run()
    """ % (fake("migrate", records, "--exit", 3), fake("api", records),
           fake("worker", records), fake("cache", records))
    result = run(["-e", script])
    assert result.returncode == 3, result.stderr
    events = [(r.name, r.event) for r in read_records(records)]
    assert events.count(("migrate", "start")) == 2  # its one retry, then it gave up
    assert not {"api", "worker"} & {name for name, _ in events}
    assert ("cache", "term") in events  # the rest is stopped
    assert ("luasup: warning: service migrate: failed: 2 exits within 60 s; last: exit code 3"
            in result.stderr.splitlines())
    assert "luasup: supervise: stopping all services (service migrate failed)" in result.stderr


def test_a_dependent_of_a_failed_service_never_starts_and_run_ends_with_its_code(tmp_path):
    records = tmp_path / "records"
    script = """
        local sup = require('supervise')
        sup.service('db', {cmd = %s, critical = false, limit = {burst = 0, within = 60}, ready = 5})
        sup.service('api', {cmd = %s, after = 'db'})
        return sup.run()
    """ % (fake("db", records, "--exit", 4), fake("api", records))
    result = run(["-e", script])
    assert result.returncode == 4, result.stderr
    assert [(r.name, r.event) for r in read_records(records)] == [("db", "start"), ("db", "exit")]
    assert [(state, rest) for svc, state, rest in state_lines(result.stderr) if svc == "api"] == [
        ("waiting", "for db"), ("stopped", "")]


def test_a_waiting_service_says_what_it_waits_for():
    script = """
        local sup = require('supervise')
        sup.service('db', {cmd = {'sleep', 30}, ready = function() return nil, 'not yet' end})
        sup.service('api', {cmd = {'sleep', 30}, after = {'db'}})
        sup.on('state', function(ev)
            if ev.service == 'db' and ev.state == 'starting' then
                local s = sup.status('api')
                print(s.state, s.why, s.pid)
                sup.shutdown(0)
            end
        end)
        return sup.run()
    """
    result = run(["-e", script])
    assert (result.returncode, result.stdout) == (0, "waiting\twaiting for db\tnil\n")


@pytest.mark.parametrize("graph, message", [
    ("sup.service('api', {cmd = {'true'}, after = {'db'}})",
     "service api: unknown dependency 'db'"),
    ("""sup.service('web', {cmd = {'true'}})
        sup.service('a', {cmd = {'true'}, after = {'c'}})
        sup.service('b', {cmd = {'true'}, after = {'a', 'web'}})
        sup.service('c', {cmd = {'true'}, after = {'web', 'b'}})""",
     "dependency cycle: a -> c -> b -> a"),
    ("sup.oneshot('self', {cmd = {'true'}, after = 'self'})",
     "dependency cycle: self -> self"),
], ids=["unknown", "cycle", "self"])
def test_unknown_dependencies_and_cycles_exit_2_before_anything_starts(tmp_path, graph, message):
    marker = tmp_path / "ran"
    script = """
        local sup = require('supervise')
        sup.oneshot('first', {cmd = {'touch', '%s'}})
        %s
        print('run returned', sup.run())
    """ % (marker, graph)
    result = run(["-e", script])
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "luasup: error: supervise: %s\n" % message
    assert not os.path.exists(marker)


def test_a_dependent_waits_through_its_dependency_s_restarts(tmp_path):
    tried = tmp_path / "tried"
    # db crashes on its first run, before it is ready; its second run works
    script = """
        local sup = require('supervise')
        sup.service('db', {cmd = {'sh', '-c', 'if [ -e %s ]; then echo up; exec sleep 30; fi; touch %s; exit 1'},
                           ready = sup.output('up'), backoff = {initial = 0}})
        sup.service('api', {cmd = {'sleep', 30}, after = 'db'})
        sup.on('state', function(ev)
            if ev.service == 'api' and ev.state == 'running' then sup.shutdown(0) end
        end)
        return sup.run()
    """ % (tried, tried)
    result = run(["-e", script])
    assert result.returncode == 0, result.stderr
    lines = [(svc, state) for svc, state, _ in state_lines(result.stderr)]
    assert lines.index(("db", "backoff")) < lines.index(("db", "running")) < lines.index(
        ("api", "starting"))
    assert lines.count(("api", "starting")) == 1
