"""supervise: restart policies and success codes, backoff (initial, factor,
max, jitter, reset_after), the 1 s minimum between the starts of a service
that dies at once, the crash-loop limit, and a restart loop that never
spins the CPU."""

import os
import re

import pytest

from helpers import LOOPS, read_line, stop
from helpers.supervision import state_lines, states, sup_run, sup_start

# A service run by run: run N sleeps the Nth of the durations given and
# exits 3, recording its own start and end; the run past the last duration
# exits 0 at once. Arguments: a counter file, the durations ("1 1 0.5").
RUNS = r"""
n=$(( $(cat "$1" 2>/dev/null || echo 0) + 1 )); echo $n > "$1"
echo "start $n $(date +%s.%N)"
d=$(echo "$2" | awk -v n=$n '{print $n}')
[ -z "$d" ] && exit 0
sleep "$d"
echo "end $n $(date +%s.%N)"
exit 3
"""


def runs_service(options):
    """Lua declaring service 's' over RUNS; `...` is (counter file, durations)."""
    return """
        local counter, durations = ...
        sup.service('s', {cmd = {'sh', '-c', %s, 'sh', counter, durations},
                          restart = 'on-failure', %s})
        return sup.run()
    """ % (lua_long(RUNS), options)


def lua_long(text):
    return "[==[" + text + "]==]"


def records(stdout, what):
    """{run number: time} of the `start`/`end` lines the runs printed."""
    out = {}
    for line in stdout.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0] == what:
            out[int(fields[1])] = float(fields[2])
    return out


def backoff_delays(stderr):
    """The delays the backoff lines announce, in seconds."""
    return [float(re.match(r"([0-9.]+) s after", rest).group(1))
            for _, state, rest in state_lines(stderr) if state == "backoff"]


def assert_waited(stdout, delays):
    """Each run started again after its delay, from its own end to the next
    run's own start (a timer may fire a hair early; a loaded machine late)."""
    starts, ends = records(stdout, "start"), records(stdout, "end")
    gaps = [starts[n + 1] - ends[n] for n in sorted(ends)]
    assert len(gaps) == len(delays), (gaps, delays)
    for gap, delay in zip(gaps, delays):
        assert delay - 0.02 <= gap < delay + 1.5, (gap, delay)


# (restart, success, how the one run ends) -> the state after that exit,
# luasup's exit code
POLICIES = [
    ("always", None, "exit 0", "backoff", 0),
    ("always", None, "exit 3", "backoff", 0),
    ("on-failure", None, "exit 0", "exited", 0),
    ("on-failure", None, "exit 3", "backoff", 0),
    ("on-failure", None, "kill -USR1 $$", "backoff", 0),
    ("never", None, "exit 0", "exited", 0),
    ("never", None, "exit 3", "failed", 3),
    ("never", None, "kill -USR1 $$", "failed", 128 + 10),
    ("on-failure", "{0, 3}", "exit 3", "exited", 0),
    ("on-failure", "3", "exit 0", "backoff", 0),
    ("never", "{3}", "exit 3", "exited", 0),
    ("always", "{3}", "exit 3", "backoff", 0),
]


@pytest.mark.parametrize("restart,success,ends,after,code", POLICIES)
def test_restart_policy_and_success_codes_decide_what_follows_an_exit(
        restart, success, ends, after, code):
    result = sup_run("""
        sup.service('s', {cmd = {'sh', '-c', 'echo run; ' .. ...}, restart = '%s',
                          success = %s, backoff = {initial = 0}})
        sup.on('state', function(ev)
            if ev.state == 'backoff' then sup.shutdown(0) end
        end)
        return sup.run()
    """ % (restart, success or "nil"), ends)
    assert states(result.stderr, "s")[:3] == ["starting", "running", after], result.stderr
    assert result.stdout == "run\n"  # nothing restarted once the stop began
    assert result.returncode == code, result.stderr


def test_backoff_grows_by_its_factor_up_to_its_max_and_is_waited_out(tmp_path):
    # Each run lasts 1 s, so the minimum interval between starts plays no part.
    result = sup_run(runs_service("backoff = {initial = 0.1, factor = 3, max = 0.5}, limit = false"),
                     tmp_path / "n", "1 1 1")
    assert result.returncode == 0, result.stderr
    assert backoff_delays(result.stderr) == [0.1, 0.3, 0.5]
    assert_waited(result.stdout, [0.1, 0.3, 0.5])


