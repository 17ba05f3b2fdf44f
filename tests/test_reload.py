"""Reload: the policy file is run again and the running services brought in
line with it — through `luasup ctl reload`, SIGHUP and a change of the file —
checked by the pids and counters `luasup ctl --json list` reports."""

import json
import os
import signal
import socket
import subprocess

import pytest

from helpers import DEADLINE, LUASUP, PY, env_for, lua_quote, start, terminate, wait_until

HEAD = "local init = require('init')\nlocal sup = require('supervise')\n"
TAIL = "\nreturn sup.run()\n"


class Policy:
    """A policy file in tmp_path, run by luasup with its own control socket."""

    def __init__(self, tmp_path):
        self.path = tmp_path / "policy.lua"
        self.env = env_for(LUASUP_CTL=str(tmp_path / "ctl.sock"))
        self.proc = None

    def write(self, body):
        # replaced by a rename, as editors and ConfigMaps do
        new = self.path.with_suffix(".new")
        new.write_text(HEAD + body + TAIL)
        os.replace(new, self.path)

    def start(self, body, expect):
        self.write(body)
        self.proc = start([str(self.path)], env=self.env)
        return self.wait_for(expect)

    def ctl(self, *args):
        return subprocess.run([LUASUP, "ctl"] + list(args), env=self.env, capture_output=True,
                              text=True, timeout=DEADLINE)

    def services(self):
        result = self.ctl("--json", "list")
        if result.returncode != 0:
            return None
        return {s["name"]: s for s in json.loads(result.stdout)["services"]}

    def wait_for(self, expect):
        """Wait until the services are exactly `expect` (name -> state)."""
        def settled():
            now = self.services()
            return now if now is not None and {n: s["state"] for n, s in now.items()} == expect else None
        return wait_until(settled, what="services %r" % expect)

    def reload(self, *flags):
        return self.ctl("reload", *flags)

    def close(self):
        """luasup stopped; its stderr."""
        return terminate(self.proc)[1] if self.proc is not None else ""


@pytest.fixture
def policy(tmp_path):
    p = Policy(tmp_path)
    yield p
    p.close()


def pids(services):
    return {name: s.get("pid") for name, s in services.items()}


SLEEP = "{'sleep', '%d'}"


def test_unchanged_services_keep_their_pid_changed_restart_new_start_removed_stop(policy):
    before = policy.start("""
        sup.service('db', {cmd = %s})
        sup.service('web', {cmd = %s, after = 'db', ready = function() return true end})
        sup.service('old', {cmd = %s})
    """ % (SLEEP % 1000, SLEEP % 1001, SLEEP % 1002),
        {"db": "running", "web": "running", "old": "running"})
    policy.write("""
        sup.service('db', {cmd = %s})
        sup.service('web', {cmd = %s, after = 'db', ready = function() return true end})
        sup.service('new', {cmd = %s, after = 'web'})
    """ % (SLEEP % 1000, SLEEP % 1005, SLEEP % 1003))
    result = policy.reload()
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["added: new", "removed: old", "changed: web", "unchanged: db"]
    after = policy.wait_for({"db": "running", "web": "running", "new": "running"})
    assert after["db"]["pid"] == before["db"]["pid"] and after["db"]["restarts"] == 0
    assert after["web"]["pid"] != before["web"]["pid"]
    # the removed service's process is gone
    wait_until(lambda: not os.path.exists("/proc/%d" % before["old"]["pid"])
               or open("/proc/%d/stat" % before["old"]["pid"]).read().split(")")[1].split()[0] == "Z",
               what="old's process gone")
    stderr = policy.close()
    assert "luasup: supervise: reloaded: 1 added, 1 changed, 1 removed, 1 unchanged" in stderr


