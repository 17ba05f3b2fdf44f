"""supervise: runtime control from Lua — start, stop, restart, signal,
status, list, remove, and services added while running. Each script runs
its steps in a task beside sup.run() and prints what it sees."""

import re

import pytest

from helpers import env_for
from helpers.supervision import state_lines, states, sup_run

# `control(fn)`: run fn beside the services, then stop everything (exit 0,
# or 99 with the error). `until_state(name, state)`: wait for a state, with
# a deadline. `group(pid)`: whether that process group still has a process.
STEPS = """
    local function until_state(name, state)
        local deadline = init.now() + 20
        while (sup.status(name) or {}).state ~= state do
            assert(init.now() < deadline, name .. ' never got ' .. state)
            init.sleep(0.02)
        end
        return sup.status(name)
    end
    local function group(pid)
        return init.kill(-pid, 0) == 0
    end
    local function control(fn)
        init.spawn(function()
            local ok, err = xpcall(fn, debug.traceback)
            if not ok then print('ERROR', err) end
            sup.shutdown(ok and 0 or 99)
        end)
    end
"""

# A service whose process group has two processes.
PAIR = "{'sh', '-c', 'sleep 3600 & exec sleep 3600'}"


def control(body, *args, **kw):
    result = sup_run(STEPS + body + "\nreturn sup.run()", *args, **kw)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_stop_ends_the_whole_group_and_nothing_restarts_it_until_start():
    result = control("""
        sup.service('s', {cmd = %s, restart = 'always', backoff = {initial = 0}})
        sup.service('other', {cmd = {'sleep', '3600'}, restart = 'always'})
        control(function()
            local first = until_state('s', 'running')
            -- past the 1 s minimum interval, a restart would follow at once
            while init.now() - first.since < 1.1 do init.sleep(0.05) end
            print('stop', sup.stop('s'))
            local st = sup.status('s')
            print(st.state, st.pid, group(first.pid), st.why)
            -- a whole stop and start of another service: time for a restart of s to show
            assert(sup.stop('other')); assert(sup.start('other')); until_state('other', 'running')
            print(sup.status('s').state)
            print('start', sup.start('s'))
            local again = until_state('s', 'running')
            print(again.pid ~= first.pid, group(again.pid))
        end)
    """ % PAIR)
    assert result.stdout.splitlines() == [
        "stop\ttrue", "stopped\tnil\tfalse\tstop requested", "stopped", "start\ttrue",
        "true\ttrue"]
    assert states(result.stderr, "s")[:6] == ["starting", "running", "stopping", "stopped",
                                              "starting", "running"]
    assert re.search(r"luasup: service s: stopping \(pid \d+\): stop requested\n"
                     r"luasup: service s: stopped \(signal SIGTERM\)\n", result.stderr)


def test_start_and_stop_refuse_what_cannot_be_done():
    result = control("""
        print('before run', sup.start('s'))
        sup.service('s', {cmd = {'sleep', '3600'}})
        control(function()
            until_state('s', 'running')
            print('running', sup.start('s'))
            print('unknown', sup.start('nope'))
            print('unknown', sup.stop('nope'))
            print('unknown', sup.restart('nope'))
            print('unknown', sup.signal('nope', 'HUP'))
            print('unknown', sup.status('nope'))
            print('unknown', sup.remove('nope'))
            sup.stop('s')
            print('stopped', sup.signal('s', 'HUP'))
        end)
    """)
    assert result.stdout.splitlines() == [
        "before run\tnil\tno service 's'",
        "running\tnil\talready started",
        "unknown\tnil\tno service 'nope'",
        "unknown\tnil\tno service 'nope'",
        "unknown\tnil\tno service 'nope'",
        "unknown\tnil\tno service 'nope'",
        "unknown\tnil\tno service 'nope'",
        "unknown\tnil\tno service 'nope'",
        "stopped\tnil\tnot running"]


