"""Services of the supervise library on the log bus: once the policy declares
a sink or a route, their output becomes records named by the service, an
output readiness probe still sees it; with no logs declared it is
inherited as before. And luasup's own lines, through a route naming
'luasup'."""

import re

from helpers import lua_quote
from helpers.supervision import sup_run

PRELUDE = "local logs = require('logs')\n"
# a oneshot saying hello on both streams: sup.run() returns once it is done
HELLO = ("sup.oneshot('web', { cmd = { 'sh', '-c', 'echo hello; echo oops >&2' }%s })\n"
         "return sup.run()\n")


def test_a_services_output_is_records_named_by_the_service(tmp_path):
    log = tmp_path / "app.log"
    result = sup_run(PRELUDE + """
        logs.route{ to = logs.file{ path = %s, prefix = '{name} {stream}: ' } }
    """ % lua_quote(str(log)) + HELLO % ", pre_start = { 'echo', 'getting ready' }")
    assert result.returncode == 0, result.stderr
    lines = log.read_text().splitlines()
    assert lines[0] == "web stdout: getting ready"  # its hook's output goes as its own
    assert sorted(lines[1:]) == ["web stderr: oops", "web stdout: hello"]
    assert "hello" not in result.stdout + result.stderr


def test_a_route_by_service_name_holds_across_restarts(tmp_path):
    log = tmp_path / "web.log"
    result = sup_run(PRELUDE + """
        logs.route{ name = 'web', to = logs.file{ path = %s, prefix = '{name} {pid}: ' } }
        sup.service('web', { cmd = { 'sh', '-c', 'echo "hello $$"; exit 1' }, backoff = { initial = 0.05 } })
        local starts = 0
        sup.on('state', function(ev)
            if ev.service == 'web' and ev.state == 'backoff' then
                starts = starts + 1
                if starts == 3 then sup.shutdown(0) end
            end
        end)
        return sup.run()
    """ % lua_quote(str(log)))
    assert result.returncode == 0, result.stderr
    lines = log.read_text().splitlines()
    pids = [m.group(1) for m in (re.fullmatch(r"web (\d+): hello \1", line) for line in lines) if m]
    assert len(pids) == len(lines) == len(set(pids)) == 3  # each start's own pid


def test_an_output_readiness_probe_sees_the_lines_and_they_reach_the_bus(tmp_path):
    log = tmp_path / "app.log"
    result = sup_run(PRELUDE + """
        logs.route{ to = logs.file{ path = %s, prefix = '{name} {stream}: ' } }
        sup.service('api', { cmd = { 'sh', '-c', 'echo starting; echo listening on 8080; echo more >&2; exec sleep 30' },
                             ready = sup.output('^listening on %%d+$') })
        sup.oneshot('client', { cmd = { 'echo', 'up' }, after = 'api' })
        sup.on('state', function(ev)
            if ev.service == 'client' and ev.state == 'done' then sup.shutdown(0) end
        end)
        return sup.run()
    """ % lua_quote(str(log)))
    assert result.returncode == 0, result.stderr
    assert "luasup: service api: running" in result.stderr
    lines = log.read_text().splitlines()
    assert [l for l in lines if l.startswith("api stdout")] == ["api stdout: starting",
                                                                "api stdout: listening on 8080"]
    assert sorted(l for l in lines if not l.startswith("api stdout")) == ["api stderr: more",
                                                                           "client stdout: up"]


def test_with_no_logs_declared_a_services_output_is_inherited():
    script = HELLO % ""
    result = sup_run(script)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello\n" and "oops" in result.stderr.splitlines()
    # a sink declared, even with no route: records, to the default console
    result = sup_run(PRELUDE + "logs.ring{}\n" + script)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "web | hello\n" and "web | oops" in result.stderr.splitlines()


OWN = """
    init.exec{ 'sh', '-c', 'echo hi', name = 'web', stdout = 'log' }:status()
    init.log('warn', 'from the script')
    local c = init.exec{ 'sleep', '30', name = 'nap' }
    init.after(0.1, function() c:kill() end)
    c:status()
"""


def test_luasups_own_lines_through_a_route_naming_luasup(tmp_path):
    log = tmp_path / "luasup.log"
    result = sup_run(PRELUDE + "logs.route{ name = 'luasup', to = logs.file{ path = %s, prefix = '{name} {stream}: ' } }\n"
                     % lua_quote(str(log)) + OWN)
    assert result.returncode == 0, result.stderr
    own = log.read_text().splitlines()
    assert [re.sub(r"\(pid \d+\)", "(pid N)", line) for line in own] == [
        "luasup stderr: started web (pid N)",
        "luasup stderr: exited web (pid N) (code 0)",
        "luasup stderr: warning: from the script",
        "luasup stderr: started nap (pid N)",
        "luasup stderr: exited nap (pid N) (SIGKILL)"]
    assert (result.stdout, result.stderr) == ("web | hi\n", "")


def test_without_a_route_naming_luasup_its_lines_stay_on_stderr(tmp_path):
    result = sup_run(PRELUDE + "logs.route{ to = logs.file{ path = %s } }\n" % lua_quote(str(tmp_path / "all.log"))
                     + OWN)
    assert result.returncode == 0, result.stderr
    assert "luasup: warning: from the script\n" in result.stderr
    assert "luasup: exited nap" in result.stderr
    assert (tmp_path / "all.log").read_text() == "hi\n"


def test_luasups_own_lines_by_pattern_the_rest_on_stderr(tmp_path):
    log = tmp_path / "luasup.log"
    result = sup_run(PRELUDE + """
        logs.route{ name = 'luasup', match = '^started', drop = true }
        logs.route{ name = 'luasup', match = 'warning', to = logs.file{ path = %s } }
    """ % lua_quote(str(log)) + OWN)
    assert result.returncode == 0, result.stderr
    assert log.read_text() == "warning: from the script\n"
    assert [re.sub(r"\(pid \d+\)", "(pid N)", line) for line in result.stderr.splitlines()] == [
        "luasup: exited web (pid N) (code 0)", "luasup: exited nap (pid N) (SIGKILL)"]