def test_a_run_longer_than_reset_after_starts_the_backoff_afresh(tmp_path):
    result = sup_run(runs_service("backoff = {initial = 0.1, factor = 3, max = 10, reset_after = 1.5},"
                                  " limit = false"),
                     tmp_path / "n", "1 1 1.7")
    assert result.returncode == 0, result.stderr
    assert backoff_delays(result.stderr) == [0.1, 0.3, 0.1]
    assert_waited(result.stdout, [0.1, 0.3, 0.1])


def test_jitter_spreads_each_delay_within_its_fraction(tmp_path):
    result = sup_run(runs_service("backoff = {initial = 0.4, factor = 1, jitter = 0.5}, limit = false"),
                     tmp_path / "n", "1 1 1")
    assert result.returncode == 0, result.stderr
    delays = backoff_delays(result.stderr)
    assert len(delays) == 3 and all(0.2 <= d <= 0.6 for d in delays), delays
    assert len(set(delays)) > 1, delays  # three equal draws from a continuous range: broken jitter
    assert_waited(result.stdout, delays)


def test_a_service_dying_at_once_starts_again_no_sooner_than_1_s_after_its_start(tmp_path):
    result = sup_run(runs_service("backoff = {initial = 0}, limit = false"), tmp_path / "n", "0 0")
    assert result.returncode == 0, result.stderr
    starts = records(result.stdout, "start")
    assert sorted(starts) == [1, 2, 3]
    # each start records itself a little after luasup spawned it: allow for that
    assert starts[2] - starts[1] >= 0.9 and starts[3] - starts[2] >= 0.9, starts
    assert all(0.9 < d <= 1 for d in backoff_delays(result.stderr)), result.stderr


def test_more_than_burst_exits_within_the_window_fail_the_service():
    result = sup_run("""
        sup.service('s', {cmd = {'sh', '-c', 'echo run; exit 3'}, backoff = {initial = 0},
                          limit = {burst = 2, within = 60}})
        return sup.run()
    """)
    lines = [(state, rest) for svc, state, rest in state_lines(result.stderr) if svc == "s"]
    assert [state for state, _ in lines] == ["starting", "running", "backoff"] * 2 + [
        "starting", "running", "failed"]
    assert "(restart 1 of 2 within 60 s)" in lines[2][1]
    assert "(restart 2 of 2 within 60 s)" in lines[5][1]
    assert "luasup: warning: service s: failed: 3 exits within 60 s; last: exit code 3\n" \
        in result.stderr
    assert result.stdout == "run\n" * 3
    # A non-critical service alone: nothing is left to run, luasup ends with its code.
    assert result.returncode == 3


@pytest.mark.parametrize("within,last_state,code", [(0.5, "exited", 0), (5, "failed", 3)])
def test_exits_older_than_the_window_no_longer_count(tmp_path, within, last_state, code):
    # Instant exits come 1 s apart (the minimum interval): never 2 within 0.5 s.
    result = sup_run(runs_service("backoff = {initial = 0}, limit = {burst = 1, within = %s}" % within),
                     tmp_path / "n", "0 0")
    assert states(result.stderr, "s")[-1] == last_state, result.stderr
    assert result.returncode == code, result.stderr


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize("loop", LOOPS)
def test_a_service_that_exits_at_once_forever_never_spins_the_cpu(loop):
    proc = sup_start("""
        sup.service('s', {cmd = {'sh', '-c', 'echo run $(date +%s.%N)'}, backoff = {initial = 0},
                          limit = false})
        return sup.run()
    """, loop=loop)
    try:
        read_line(proc.stdout)
        cpu0 = cpu_seconds(proc.pid)
        times = [float(read_line(proc.stdout).split()[1]) for _ in range(3)]
        cpu = cpu_seconds(proc.pid) - cpu0
        wall = times[-1] - times[0]
        assert wall >= 1.8  # one start a second at most
        # Spinning through 3 restarts would burn about the whole interval.
        assert cpu < 0.25 * wall, (cpu, wall)
        proc.terminate()
        assert proc.wait(timeout=30) == 143
    finally:
        stop(proc)


@pytest.mark.parametrize("restart", ["on-failure", "always"])
def test_a_retried_oneshot_is_done_at_its_first_success_and_only_then_lets_dependents_start(
        tmp_path, restart):
    result = sup_run("""
        local counter, durations = ...
        sup.oneshot('m', {cmd = {'sh', '-c', %s, 'sh', counter, durations}, restart = '%s',
                          success = {0, 2}, backoff = {initial = 0}})
        sup.service('app', {cmd = {'sh', '-c', 'echo app started'}, after = 'm', restart = 'never'})
        return sup.run()
    """ % (lua_long(RUNS.replace("exit 0", "exit 2")), restart), tmp_path / "n", "0")
    assert result.returncode == 0, result.stderr
    assert states(result.stderr, "m") == ["starting", "backoff", "starting", "done"]
    assert "luasup: service m: done (exit code 2)\n" in result.stderr
    assert result.stdout.splitlines()[-1] == "app started"
    assert states(result.stderr, "app") == ["waiting", "starting", "running", "exited"]


