"""supervise: health probes. They start after readiness (and its initial
delay); `failures` consecutive failures stop the service, `successes` in a
row clear earlier failures; a hung probe is cut off at its timeout, and no
probe holds up another one or the event loop."""

import pytest

from helpers import LOOPS, run
from helpers.servers import full_backlog, http_server, silent_server
from helpers.supervision import state_lines, states

# A service that stops for good after its health check fails, so that
# sup.run() ends with it.
ONCE = "cmd = {'sleep', 30}, restart = 'never', critical = false"


# results: s (passes) or f (fails) for each probe in turn, f after the end
@pytest.mark.parametrize("results, failures, successes, stopped_at, recovers", [
    ("", 3, 1, 3, False),          # three failures in a row: stopped at the third, not before
    ("ffsff", 3, 1, 6, True),      # a success clears the count
    ("ffsf", 3, 2, 4, False),      # one success of the two asked for does not
    ("ffssff", 3, 2, 7, True),     # two do
    ("sssss", 1, 1, 6, False),     # the first failure when the threshold is 1
], ids=["threshold", "reset", "partial-reset", "two-successes", "threshold-1"])
def test_the_service_is_stopped_at_exactly_the_failure_threshold(results, failures, successes,
                                                                 stopped_at, recovers):
    script = """
        local sup = require('supervise')
        local results, n = %r, 0
        sup.service('api', {%s, health = {every = 0.02, failures = %d, successes = %d,
            probe = function()
                n = n + 1
                print('probe ' .. n)
                if results:sub(n, n) == 's' then return true end
                return nil, 'down at ' .. n
            end}})
        return sup.run()
    """ % (results, ONCE, failures, successes)
    result = run(["-e", script])
    # no probe after the one that reached the threshold
    assert result.stdout.splitlines() == ["probe %d" % i for i in range(1, stopped_at + 1)]
    err = result.stderr.splitlines()
    stopping = [rest for _, state, rest in state_lines(result.stderr) if state == "stopping"]
    assert len(stopping) == 1 and stopping[0].endswith("health check failed %s: down at %d" % (
        "1 time" if failures == 1 else "%d times" % failures, stopped_at))
    counted = [line for line in err if "health check failed (" in line]
    assert counted[-1] == ("luasup: warning: service api: health check failed (%d of %d): down at %d"
                           % (failures, failures, stopped_at))
    assert ("luasup: service api: healthy again (probe passed)" in err) == recovers


def test_probes_start_after_readiness_and_the_initial_delay():
    script = """
        local sup = require('supervise')
        sup.service('api', {%s, ready = 0.2, health = {initial_delay = 0.5, every = 0.02,
            probe = function()
                local s = sup.status('api')
                print(s.state, init.now() - s.since >= 0.5)
                sup.shutdown(0)
                return true
            end}})
        return sup.run()
    """ % ONCE
    result = run(["-e", "init = require('init')\n" + script])
    assert (result.returncode, result.stdout) == (0, "running\ttrue\n"), result.stderr


@pytest.mark.parametrize("kind", ["function", "command", "http", "tcp"])
def test_a_hung_probe_is_cut_off_at_its_timeout(kind):
    with silent_server() as silent, full_backlog() as full:
        probe, why = {
            "function": ("function() init.sleep(3600) return true end", "no answer within 0.3 s"),
            "command": ("sup.command{'sleep', 3600}", "sleep timed out after 0.3 s"),
            "http": ("sup.http('http://127.0.0.1:%d/')" % silent, "no answer within 0.3 s"),
            "tcp": ("sup.tcp('127.0.0.1', %d)" % full, "no answer within 0.3 s"),
        }[kind]
        script = """
            local init, sup = require('init'), require('supervise')
            sup.service('api', {%s, health = {probe = %s, timeout = 0.3, every = 0.05,
                                               failures = 2}})
            return sup.run()
        """ % (ONCE, probe)
        result = run(["-e", script], pidns=True)
    assert ("luasup: warning: service api: health check failed (2 of 2): " + why
            in result.stderr.splitlines()), result.stderr
    assert state_lines(result.stderr)[-1] == ("api", "failed", "health check failed 2 times: " + why)