def test_a_dry_run_prints_the_plan_and_changes_nothing(policy):
    before = policy.start("sup.service('a', {cmd = %s})" % (SLEEP % 1000), {"a": "running"})
    policy.write("sup.service('a', {cmd = %s})\nsup.service('b', {cmd = %s})" % (SLEEP % 1001, SLEEP % 1002))
    result = policy.reload("--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["would start: b", "would restart: a"]
    assert pids(policy.services()) == pids(before)
    plan = json.loads(policy.ctl("--json", "reload", "--dry-run").stdout)
    assert plan["added"] == ["b"] and plan["changed"] == ["a"] and plan["dry_run"] is True


@pytest.mark.parametrize("broken, message", [
    ("sup.service('a', {cmd = %s}) this is not lua" % (SLEEP % 1000), "policy.lua:3: "),
    ("error('no config')", "policy.lua:3: no config"),
    ("sup.service('a', {cmd = %s, after = 'ghost'})" % (SLEEP % 1000), "service a: unknown dependency 'ghost'"),
    ("sup.service('a', {cmd = %s, after = 'b'})\nsup.service('b', {cmd = %s, after = 'a'})"
     % (SLEEP % 1000, SLEEP % 1001), "dependency cycle: a -> b -> a"),
    ("sup.service('a', {cmd = %s, restart = 'sometimes'})" % (SLEEP % 1000), "option 'restart'"),
    ("init.exec('true')\nsup.service('a', {cmd = %s})" % (SLEEP % 1000), "init.exec is not run again by a reload"),
    ("sup.service('a', {cmd = %s, restart = 'sometimes'})" % (SLEEP % 1000), "policy.lua:3: bad argument #2"),
])
def test_a_broken_policy_changes_nothing_and_says_why(policy, broken, message):
    before = policy.start("sup.service('a', {cmd = %s})" % (SLEEP % 1000), {"a": "running"})
    policy.write(broken)
    result = policy.reload()
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith("luasup ctl: reload failed, nothing changed: ") and message in first, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr  # the policy's line, not luasup's frames
    assert pids(policy.services()) == pids(before)
    assert "Traceback" not in result.stderr
    assert "luasup: error: supervise: reload failed, nothing changed: " in policy.close()


def test_a_reload_during_a_restart_backoff_starts_the_fixed_service_at_once(policy):
    policy.start("sup.service('flaky', {cmd = {'false'}, backoff = {initial = 3600}})", {"flaky": "backoff"})
    policy.write("sup.service('flaky', {cmd = %s, backoff = {initial = 3600}})" % (SLEEP % 1000))
    assert policy.reload().returncode == 0
    policy.wait_for({"flaky": "running"})


def test_dependents_restart_with_a_changed_service_only_when_asked(policy):
    body = "sup.service('db', {cmd = %s})\nsup.service('web', {cmd = %s, after = 'db'})"
    before = policy.start(body % (SLEEP % 1000, SLEEP % 1001), {"db": "running", "web": "running"})
    policy.write(body % (SLEEP % 1002, SLEEP % 1001))
    assert policy.reload().stdout.splitlines() == ["changed: db", "unchanged: web"]
    mid = policy.wait_for({"db": "running", "web": "running"})
    assert mid["web"]["pid"] == before["web"]["pid"] and mid["db"]["pid"] != before["db"]["pid"]
    policy.write(body % (SLEEP % 1003, SLEEP % 1001))
    assert policy.reload("--dependents").stdout.splitlines() == ["changed: db, web"]
    after = policy.wait_for({"db": "running", "web": "running"})
    assert after["web"]["pid"] != mid["web"]["pid"]


def test_a_closure_is_the_same_unless_what_it_sees_changed(policy):
    body = """
        local port = %d
        sup.service('a', {cmd = %s, ready = function() return port > 0 end})
    """
    before = policy.start(body % (1, SLEEP % 1000), {"a": "running"})
    policy.write(body % (1, SLEEP % 1000))
    assert policy.reload().stdout.splitlines() == ["unchanged: a"]
    policy.write(body % (2, SLEEP % 1000))
    assert policy.reload().stdout.splitlines() == ["changed: a"]
    after = policy.wait_for({"a": "running"})
    assert after["a"]["pid"] != before["a"]["pid"]


def test_a_module_beside_the_policy_is_read_again(policy, tmp_path):
    (tmp_path / "conf.lua").write_text("return {seconds = 1000}")
    body = "local conf = require('conf')\nsup.service('a', {cmd = {'sleep', tostring(conf.seconds)}})"
    before = policy.start(body, {"a": "running"})
    (tmp_path / "conf.lua").write_text("return {seconds = 1001}")
    assert policy.reload().stdout.splitlines() == ["changed: a"]
    after = policy.wait_for({"a": "running"})
    assert after["a"]["pid"] != before["a"]["pid"]


def test_a_policy_with_sockets_reloads_and_an_idle_on_demand_service_stays_idle(policy, tmp_path):
    # the listener is the first run's again (same address and name): the
    # service that takes it is unchanged; a changed one waits for a client
    server = tmp_path / "server.py"
    server.write_text("import socket, sys\ns = socket.socket(fileno=3)\n"
                      "while True:\n    c, _ = s.accept(); c.sendall(sys.argv[1].encode()); c.close()\n")
    body = """
        local web = assert(init.listen('tcp://127.0.0.1:0', {name = 'web'}))
        local f = io.open(%s, 'w') f:write(web:address():match(':(%%d+)$')) f:close()
        sup.service('web', {cmd = {%s, %s, 'ANSWER'}, fds = {web}, on_demand = true})
    """ % (lua_quote(str(tmp_path / "port")), lua_quote(PY), lua_quote(str(server)))
    policy.start(body.replace("ANSWER", "one"), {"web": "idle"})
    port = int((tmp_path / "port").read_text())
    assert policy.reload().stdout.splitlines() == ["unchanged: web"]
    policy.write(body.replace("ANSWER", "two"))
    assert policy.reload().stdout.splitlines() == ["changed: web"]
    # no client came: still idle, and the reload said so in order
    policy.wait_for({"web": "idle"})
    assert policy.services()["web"]["restarts"] == 0 and "pid" not in policy.services()["web"]
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as c:
        assert c.makefile("rb").read() == b"two"  # a blocking socket, accepted by the new server


@pytest.mark.parametrize("trigger", ["signal = 'HUP'", "watch = true, debounce = 0.1"])
def test_sighup_or_a_change_of_the_file_reloads_when_the_policy_asks(policy, trigger):
    body = "sup.reload_on{%s}\nsup.service('a', {cmd = %s})\n%s"
    policy.start(body % (trigger, SLEEP % 1000, ""), {"a": "running"})
    policy.write(body % (trigger, SLEEP % 1000, "sup.service('b', {cmd = %s})" % (SLEEP % 1001)))
    if "HUP" in trigger:
        policy.proc.send_signal(signal.SIGHUP)
    policy.wait_for({"a": "running", "b": "running"})


def test_without_reload_on_sighup_goes_to_the_services(policy, tmp_path):
    # the default: SIGHUP is relayed (a reload only when the policy asks)
    script = "trap 'echo hup > %s' HUP; while :; do sleep 0.1; done" % (tmp_path / "got")
    policy.start("sup.service('a', {cmd = {'sh', '-c', %s}})" % lua_quote(script), {"a": "running"})
    policy.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: (tmp_path / "got").exists(), what="the service got SIGHUP")


def test_inline_code_cannot_be_reloaded(tmp_path):
    env = env_for(LUASUP_CTL=str(tmp_path / "ctl.sock"))
    proc = start(["-e", HEAD + "sup.service('a', {cmd = %s})" % (SLEEP % 1000) + TAIL], env=env)
    try:
        def reload():
            r = subprocess.run([LUASUP, "ctl", "reload"], env=env, capture_output=True, text=True,
                               timeout=DEADLINE)
            return r if r.returncode != 3 else None
        result = wait_until(reload, what="ctl reload answered")
        assert result.returncode == 1
        assert result.stderr == ("luasup ctl: reload failed, nothing changed: the policy is inline code,"
                                 " not a file: only a file can be read again\n")
    finally:
        terminate(proc)