def test_start_is_refused_before_run_and_once_the_stop_has_begun():
    result = sup_run("""
        sup.service('s', {cmd = {'sleep', '3600'}})
        print('before', sup.start('s'))
        sup.on('state', function(ev)
            if ev.state == 'running' then sup.shutdown(0) end
            if ev.state == 'stopping' then print('during', sup.start('s')) end
        end)
        return sup.run()
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "before\tnil\tthe services are not running yet (sup.run)", "during\tnil\tshutting down"]


def test_restart_replaces_the_process_and_its_group():
    result = control("""
        sup.service('s', {cmd = %s})
        control(function()
            local first = until_state('s', 'running')
            print('restart', sup.restart('s'))
            local again = until_state('s', 'running')
            print(again.pid ~= first.pid, group(first.pid), group(again.pid))
        end)
    """ % PAIR)
    assert result.stdout.splitlines() == ["restart\ttrue", "true\tfalse\ttrue"]


# Traps HUP in the service's main process and in a child of it.
HUP_PAIR = """
trap 'echo group got HUP' HUP
sh -c "trap 'echo child got HUP' HUP; while :; do sleep 0.05; done" &
while :; do sleep 0.05; done
"""


def test_signal_reaches_the_service_s_process_group():
    result = control("""
        local heard = {}
        sup.service('s', {cmd = {'sh', '-c', [==[%s]==]},
                          stdout = function(line) heard[line] = true end})
        control(function()
            until_state('s', 'running')
            print('signal', sup.signal('s', 'HUP'))
            local deadline = init.now() + 20
            while init.now() < deadline and not (heard['group got HUP'] and heard['child got HUP']) do
                init.sleep(0.02)
            end
            print(heard['group got HUP'], heard['child got HUP'])
        end)
    """ % HUP_PAIR)
    assert result.stdout.splitlines() == ["signal\ttrue", "true\ttrue"]


def test_status_tells_state_why_pid_restarts_and_the_last_exit(tmp_path):
    result = control("""
        sup.oneshot('migrate', {cmd = {'true'}})
        sup.service('s', {cmd = {'sh', '-c', '[ -e "$0" ] || { touch "$0"; exit 3; }; exec sleep 3600', ...},
                          after = 'migrate', restart = 'on-failure', backoff = {initial = 0}})
        control(function()
            until_state('s', 'backoff')
            local st = until_state('s', 'running')
            print(st.name, st.kind, st.state, st.why, st.restarts, st.critical, table.concat(st.after, ','))
            print(st.last_exit.code, st.last_exit.text, st.last_exit.runtime >= 0, st.last_exit.runtime < 10)
            print(type(st.pid), st.since <= init.now(), init.now() - st.since < 10)
            local m = sup.status('migrate')
            print(m.kind, m.state, m.why, m.critical, m.pid, m.last_exit.code)
        end)
    """, tmp_path / "flag")
    lines = result.stdout.splitlines()
    assert lines[:4] == [
        "s\tservice\trunning\tready: started\t1\tfalse\tmigrate",
        "3\texit code 3\ttrue\ttrue",
        "number\ttrue\ttrue",
        "oneshot\tdone\texit code 0\ttrue\tnil\t0"]
    pids = re.findall(r"service s: running \(pid (\d+)\)", result.stderr)
    assert len(pids) == 2  # the status above was of the second run


def test_list_add_and_remove_while_running():
    result = control("""
        local function names()
            local out = {}
            for _, st in ipairs(sup.list()) do out[#out + 1] = st.name .. '=' .. st.state end
            return table.concat(out, ' ')
        end
        sup.service('db', {cmd = %s})
        sup.service('app', {cmd = {'sleep', '3600'}, after = 'db'})
        control(function()
            until_state('app', 'running')
            print(names())
            print(sup.service('cache', {cmd = {'sleep', '3600'}, after = 'db'}))
            until_state('cache', 'running')
            print(names())
            -- errors name the caller's line: keep the message alone
            print(select(2, pcall(sup.service, 'late', {cmd = {'true'}, after = 'nope'})):match(':%%d+: (.*)'))
            print(select(2, pcall(sup.service, 'app', {cmd = {'true'}})):match(':%%d+: (.*)'))
            print('remove db', sup.remove('db'))
            local db = sup.status('db').pid
            print('remove app', sup.remove('app'))
            print('remove cache', sup.remove('cache'))
            print(names(), sup.status('app'))
            print('remove db', sup.remove('db'))
            print(names() == '', group(db))
        end)
    """ % PAIR)
    assert result.stdout.splitlines() == [
        "db=running app=running",
        "cache",
        "db=running app=running cache=running",
        "bad argument #2 to 'service' (option 'after': no service 'nope')",
        "bad argument #1 to 'service' (a service named 'app' is already declared)",
        "remove db\tnil\tapp, cache depends on it",
        "remove app\ttrue",
        "remove cache\ttrue",
        "db=running\tnil\tno service 'app'",
        "remove db\ttrue",
        "true\tfalse"]
    assert states(result.stderr, "app")[-2:] == ["stopping", "stopped"]
    assert "service app: stopping (pid" in result.stderr and "): removed" in result.stderr


def test_stop_during_backoff_cancels_the_restart():
    result = control("""
        sup.service('b', {cmd = {'sh', '-c', 'echo run; exit 3'}, backoff = {initial = 0.3}})
        control(function()
            local st = until_state('b', 'backoff')
            print('stop', sup.stop('b'), sup.status('b').state)
            -- the restart was due at most 1 s after the start (the minimum interval)
            while init.now() < st.since + 1.5 do init.sleep(0.05) end
            print(sup.status('b').state)
        end)
    """)
    assert result.stdout.splitlines() == ["run", "stop\ttrue\tstopped", "stopped"]
    assert states(result.stderr, "b") == ["starting", "running", "backoff", "stopped"]


def test_a_critical_service_stopped_on_request_gets_its_stop_signal_and_ends_nothing():
    result = control("""
        sup.service('c', {cmd = {'sh', '-c', 'trap "echo got INT; exit 0" INT; while :; do sleep 0.05; done'},
                          critical = true, stop = 'INT'})
        sup.service('other', {cmd = {'sleep', '3600'}})
        control(function()
            until_state('c', 'running')
            print('stop', sup.stop('c'))
            print(sup.status('c').state, sup.status('other').state)
        end)
    """)
    assert result.stdout.splitlines() == ["got INT", "stop\ttrue", "stopped\trunning"]
    assert "luasup: service c: stopped (exit code 0)\n" in result.stderr
    assert "luasup: supervise: stopping all services (requested)\n" in result.stderr


def test_restarting_a_failed_service_gives_it_a_fresh_crash_loop_window():
    result = control("""
        sup.service('b', {cmd = {'sh', '-c', 'exit 3'}, backoff = {initial = 0},
                          limit = {burst = 0, within = 60}})
        sup.service('other', {cmd = {'sleep', '3600'}})
        control(function()
            local first = until_state('b', 'failed')
            print('restart', sup.restart('b'))
            local deadline = init.now() + 20
            repeat
                init.sleep(0.02)
                local st = sup.status('b')
            until (st.state == 'failed' and st.since > first.since) or init.now() > deadline
            print(sup.status('b').why)
        end)
    """)
    assert result.stdout.splitlines() == [
        "restart\ttrue", "1 exit within 60 s; last: exit code 3"]
    assert states(result.stderr, "b") == ["starting", "running", "failed"] * 2


def test_shutdown_stops_everything_and_run_returns_its_code():
    result = sup_run("""
        sup.service('s', {cmd = {'sleep', '3600'}})
        sup.on('state', function(ev) if ev.state == 'running' then sup.shutdown(5) end end)
        return sup.run()
    """)
    assert result.returncode == 5, result.stderr
    assert "luasup: supervise: stopping all services (requested)\n" in result.stderr
    assert states(result.stderr, "s")[-1] == "stopped"


def test_caller_mistakes_in_the_runtime_api_raise_with_the_caller_s_argument_number():
    result = control("""
        sup.service('s', {cmd = {'sleep', '3600'}})
        control(function()
            until_state('s', 'running')
            for _, call in ipairs({{sup.signal, 's', 'NOPE'}, {sup.stop}, {sup.status, 3}}) do
                local ok, err = pcall(unpack(call))
                print(ok and 'no error' or err:match(':%d+: (.*)'))
            end
        end)
    """)
    assert result.stdout.splitlines() == [
        "bad argument #2 to 'signal' (unknown signal 'NOPE')",
        "bad argument #1 to 'stop' (string expected, got nil)",
        "bad argument #1 to 'status' (string expected, got number)"]


def test_a_thousand_restarts_keep_the_lua_heap_flat():
    # Restarts on request: a crash loop is held to one start a second.
    result = control("""
        local hooks = 0
        sup.service('s', {cmd = {'sleep', '3600'}, post_exit = function() hooks = hooks + 1 end})
        sup.on('state', function() end)
        local function restarts(n)
            for _ = 1, n do
                assert(sup.restart('s'))
                while sup.status('s').state ~= 'running' do init.sleep(0.001) end
            end
            init.sleep(0.05) -- the last hook and handler calls end
            collectgarbage()
            collectgarbage()
            local refs = 0
            for _ in pairs(debug.getregistry().LUPA_PYTHON_REFERENCES_TABLE) do refs = refs + 1 end
            return refs, collectgarbage('count')
        end
        control(function()
            until_state('s', 'running')
            local refs, kbytes = restarts(200)
            local refs2, kbytes2 = restarts(1000)
            print(hooks, refs2 - refs, kbytes2 - kbytes)
        end)
    """, timeout=120)
    hooks, grown_refs, grown_kbytes = result.stdout.split()
    assert int(hooks) == 1200
    assert int(grown_refs) < 20
    assert float(grown_kbytes) < 50


def test_status_tells_an_exit_code_from_a_signal():
    result = control("""
        sup.service('code', {cmd = {'sh', '-c', 'exit 138'}, restart = 'never', critical = false})
        sup.service('signal', {cmd = {'sh', '-c', 'kill -USR1 $$'}, restart = 'never', critical = false})
        sup.service('keep', {cmd = {'sleep', '3600'}})
        control(function()
            for _, name in ipairs({'code', 'signal'}) do
                local e = until_state(name, 'failed').last_exit
                print(name, e.code, e.how, e.value, e.text)
            end
        end)
    """)
    assert result.stdout.splitlines() == ["code\t138\texit\t138\texit code 138",
                                          "signal\t138\tsignal\t10\tsignal SIGUSR1"]


def test_a_second_stop_while_one_is_in_progress_waits_for_it():
    result = control("""
        local hooks = 0
        sup.service('s', {cmd = {'sh', '-c', 'trap "echo TERM; sleep 0.3; exit 0" TERM; while :; do sleep 0.05; done'},
                          post_exit = function() hooks = hooks + 1 end})
        control(function()
            until_state('s', 'running')
            local first = init.spawn(sup.stop, 's')
            print('second', sup.stop('s'), sup.status('s').state)
            first:wait()
            print('hooks', hooks)
        end)
    """)
    assert result.stdout.splitlines() == ["TERM", "second\ttrue\tstopped", "hooks\t1"]


def test_restarts_count_the_starts_made_requested_ones_included_and_health_is_of_the_current_run():
    result = sup_run("""
        sup.service('crashy', {cmd = {'sh', '-c', 'exit 2'}, backoff = {initial = 30}})
        sup.service('calm', {cmd = {'sleep', '60'}})
        init.spawn(function()
            while sup.status('crashy').state ~= 'backoff' or sup.status('calm').state ~= 'running' do
                init.sleep(0.02)
            end
            -- in backoff: the restart is announced, not made
            print('backoff', sup.status('crashy').restarts)
            print('calm', sup.status('calm').restarts, sup.status('calm').healthy)
            assert(sup.restart('calm'))
            while sup.status('calm').state ~= 'running' do init.sleep(0.02) end
            print('restarted', sup.status('calm').restarts)
            assert(sup.stop('calm'))
            print('stopped', sup.status('calm').healthy)
            sup.shutdown()
        end)
        return sup.run()
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "backoff\t0\ncalm\t0\ttrue\nrestarted\t1\nstopped\tnil\n"


def test_stop_before_run_is_refused_and_the_service_still_starts():
    result = sup_run("""
        sup.service('a', {cmd = {'sleep', '60'}})
        print(sup.stop('a'))
        sup.on('state', function(ev) if ev.state == 'running' then sup.shutdown() end end)
        return sup.run()
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "nil\tthe services are not running yet (sup.run)\n"
    assert states(result.stderr, "a") == ["starting", "running", "stopping", "stopped"]


def test_a_service_with_autostart_false_waits_for_sup_start_and_its_dependents_for_it():
    result = sup_run("""
        sup.service('web', {cmd = {'sleep', '60'}, autostart = false})
        sup.service('worker', {cmd = {'sleep', '60'}, after = 'web'})
        init.spawn(function()
            while sup.status('worker').state ~= 'waiting' do init.sleep(0.02) end
            init.sleep(0.3) -- nothing starts by itself meanwhile
            print(sup.status('web').state, sup.status('web').why)
            print(sup.status('worker').state)
            assert(sup.start('web'))
            while sup.status('worker').state ~= 'running' do init.sleep(0.02) end
            print(sup.status('web').state)
            sup.shutdown()
        end)
        return sup.run()
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("stopped\tnot started (autostart = false): sup.start starts it\n"
                             "waiting\nrunning\n")
    assert states(result.stderr, "web") == ["starting", "running", "stopping", "stopped"]


def test_a_stop_whose_caller_is_cancelled_still_ends_the_service():
    result = sup_run("""
        sup.service('a', {cmd = {'sh', '-c', 'trap "" TERM; sleep 100'}, stop = {timeout = 0.5}})
        init.spawn(function()
            while sup.status('a').state ~= 'running' do init.sleep(0.02) end
            local caller = init.spawn(function() sup.stop('a') end)
            while sup.status('a').state ~= 'stopping' do init.sleep(0.02) end
            caller:cancel()  -- a control request given up on
            while sup.status('a').state ~= 'stopped' do init.sleep(0.02) end
            print(sup.status('a').pid, sup.status('a').last_exit.text)
            sup.shutdown(0)
        end)
        return sup.run()
    """, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "nil\tsignal SIGKILL\n"


def test_a_start_during_a_stop_begins_once_the_stop_has_ended():
    result = sup_run("""
        sup.service('a', {cmd = {'sh', '-c', 'trap "" TERM; while :; do sleep 0.1; done'},
                          stop = {timeout = 0.5}})
        init.spawn(function()
            while sup.status('a').state ~= 'running' do init.sleep(0.02) end
            local first = sup.status('a').pid
            init.spawn(function() sup.stop('a') end)
            while sup.status('a').state ~= 'stopping' do init.sleep(0.02) end
            print('start', sup.start('a'))
            while sup.status('a').state ~= 'running' do init.sleep(0.02) end
            print(sup.status('a').pid ~= first, init.kill(first, 0))
            sup.shutdown(0)
        end)
        return sup.run()
    """, timeout=30)
    assert result.returncode == 0, result.stderr
    # the old process was gone before the new one started
    assert result.stdout == "start\ttrue\ntrue\tnil\tNo such process\n"
    assert states(result.stderr, "a") == ["starting", "running", "stopping", "stopped",
                                          "starting", "running", "stopping", "stopped"]


def test_a_declaration_during_the_ordered_stop_is_refused_and_the_run_ends():
    result = sup_run("""
        sup.service('a', {cmd = {'sleep', '100'}})
        init.spawn(function()
            while sup.status('a').state ~= 'running' do init.sleep(0.02) end
            sup.shutdown(3)
            print(pcall(sup.service, 'x', {cmd = {'sleep', '100'}}))
        end)
        return sup.run()
    """, timeout=30)
    assert result.returncode == 3, result.stderr
    assert result.stdout.startswith("false\t") and "the services are being stopped" in result.stdout


def test_the_ordered_stop_joining_a_stop_under_way_keeps_to_the_grace_period():
    result = sup_run("""
        sup.service('a', {cmd = {'sleep', '100'}, post_exit = function() init.sleep(20) end})
        local t0
        init.spawn(function()
            while sup.status('a').state ~= 'running' do init.sleep(0.02) end
            init.spawn(function() sup.stop('a') end)  -- its post_exit hook would take 20 s
            while sup.status('a').last_exit == nil do init.sleep(0.02) end  -- in its hook now
            t0 = init.now()
            sup.shutdown(0)
        end)
        local code = sup.run()
        print(('%.1f'):format(init.now() - t0))
        return code
    """, timeout=60, env=env_for(LUASUP_GRACE_MS=1000))
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) < 5, result.stdout  # the 1 s grace period, not the hook's 20 s
    assert "post_exit hook still running" in result.stderr


def test_removing_the_last_unfinished_service_ends_the_run():
    result = sup_run("""
        sup.oneshot('a', {cmd = {'true'}})
        sup.service('b', {cmd = {'sleep', '100'}})
        init.spawn(function()
            while sup.status('a').state ~= 'done' or sup.status('b').state ~= 'running' do
                init.sleep(0.02)
            end
            print(sup.remove('b'))
        end)
        return sup.run()
    """, timeout=30)
    assert (result.returncode, result.stdout) == (0, "true\n"), result.stderr
    assert "supervise: stopping all services (no service left to run)" in result.stderr


def test_a_stop_during_a_post_exit_hook_lets_the_hook_finish():
    result = sup_run("""
        sup.service('a', {cmd = {'sh', '-c', 'exit 3'},
            post_exit = function(i) print('begins', i.text); init.sleep(0.5); print('ends') end})
        init.spawn(function()
            while sup.status('a').last_exit == nil do init.sleep(0.01) end
            print('stop', sup.stop('a'))
            sup.shutdown(0)
        end)
        return sup.run()
    """, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "begins\texit code 3\nends\nstop\ttrue\n"
    assert ("a", "stopped", "(exit code 3)") in state_lines(result.stderr)
