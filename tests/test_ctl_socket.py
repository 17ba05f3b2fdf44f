"""The control socket: who may use it (its mode, peer uids, `allow`), what
happens to whatever is already at its path (a stale socket, a live luasup,
a file), when it is served at all, where (LUASUP_CTL), its removal at exit,
followers that get every line, and the same as PID 1 of a PID namespace."""

import json
import os
import re
import select
import shutil
import signal
import stat
import tempfile

import pytest

from helpers import DEADLINE, PY, env_for, helper, start, stop, wait_until
from helpers.ctl import NOBODY, Policy, as_user, ctl, lines, one_line_error

QUIET = """
sup.service('quiet', {cmd = {'sleep', '3600'}})
return sup.run()
"""

# A service that appends its pid to a file at each start: a test can see
# luasup supervise (start, restart) without asking the socket.
MARKED = """
sup.service('marked', {cmd = {'sh', '-c', 'echo $$ >> %s; exec sleep 3600'}, backoff = {initial = 0}})
return sup.run()
"""


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _public_directory():
    """A directory other users may enter: pytest's are root's alone."""
    directory = tempfile.mkdtemp(prefix="luasup-ctl-test-")
    os.chmod(directory, 0o755)
    return directory


@pytest.fixture
def public():
    directory = _public_directory()
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def policies():
    """Policy(body, directory, ...) that are all closed at the end."""
    made = []

    def make(body, directory, **kw):
        os.makedirs(str(directory), exist_ok=True)
        made.append(Policy(body, directory, **kw))
        return made[-1]
    yield make
    for policy in made:
        policy.close()


# -- who may use it -----------------------------------------------------------------

def test_the_socket_is_private_by_default_and_removed_at_exit(public, policies):
    path = os.path.join(public, "run", "ctl.sock")
    luasup = policies(QUIET, public, socket=path).wait_serving()
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    assert (mode(path), os.stat(path).st_uid) == (0o600, 0)
    assert mode(os.path.dirname(path)) == 0o700

    one_line_error(ctl(path, "list", user=NOBODY), 3, "luasup ctl: permission denied")
    assert "quiet" in luasup.ctl("list").stdout

    luasup.terminate()
    assert not os.path.exists(path)


ALLOWING = """
sup.control{allow = {nobody = 'read', [12345] = 'full'}, eval = true}
sup.service('svc', {cmd = {'sleep', '3600'}})
return sup.run()
"""


@pytest.fixture(scope="module")
def allowing():
    directory = _public_directory()
    try:
        with Policy(ALLOWING, directory, socket=os.path.join(directory, "run", "ctl.sock")) as policy:
            yield policy
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_allow_opens_the_socket_to_other_uids(allowing):
    assert mode(allowing.socket) == 0o666
    assert mode(os.path.dirname(allowing.socket)) == 0o711


def test_a_read_only_uid_may_look_but_not_change(allowing):
    pid = allowing.wait_state("svc", "running")["pid"]
    listed = ctl(allowing.socket, "--json", "list", user=NOBODY)
    assert listed.returncode == 0, listed.stderr
    assert [st["name"] for st in json.loads(listed.stdout)["services"]] == ["svc"]
    result = ctl(allowing.socket, "logs", "-n", "1", user=NOBODY)
    assert result.returncode == 0, result.stderr

    for args in (["stop", "svc"], ["eval", "1"]):
        one_line_error(ctl(allowing.socket, *args, user=NOBODY), 3,
                       "luasup ctl: permission denied: uid 65534 has read-only access")
    assert allowing.status("svc")["pid"] == pid


def test_a_full_uid_may_change_but_only_root_may_eval(allowing):
    pid = allowing.wait_state("svc", "running")["pid"]
    result = ctl(allowing.socket, "restart", "svc", user=as_user(12345))
    assert (result.returncode, result.stdout) == (0, "svc: running\n"), result.stderr
    assert allowing.status("svc")["pid"] != pid
    one_line_error(ctl(allowing.socket, "eval", "1 + 1", user=as_user(12345)), 3,
                   "luasup ctl: permission denied: eval is for root only")
    assert allowing.ctl("eval", "1 + 1").stdout == "2\n"


def test_a_uid_not_allowed_is_refused_by_its_credentials(allowing):
    one_line_error(ctl(allowing.socket, "list", user=as_user(23456)), 3,
                   "luasup ctl: permission denied: uid 23456 may not use this socket")


# -- what is at the path -------------------------------------------------------------