@pytest.mark.parametrize("loop", LOOPS)
def test_probes_never_block_each_other_or_the_loop(loop):
    # two services whose probes hang for 2 s each, one whose probe answers
    # at once every 0.1 s, and a timer: all of them keep going meanwhile
    with silent_server() as silent:
        script = """
            local init, sup = require('init'), require('supervise')
            sup.service('slow_http', {%s, health = {timeout = 2, every = 0.1, failures = 1,
                probe = function()
                    print('slow_http probe')
                    return init.http_get('http://127.0.0.1:%d/', {timeout = 60})
                end}})
            sup.service('slow_command', {%s, health = {timeout = 2, every = 0.1, failures = 1,
                probe = sup.command{'sh', '-c', 'echo slow_command probe; sleep 60',
                                    stdout = 'inherit'}}})
            sup.service('fast', {%s, health = {every = 0.1,
                probe = function() print('fast probe') return true end}})
            init.every(0.05, function() print('tick') end)
            sup.on('state', function(ev)
                if ev.state == 'stopping' then print(ev.service .. ' stopping') end
                if sup.status('slow_http').state == 'failed'
                        and sup.status('slow_command').state == 'failed' then
                    sup.shutdown(0)
                end
            end)
            return sup.run()
        """ % (ONCE, silent, ONCE, ONCE)
        result = run(["-e", script], pidns=True, loop=loop)
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    hung = max(out.index("slow_http probe"), out.index("slow_command probe"))
    cut = min(out.index("slow_http stopping"), out.index("slow_command stopping"))
    # while both probes hung, the fast one and the timer went on
    assert out[hung:cut].count("fast probe") >= 5, out
    assert out[hung:cut].count("tick") >= 10, out


@pytest.mark.parametrize("which", ["ready", "health"])
def test_a_stopped_service_leaves_no_probe_running(tmp_path, which):
    mark = tmp_path / "probing"
    script = """
        local init, sup = require('init'), require('supervise')
        sup.service('api', {cmd = {'sleep', 30}, %s = {timeout = 30,
            probe = sup.command{'sh', '-c', 'touch %s; exec sleep 60'}}})
        init.spawn(function()
            while not io.open('%s') do init.sleep(0.02) end
            sup.stop('api')
            print(#init.children())
            sup.shutdown(0)
        end)
        return sup.run()
    """ % (which, mark, mark)
    result = run(["-e", script], pidns=True)
    assert (result.returncode, result.stdout) == (0, "0\n"), result.stderr
    assert "still running" not in result.stderr


def test_health_restarts_count_toward_the_crash_loop_limit():
    script = """
        local sup = require('supervise')
        sup.service('api', {cmd = {'sleep', 30}, critical = false, backoff = {initial = 0},
                            limit = {burst = 1, within = 60},
                            health = {every = 0.05, failures = 1,
                                      probe = function() return nil, 'sick' end}})
        return sup.run()
    """
    result = run(["-e", script])
    assert states(result.stderr, "api").count("starting") == 2
    assert state_lines(result.stderr)[-1] == (
        "api", "failed", "2 exits within 60 s; last: health check failed 1 time: sick")
    assert result.returncode == 1


def test_an_http_probe_passes_on_a_redirect_and_fails_on_a_client_error():
    # Kubernetes' rule for httpGet: 200-399 passes
    with http_server() as base:
        script = """
            local sup = require('supervise')
            sup.service('ok', {cmd = {'sleep', 30}, ready = sup.http('%s/redirect')})
            sup.service('bad', {%s, after = 'ok', health = {probe = sup.http('%s/missing'),
                                                            every = 0.05, failures = 1}})
            sup.on('state', function(ev)
                if ev.state == 'failed' then sup.shutdown(0) end
            end)
            return sup.run()
        """ % (base, ONCE, base)
        result = run(["-e", script])
    assert result.returncode == 0, result.stderr
    assert states(result.stderr, "ok")[:2] == ["starting", "running"]
    assert ("luasup: warning: service bad: health check failed (1 of 1): HTTP 404"
            in result.stderr.splitlines())
    assert states(result.stderr, "bad")[-2:] == ["stopping", "failed"]
