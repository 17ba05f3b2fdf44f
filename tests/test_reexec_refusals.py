"""What a re-exec refuses, and why (inline code, a service between two
states, a client with read-only access), with nothing changed after a
refusal; and the other way in: sup.reexec() from the policy, bound to a
signal, which returns nil and why when it is refused."""

import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from helpers import DEADLINE, LUASUP, env_for, lua_quote, wait_until
from helpers.ctl import NOBODY, Policy, ctl, one_line_error
from helpers.controlled import errors, serving
from helpers.ctlsocket import hello

REFUSED = "luasup ctl: re-exec refused, nothing changed: "


def pids(policy):
    return {st["name"]: (st["state"], st.get("pid")) for st in policy.json("list")["services"]}


def test_inline_code_is_refused_by_ctl_and_by_sup_reexec():
    """The new luasup must read the policy again: inline code (here -e)
    cannot be. sup.reexec() says so as its nil, why."""
    with serving("""
init.on('USR2', function()
    init.spawn(function()
        local ok, why = sup.reexec()
        init.log('info', 'sup.reexec() -> %s, %s', tostring(ok), why)
    end)
end)
sup.service('db', {cmd = {'sleep', '3600'}})
""") as luasup:
        socket = os.environ["LUASUP_CTL"]
        why = "the policy is inline code, not a file: the new luasup must read it again"
        one_line_error(ctl(socket, "reexec"), 1, REFUSED + why)
        os.kill(luasup.pid, signal.SIGUSR2)
        wait_until(lambda: "luasup: sup.reexec() -> nil, %s\n" % why in errors(luasup),
                   what="sup.reexec()'s answer logged")
        assert errors(luasup).count("luasup: error: supervise: re-exec refused, nothing changed: %s\n" % why) == 2
        assert hello(socket)["generation"] == 0


STUBBORN = """
sup.service('db', {cmd = {'sleep', '3600'}})
-- its stop signal stays ignored after the exec
sup.service('stubborn', {cmd = {'sh', '-c', "trap '' TERM; touch %s; exec sleep 3601"}, stop = {timeout = 60}})
return sup.run()
"""


def test_a_service_stopping_is_refused_until_it_has_stopped(tmp_path):
    trapped = tmp_path / "trapped"
    with Policy(STUBBORN % lua_quote(str(trapped)), tmp_path) as policy:
        wait_until(trapped.exists, what="stubborn ignoring SIGTERM")
        assert policy.ctl("stop", "--no-wait", "stubborn").returncode == 0
        policy.wait_state("stubborn", "stopping")
        before = pids(policy)

        one_line_error(policy.ctl("reexec"), 1, REFUSED + "service stubborn is stopping")
        assert "luasup: error: supervise: re-exec refused, nothing changed: service stubborn is stopping\n" \
            in policy.stderr()
        assert pids(policy) == before and hello(policy.socket)["generation"] == 0

        assert policy.ctl("kill", "stubborn", "KILL").returncode == 0
        policy.wait_state("stubborn", "stopped")
        assert policy.json("reexec")["generation"] == 1
        assert pids(policy)["db"] == before["db"]


def test_a_read_only_client_may_not_reexec(tmp_path):
    public = tempfile.mkdtemp(prefix="luasup-reexec-test-")  # nobody may enter it: pytest's are root's
    os.chmod(public, 0o755)
    try:
        with Policy("sup.control{allow = {[65534] = 'read'}}\nsup.service('db', {cmd = {'sleep', '3600'}})"
                    "\nreturn sup.run()", public, socket=os.path.join(public, "run", "ctl.sock")) as policy:
            assert ctl(policy.socket, "list", user=NOBODY).returncode == 0  # it may look
            one_line_error(ctl(policy.socket, "reexec", user=NOBODY), 3,
                           "luasup ctl: permission denied: uid 65534 has read-only access")
            assert hello(policy.socket)["generation"] == 0
    finally:
        shutil.rmtree(public, ignore_errors=True)


SIGNALLED = """
if not sup.reloading then init.on('USR2', function() init.spawn(sup.reexec) end) end
sup.service('db', {cmd = {'sleep', '3600'}})
sup.service('web', {cmd = {'sleep', '3601'}, after = 'db'})
return sup.run()
"""


def test_sup_reexec_bound_to_a_signal(tmp_path):
    with Policy(SIGNALLED, tmp_path) as policy:
        policy.wait_state("web", "running")
        before = pids(policy)
        os.kill(policy.pid, signal.SIGUSR2)
        wait_until(lambda: (hello(policy.socket) or {}).get("generation") == 1,
                   what="the re-exec'd luasup answering")
        now = hello(policy.socket)
        assert now["pid"] == policy.pid and now["reexec_failures"] == 0
        assert pids(policy) == before
        assert "luasup: re-exec: handing 2 children over to %s\n" % LUASUP in policy.stderr()


def threads(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(next(line for line in f if line.startswith("Threads:")).split()[1])


def test_a_signal_the_policy_takes_is_its_own_during_the_hand_over(tmp_path):
    """Sent while the new luasup starts (the exec'd process has one thread
    until its loop runs), USR1 waits for the policy's handler: it is not
    relayed to the children, as a signal the policy leaves alone is."""
    with Policy("if not sup.reloading then init.on('USR1', function() init.log('info', 'USR1 handled') end) end\n"
                + SIGNALLED,
                tmp_path) as policy:
        policy.wait_state("web", "running")
        before = pids(policy)
        assert threads(policy.pid) > 1
        reexec = policy.follow("reexec")
        deadline = time.monotonic() + DEADLINE
        while threads(policy.pid) > 1:  # polled tightly: the window is a fraction of a second
            assert time.monotonic() < deadline, "no exec"
        os.kill(policy.pid, signal.SIGUSR1)
        assert reexec.wait(timeout=DEADLINE) == 0, reexec.stderr.read()
        wait_until(lambda: "luasup: USR1 handled\n" in policy.stderr(), what="USR1 handled")
        assert pids(policy) == before


@pytest.mark.parametrize("value, message", [
    ("garbage", "LUASUP_HANDOVER=garbage: not a file descriptor"),
    ("99", "LUASUP_HANDOVER=99: cannot read the hand-over: Bad file descriptor"),
    ("0", "LUASUP_HANDOVER=0: what it holds is not a hand-over"),
])
def test_a_hand_over_that_cannot_be_read_is_a_usage_error(tmp_path, value, message):
    """LUASUP_HANDOVER is luasup's own, set for a re-exec; set by hand to
    something else it is refused in one line, before anything runs."""
    script = tmp_path / "policy.lua"
    script.write_text("print('ran')\n")
    result = subprocess.run([LUASUP, str(script)], env=env_for(LUASUP_HANDOVER=value), input="[1, 2]",
                            capture_output=True, text=True, timeout=DEADLINE)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", "luasup: fatal: re-exec: %s\n" % message)