@pytest.mark.parametrize("leftover", ["sleep 3600", "trap '' TERM; exec sleep 3600"])
def test_what_a_run_leaves_in_its_group_is_gone_before_the_next_start(tmp_path, leftover):
    # Each run checks on the process the previous run left behind, then
    # leaves one of its own (one that ignores SIGTERM: SIGKILL at the stop timeout).
    result = sup_run("""
        local pidfile, leftover = ...
        sup.service('s', {cmd = {'sh', '-c', [[
            if [ -e "$0" ]; then kill -0 "$(cat "$0")" 2>/dev/null && echo alive || echo gone; fi
            sh -c "$1" & echo $! > "$0"; exit 3]], pidfile, leftover},
            restart = 'on-failure', backoff = {initial = 0}, stop = {timeout = 0.3},
            limit = {burst = 1, within = 60}})
        return sup.run()
    """, tmp_path / "left.pid", leftover)
    assert result.stdout == "gone\n", result.stderr
    assert "luasup: warning: service s: its exit left processes in its group: sending SIGTERM\n" \
        in result.stderr
    assert result.returncode == 3


def test_a_long_backoff_is_logged_in_plain_seconds():
    result = sup_run("""
        sup.service('s', {cmd = {'sh', '-c', 'exit 3'}, backoff = {initial = 1234, max = 3600}})
        sup.on('state', function(ev)
            if ev.state == 'backoff' then print(ev.why); sup.shutdown(0) end
        end)
        return sup.run()
    """)
    assert "luasup: service s: backoff 1234 s after exit code 3 (restart 1 of 5 within 60 s)\n" \
        in result.stderr
    assert result.stdout == "restart in 1234 s after exit code 3\n"


def test_jitter_never_takes_a_delay_past_max():
    # 12 services draw one delay each: all 12 below max by chance is 1 in 4096
    result = sup_run("""
        local drawn = 0
        for i = 1, 12 do
            sup.service('s' .. i, {cmd = {'sh', '-c', 'exit 3'},
                                   backoff = {initial = 100, max = 100, jitter = 0.5}})
        end
        sup.on('state', function(ev)
            if ev.state == 'backoff' then
                drawn = drawn + 1
                if drawn == 12 then sup.shutdown(0) end
            end
        end)
        return sup.run()
    """)
    delays = backoff_delays(result.stderr)
    assert len(delays) == 12 and all(50 <= d <= 100 for d in delays), delays


@pytest.mark.parametrize("option,message", [
    ("restart = 'sometimes'", "option 'restart': 'always', 'on-failure' or 'never' expected, got 'sometimes'"),
    ("success = 256", "option 'success': exit codes 0-255 expected, got 256"),
    ("backoff = {initial = -1}", "option 'backoff.initial': non-negative finite number expected, got -1"),
    ("backoff = {jitter = 2}", "option 'backoff.jitter': a fraction from 0 to 1 expected, got 2"),
    ("backoff = {delay = 1}", "option 'backoff': unknown field 'delay'"),
    ("limit = true", "option 'limit': a table or false expected, got true"),
    ("limit = {burst = 1.5}", "option 'limit.burst': integer >= 0 expected, got 1.5"),
    ("critical = 'maybe'", "option 'critical': true, false or 'exit' expected, got 'maybe'"),
    ("hook_timeout = 0", "option 'hook_timeout': positive finite number expected, got 0"),
    ("backoff = {factor = 0.5}", "option 'backoff.factor': number >= 1 expected, got 0.5"),
    ("success = {0, 'x'}", "option 'success': exit codes 0-255 expected, got string"),
    ("stop = {signal = 'NOPE'}", "option 'stop.signal': unknown signal 'NOPE'"),
])
def test_a_bad_restart_option_is_refused_naming_the_option(option, message):
    result = sup_run("sup.service('s', {cmd = {'true'}, %s})" % option)
    assert result.returncode == 1
    assert "(command line):3: bad argument #2 to 'service' (%s)\n" % message in result.stderr
    assert "Traceback" not in result.stderr
