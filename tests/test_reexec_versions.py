"""Re-exec from one luasup to a newer one, installed meanwhile in its place:
the same process (pid, children, services' state) goes on running the new
code; and when the new luasup fails its check, nothing changes.

Two installations that differ in version (and in code) stand in for
`pip install -U luasup` in a virtualenv: see helpers/installs.py for what
is simulated. luasup is started as INSTALLS/bin/luasup, a symlink to the
luasup under test; the upgrade re-points it to a copy with a newer version."""

import os

import pytest

from helpers import stat, wait_until
from helpers.ctl import Policy, lines, one_line_error
from helpers.ctlsocket import hello
from helpers.installs import Installs, __version__ as OLD

NEW = OLD + ".post1"

SERVICES = """
sup.service('db', {cmd = {'sleep', '3600'}})
sup.service('web', {cmd = {'sleep', '3601'}, after = 'db'})
return sup.run()
"""


@pytest.fixture
def installs(tmp_path):
    """The version under test (OLD) installed now, 'new' (NEW) beside it."""
    made = Installs(tmp_path / "installs")
    made.add("new", NEW)
    return made


@pytest.fixture
def running(installs, tmp_path):
    """The old luasup running SERVICES, both services running."""
    with Policy(SERVICES, tmp_path, luasup=installs.luasup) as policy:
        policy.wait_state("web", "running")
        yield policy


def signal_mask(pid):
    """The signals pid blocks, as a bit mask."""
    with open("/proc/%d/status" % pid) as f:
        return int(next(line for line in f if line.startswith("SigBlk:")).split()[1], 16)


def pids(policy):
    return {st["name"]: (st["state"], st["pid"], st["restarts"]) for st in policy.json("list")["services"]}


def test_an_upgrade_runs_the_new_version_in_the_same_process_with_the_same_services(installs, running):
    before = pids(running)
    first = hello(running.socket)
    assert (first["version"], first["generation"]) == (OLD, 0)

    installs.use("new")
    assert running.json("reexec") == {"from": OLD, "to": NEW, "pid": running.pid, "generation": 1}

    now = hello(running.socket)
    assert (now["version"], now["generation"], now["pid"]) == (NEW, 1, running.pid)
    assert pids(running) == before
    for _, pid, _ in before.values():  # still luasup's children, not adopted by another process
        assert stat(pid)[1] == running.pid
    err = running.stderr()
    assert "luasup: re-exec: handing 2 children over to %s\n" % installs.luasup in err
    assert "luasup: re-exec: luasup %s took over 2 children from luasup %s\n" % (NEW, OLD) in err
    assert "luasup: supervise: re-exec: took over 2 services\n" in err


def test_the_new_code_supervises_after_the_upgrade(installs, tmp_path):
    """The new installation logs state changes its own way: once re-exec'd,
    a restart of web is logged by the new code, and by the same pid."""
    installs.add("changed", NEW, [("lua/supervise.lua", "init.log('info', 'service %s: %s%s'",
                                            "init.log('info', 'service %s: %s%s [changed]'")])
    with Policy(SERVICES, tmp_path, luasup=installs.luasup) as policy:
        policy.wait_state("web", "running")
        assert policy.ctl("restart", "web").returncode == 0
        assert "[changed]" not in policy.stderr()  # the old code's lines

        installs.use("changed")
        result = policy.ctl("reexec")
        assert (result.returncode, result.stdout) == \
            (0, "re-exec: luasup %s -> luasup %s (pid %d)\n" % (OLD, NEW, policy.pid)), result.stderr
        assert policy.ctl("restart", "web").returncode == 0
        web = policy.wait_state("web", "running")["pid"]
        assert "luasup: service web: running (pid %d) [changed]\n" % web in policy.stderr()
        assert hello(policy.socket)["pid"] == policy.pid


# the new installation, broken in a way its check finds, and how the
# refusal "the new luasup failed its check (CMD --check POLICY): ..." ends
BROKEN = {
    "a module of it does not import": (
        [("runtime.py", '"""', 'raise ImportError("half-installed")\n"""')], "ImportError: half-installed"),
    # one luasup imports only on first use (listening sockets): after the
    # exec it would fail, and PID 1 with it
    "a module it loads later does not import": (
        [("listeners.py", "BACKLOG = 128", "BACKLOG = 128 // 0")],
        ": cannot import luasup.listeners: ZeroDivisionError: integer division or modulo by zero"),
    "it takes another hand-over format": (
        [("handover.py", "FORMAT = 1", "FORMAT = 2")],
        ": luasup %s cannot take a hand-over of format 1 (it takes 2)" % NEW),
    "it does not know hand-overs": (
        [("script.py", "if handover.CHECK_ENV not in os.environ:", "if True:")],
        "it did not answer which hand-over format it takes"),
}