def test_a_stale_socket_from_a_killed_luasup_is_replaced(tmp_path, policies):
    path = str(tmp_path / "ctl.sock")
    first = policies(QUIET, tmp_path / "first", socket=path).wait_serving()
    first.close()  # SIGKILL: luasup has no chance to remove its socket
    assert first.proc.returncode == -signal.SIGKILL
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    one_line_error(ctl(path, "list"), 3, "luasup ctl: cannot reach luasup at %s" % path)

    second = policies(QUIET, tmp_path / "second", socket=path).wait_serving()
    assert "quiet" in second.ctl("list").stdout
    assert "ctl:" not in second.stderr()


def test_a_live_socket_is_left_to_the_luasup_that_answers_on_it(tmp_path, policies):
    path = str(tmp_path / "ctl.sock")
    first = policies(QUIET, tmp_path / "first", socket=path).wait_serving()
    marks = str(tmp_path / "second" / "marks")
    second = policies(MARKED % marks, tmp_path / "second", socket=path)
    message = re.compile(r"^luasup: (error: )?ctl: another luasup answers on %s: not serving control$"
                         % re.escape(path), re.M)
    wait_until(lambda: message.search(second.stderr()), what="the second luasup's message")

    # the second one supervises all the same
    wait_until(lambda: lines(marks), what="the second luasup's service to start")
    os.kill(int(lines(marks)[0]), signal.SIGKILL)
    wait_until(lambda: len(lines(marks)) == 2, what="the second luasup to restart its service")

    # and leaves the first one's socket alone, at exit too
    second.terminate()
    assert [st["name"] for st in first.json("list")["services"]] == ["quiet"]


def test_a_file_that_is_not_a_socket_is_left_alone(tmp_path, policies):
    path = tmp_path / "ctl.sock"
    path.write_text("keep me\n")
    marks = str(tmp_path / "marks")
    luasup = policies(MARKED % marks, tmp_path, socket=str(path))
    wait_until(lambda: lines(marks), what="the service to start")
    assert re.search(r"^luasup: (error: )?ctl: %s exists and is not a socket: not serving control$"
                     % re.escape(str(path)), luasup.stderr(), re.M), luasup.stderr()
    one_line_error(ctl(str(path), "list"), 3, "luasup ctl: cannot reach luasup at %s" % path)
    luasup.terminate()
    assert path.read_text() == "keep me\n"


# -- when and where it is served -------------------------------------------------------

def test_control_false_serves_nothing(tmp_path, policies):
    marks = str(tmp_path / "marks")
    luasup = policies("sup.control(false)\n" + MARKED % marks, tmp_path)
    # the socket is bound before any service starts: by now it would exist
    wait_until(lambda: lines(marks), what="the service to start")
    assert not os.path.exists(luasup.socket)
    assert "ctl" not in luasup.stderr()
    one_line_error(luasup.ctl("list"), 3)


@pytest.mark.parametrize("args", [
    ["-e", "local init = require('init')\n"
           "init.exec('sh', '-c', 'echo $$ > MARKS; exec sleep 3600'):wait()"],
    ["--", "sh", "-c", "echo $$ > MARKS; exec sleep 3600"],
], ids=["init-script", "dash-dash"])
def test_luasup_without_the_supervision_library_serves_nothing(tmp_path, args):
    marks = str(tmp_path / "marks")
    socket = str(tmp_path / "ctl.sock")
    proc = start([a.replace("MARKS", marks) for a in args], env=env_for(LUASUP_CTL=socket))
    try:
        wait_until(lambda: lines(marks) or proc.poll() is not None, what="the child to start")
        assert proc.poll() is None, proc.stderr.read()
        assert not os.path.exists(socket)
        one_line_error(ctl(socket, "list"), 3)
    finally:
        stop(proc)


def test_luasup_ctl_in_the_environment_overrides_the_policy_s_path(tmp_path, policies):
    declared = str(tmp_path / "declared.sock")
    chosen = str(tmp_path / "chosen.sock")
    body = "sup.control{path = %r}\n" % declared + QUIET
    overridden = policies(body, tmp_path / "overridden", socket=chosen)  # LUASUP_CTL=chosen
    plain_env = env_for()
    plain_env.pop("LUASUP_CTL", None)
    plain = policies(body, tmp_path / "plain", socket=declared, env=plain_env)
    overridden.wait_serving()
    plain.wait_serving()
    # the client finds the socket by LUASUP_CTL too
    result = ctl(None, "list", env=env_for(LUASUP_CTL=chosen))
    assert result.returncode == 0 and "quiet" in result.stdout, result.stderr
    # each answers on its own path: neither took the other's
    overridden.terminate()
    assert not os.path.exists(chosen) and os.path.exists(declared)
    assert plain.ctl("list").returncode == 0
    plain.terminate()
    assert not os.path.exists(declared)