@pytest.mark.parametrize("broken", [*BROKEN, "the policy no longer compiles"])
def test_a_new_luasup_that_fails_its_check_changes_nothing(installs, running, broken):
    before = pids(running)
    if broken in BROKEN:
        edits, why = BROKEN[broken]
        installs.add("broken", NEW, edits)
        installs.use("broken")
        refusal = "the new luasup failed its check (%s --check %s): " % (installs.luasup, running.script)
    else:  # the policy is run again before the new luasup is even tried
        installs.use("new")
        with open(running.script) as f:
            good = f.read()
        with open(running.script, "a") as f:
            f.write("this is not Lua\n")
        why = "policy.lua:%d: '<eof>' expected near 'this'" % (good.count("\n") + 1)
        refusal = "the policy fails: "

    result = running.ctl("reexec")
    err = one_line_error(result, 1, "luasup ctl: re-exec refused, nothing changed: " + refusal)
    assert err.endswith(why), err
    assert "luasup: error: supervise: re-exec refused, nothing changed: " + refusal in running.stderr()
    now = hello(running.socket)
    assert (now["version"], now["generation"]) == (OLD, 0)
    assert pids(running) == before

    # repaired, the upgrade goes through
    if broken in BROKEN:
        installs.use("new")
    else:
        with open(running.script, "w") as f:
            f.write(good)
    assert running.json("reexec")["generation"] == 1
    assert pids(running) == before


def test_a_changed_policy_is_reloaded_first_then_run_again_by_the_new_luasup(installs, tmp_path):
    """A re-exec is refused while the policy file declares something else
    than what runs; once reloaded, the new luasup runs it from the top
    (what it prints before sup.run() is printed again), and the services
    it starts get the signal state luasup was started with."""
    with Policy("print(sup.reloading and 'policy planned' or 'policy read')\n" + SERVICES, tmp_path,
                luasup=installs.luasup) as policy:
        before = pids(policy)
        with open(policy.script) as f:
            text = f.read()
        with open(policy.script, "w") as f:
            f.write(text.replace("sup.service('web', {cmd = {'sleep', '3601'}, after = 'db'})",
                                 "sup.service('cache', {cmd = {'sleep', '3602'}})"))
        installs.use("new")
        one_line_error(policy.ctl("reexec"), 1, "luasup ctl: re-exec refused, nothing changed: the policy file"
                       " has changed since it was applied (added cache; removed web): apply it first with"
                       " luasup ctl reload")
        assert pids(policy) == before and hello(policy.socket)["generation"] == 0
        assert policy.ctl("reload").returncode == 0
        reloaded = pids(policy)
        assert set(reloaded) == {"db", "cache"} and reloaded["db"] == before["db"]

        assert policy.json("reexec")["generation"] == 1
        assert pids(policy) == reloaded
        # read at the start; planned by the refused re-exec, the reload and
        # the re-exec; read by the new luasup
        wait_until(lambda: lines(policy.path("luasup.out")) == ["policy read"] + ["policy planned"] * 3
                   + ["policy read"], what="the policy read again by the new luasup")
        # restarted by the new luasup: with the signal state luasup was
        # started with, not the blocked mask the new luasup starts with
        assert policy.ctl("restart", "cache").returncode == 0
        cache = pids(policy)["cache"][1]
        assert cache != reloaded["cache"][1]
        assert signal_mask(cache) == signal_mask(before["db"][1]) == 0


def test_while_the_command_luasup_was_started_as_is_gone_nothing_changes(installs, running):
    """Between pip's removal of the old console script and the writing of
    the new one, another `luasup` on PATH is no stand-in."""
    before = pids(running)
    os.unlink(installs.luasup)
    one_line_error(running.ctl("reexec"), 1, "luasup ctl: re-exec refused, nothing changed: the new luasup does"
                   " not start: unable to spawn %s: No such file or directory" % installs.luasup)
    assert pids(running) == before and hello(running.socket)["generation"] == 0

    installs.use("new")
    assert running.json("reexec")["to"] == NEW


def test_a_new_luasup_refusing_the_hand_over_after_the_exec_stops_the_children(installs, running):
    """Another install landing between the check and the exec: the new
    luasup cannot take the hand-over, so it stops what it was handed
    rather than leave it behind, and exits 2."""
    before = pids(running)
    installs.add("late", NEW, [("handover.py", "FORMAT = 1", "FORMAT = 2"),  # its check says yes to 1
                               ("handover.py", "if wanted != str(FORMAT):", "if wanted != '1':")])
    installs.use("late")
    result = running.ctl("reexec")
    assert result.returncode == 1 and "the new luasup did not take over" in result.stderr, result.stderr
    assert running.proc.wait(timeout=30) == 2
    for name, (_, pid, _) in before.items():
        wait_until(lambda: stat(pid) is None, what="%s (pid %d) stopped" % (name, pid))
    assert "luasup: re-exec: the hand-over has format 1, this luasup takes 2: stopping the children" \
        " handed over\n" in running.stderr()
    assert not os.path.exists(running.socket)