# -- followers -----------------------------------------------------------------------

# Each run prints 200 numbered lines at once, tagged with its pid.
COUNTERS = """
local count = 'i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo "$$ $i"; done; exec sleep 3600'
for _, name in ipairs({'count1', 'count2'}) do
    sup.service(name, {cmd = {'sh', '-c', count}})
end
return sup.run()
"""


class Follower:
    """A `luasup ctl [--json] logs -f` whose lines are read in chunks."""

    def __init__(self, policy, *args):
        self.proc = policy.follow(*args)
        self.lines = []
        self._rest = b""

    def read(self, timeout):
        """Whatever arrives within timeout; False once the client has ended."""
        fd = self.proc.stdout.fileno()
        if not select.select([fd], [], [], timeout)[0]:
            return True
        data = os.read(fd, 1 << 16)
        if not data:
            return False
        *whole, self._rest = (self._rest + data).split(b"\n")
        self.lines += [line.decode() for line in whole]
        return True

    def close(self):
        self.proc.kill()
        self.proc.wait()


def _counted(follower, as_json):
    """{pid: [numbers]} of the counters' lines a follower printed."""
    runs = {}
    for line in follower.lines:
        if as_json:
            record = json.loads(line)
            text = record["line"]
            assert record["pid"] == int(text.split()[0]), record
        else:
            text = line.split(" | ", 1)[1]
        pid, number = text.split()
        runs.setdefault(int(pid), []).append(int(number))
    return runs


def test_two_clients_following_logs_while_services_restart_get_every_line(tmp_path, policies):
    luasup = policies(COUNTERS, tmp_path).wait_serving()
    human = Follower(luasup, "logs", "-f", "-n", "1", "count1", "count2")
    machine = Follower(luasup, "--json", "logs", "-f", "-n", "1", "count1", "count2")
    try:
        # the first line (the ring's last, or the first new one if the ring
        # is still empty) comes once the client follows
        for follower in (human, machine):
            wait_until(lambda: follower.read(0.5) and follower.lines, what="the first line")
        pids = []
        for _ in range(2):
            assert luasup.ctl("restart", "count1", "count2").returncode == 0
            pids += [st["pid"] for st in luasup.json("list")["services"]]
            for follower in (human, machine):
                follower.read(0)
        for follower, as_json in ((human, False), (machine, True)):
            def complete():
                assert follower.read(0.5), follower.proc.stderr.read()
                runs = _counted(follower, as_json)
                return all(runs.get(pid, [])[-1:] == [200] for pid in pids)
            wait_until(complete, what="every line of the restarted counters")
            runs = _counted(follower, as_json)
            for pid in pids:
                assert runs[pid] == list(range(1, 201)), (pid, runs[pid])
        # luasup gone, they end
        luasup.terminate()
        for follower in (human, machine):
            wait_until(lambda: not follower.read(0.5), what="the follower to end")
            assert follower.proc.wait(timeout=DEADLINE) == 0, follower.proc.stderr.read()
    finally:
        human.close()
        machine.close()


# -- as PID 1 ------------------------------------------------------------------------

AS_PID1 = """
sup.control{eval = true}
sup.service('sig', {cmd = {%r, %r, '--fork', '--out', %r}, stop = 'KILL', critical = true})
return sup.run()
"""


def test_the_same_as_pid_1_of_a_pid_namespace(tmp_path, policies):
    out = str(tmp_path / "signals")
    luasup = policies(AS_PID1 % (PY, helper("sigprint.py"), out), tmp_path, pidns=True).wait_serving()
    assert luasup.ctl("eval", "init.pid()").stdout == "1\n"
    wait_until(lambda: len([line for line in lines(out) if line.startswith("ready ")]) == 2,
               what="sigprint and its grandchild ready")
    assert luasup.ctl("kill", "sig", "USR1").returncode == 0
    wait_until(lambda: {line.split()[0] for line in lines(out) if line.split()[1:2] == ["SIGUSR1"]}
               == {"child", "grandchild"}, what="SIGUSR1 in the whole group")
    assert luasup.ctl("health").returncode == 0
    assert luasup.ctl("stop", "sig").stdout == "sig: stopped\n"
    one_line_error(luasup.ctl("health"), 1, "luasup ctl: sig: stopped (stop requested)")
    luasup.terminate()
    assert not os.path.exists(luasup.socket)
