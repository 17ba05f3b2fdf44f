"""Re-exec under load and as PID 1: `luasup ctl reexec` while services
write numbered lines (through the log bus, relayed with a prefix, straight
to luasup's stdout), a client connects over and over to a socket passed
to a service and another asks the control socket `hello` over and over; exits and signals that arrive during the hand-over; backoff
and failed states carried across. Checked through the real binary: the
lines written, `luasup ctl --json list`, `hello`, /proc."""

import json
import os
import signal
import socket
import threading
import time

import pytest

from helpers import DEADLINE, PY, children, descendants, helper, lua_quote, stat, wait_until, zombies
from helpers.ctl import Policy
from helpers.ctlsocket import Client
from helpers.supervision import state_lines

# the bus writes to a file (and a ring); luasup's own lines stay on stderr
HEAD = """local init = require('init')
local sup = require('supervise')
local logs = require('logs')
local bus = logs.file{path = %s, prefix = '{name} '}
logs.route{to = {logs.ring{lines = 100000}, bus}}
local py = %s
"""

# numbered lines `TAGN` until the file STOP appears: then `TAGend N` (N:
# how many were written), and it waits to be stopped. Through a pipe, each
# line is written in two pieces: a hand-over may find half a line in it.
# To luasup's stdout, in one piece: other writers share that file.
WRITER = """import os, sys, time
tag, stop, pieces = sys.argv[1].encode(), sys.argv[2], sys.argv[3]
n = 0
while not os.path.exists(stop):
    if pieces == "2":
        os.write(1, b"%s%d" % (tag, n))
        os.write(1, b"\\n")
    else:
        os.write(1, b"%s%d\\n" % (tag, n))
    n += 1
    time.sleep(0.002)
os.write(1, b"%send %d\\n" % (tag, n))
while True:
    time.sleep(3600)
"""

# accepts on the socket passed as fd 3: each client gets a number and EOF
SERVER = """import socket
s = socket.socket(fileno=3)
n = 0
while True:
    c, _ = s.accept()
    c.sendall(b"%d\\n" % n)
    c.close()
    n += 1
"""

# waits until its parent (luasup) has been re-exec'd: the new image's
# environment (/proc/PID/environ is the one execve got) names the hand-over
# (while the exec is under way, reading it may fail)
AFTER_REEXEC = """import os, sys, time
def reexeced():
    try:
        with open("/proc/%d/environ" % os.getppid(), "rb") as f:
            return b"LUASUP_HANDOVER=" in f.read()
    except OSError:
        return False
while not reexeced():
    time.sleep(0.002)
"""


def reexeced(pid):
    """Whether luasup `pid` runs a re-exec'd image (see AFTER_REEXEC)."""
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            return b"LUASUP_HANDOVER=" in f.read()
    except OSError:
        return False


def checking(pid):
    """Whether luasup `pid` is checking the new luasup (`luasup --check`
    runs as its child): read from its threads' lists of children, which
    is quick enough to see a check that lasts a fraction of a second."""
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return False
    for task in tasks:
        for child in read("/proc/%d/task/%s/children" % (pid, task)).split():
            if "--check" in read("/proc/%s/cmdline" % child).split("\0"):
                return True
    return False


def catch(moment, pid, what):
    """Wait for moment(pid) without backing off (wait_until sleeps up to
    0.1 s between looks): the moments of a hand-over are short."""
    deadline = time.monotonic() + DEADLINE
    while not moment(pid):
        assert time.monotonic() < deadline, "no %s within %d s" % (what, DEADLINE)
        time.sleep(0.001)


def script(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return lua_quote(str(path))


def start_policy(tmp_path, body, pidns=False):
    head = HEAD % (lua_quote(str(tmp_path / "bus.log")), lua_quote(PY))
    return Policy(body, tmp_path, pidns=pidns, head=head).__enter__()


@pytest.fixture
def policies():
    """start_policy, and whatever it started gone at the end of the test."""
    started = []

    def policy(*args, **kw):
        started.append(start_policy(*args, **kw))
        return started[-1]
    yield policy
    for p in started:
        p.close()


def hello(p):
    client = Client(p.socket)
    try:
        return client.call("hello")
    finally:
        client.close()


def listed(p):
    return {s["name"]: s for s in p.json("list")["services"]}


def counters(services):
    return {name: (s["state"], s.get("pid"), s["restarts"]) for name, s in services.items()}


def wait_states(p, expect):
    """The services once each is in the state `expect` gives it."""
    def settled():
        now = listed(p)
        return now if {n: s["state"] for n, s in now.items()} == expect else None
    return wait_until(settled, what="services %r" % expect)


def reexec(p):
    """`luasup ctl --json reexec`, which must succeed: its answer."""
    result = p.ctl("--json", "reexec")
    assert result.returncode == 0, (result.stdout, result.stderr, p.stderr())
    return json.loads(result.stdout)


def numbers(text, tag):
    """The N of every `TAG N` line, in order, and the count `TAG end N` gave."""
    seen, end = [], None
    for line in text.splitlines():
        words = line.split()
        if words[:1] == [tag] and len(words) == 2:
            seen.append(int(words[1]))
        elif words[:2] == [tag, "end"]:
            end = int(words[2])
    return seen, end


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:  # not there (yet), or a process gone
        return ""


class Hammer(threading.Thread):
    """A client connecting to 127.0.0.1:port over and over (a connection a
    millisecond at most) until stopped or for DEADLINE s at most: how many
    got their answer, and every error."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.done, self.errors = port, 0, []
        self.halt = threading.Event()

    def run(self):
        end = time.monotonic() + DEADLINE
        while not self.halt.wait(0.001) and time.monotonic() < end:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=DEADLINE) as c:
                    answer = c.makefile("rb").read()
                if not answer.endswith(b"\n"):
                    self.errors.append("answer %r" % answer)
            except OSError as e:
                self.errors.append(repr(e))
            self.done += 1

    def stop(self):
        self.halt.set()
        self.join(DEADLINE)
        assert not self.is_alive()


class CtlHammer(Hammer):
    """Hammer's twin for the control socket: a connection and a `hello`
    on it over and over, each answered by whichever luasup serves then."""

    def __init__(self, path):
        super().__init__(None)
        self.path = path

    def run(self):
        end = time.monotonic() + DEADLINE
        while not self.halt.wait(0.001) and time.monotonic() < end:
            try:
                client = Client(self.path)
                try:
                    client.call("hello")
                finally:
                    client.close()
            except (OSError, AssertionError) as e:
                self.errors.append(repr(e))
            self.done += 1


STREAMS = {"bus.log": ["bus"], "luasup.out": ["[pre]", "raw"]}


def test_reexec_under_load_loses_no_line_and_refuses_no_connection(tmp_path, policies):
    writer = script(tmp_path, "writer.py", WRITER)
    server = script(tmp_path, "server.py", SERVER)
    stop = lua_quote(str(tmp_path / "stop"))
    p = policies(tmp_path, """
        local web = assert(init.listen('tcp://127.0.0.1:0', {name = 'web'}))
        local f = io.open(%s, 'w') f:write(web:address():match(':(%%d+)$')) f:close()
        sup.service('bus', {cmd = {py, %s, '', %s, '2'}})
        sup.service('pre', {cmd = {py, %s, '', %s, '2'}, prefix = '[pre] '})
        sup.service('raw', {cmd = {py, %s, 'raw ', %s, '1'}, stdout = 'inherit'})
        sup.service('web', {cmd = {py, %s}, fds = {web}})
        return sup.run()
    """ % (lua_quote(str(tmp_path / "port")), writer, stop, writer, stop, writer, stop, server))
    before = wait_states(p, {"bus": "running", "pre": "running", "raw": "running", "web": "running"})
    first = hello(p)
    hammer = Hammer(int((tmp_path / "port").read_text()))
    ctl_hammer = CtlHammer(p.socket)
    idle = Client(p.socket)  # connected before the re-execs, asks after them
    hammer.start()
    ctl_hammer.start()
    try:
        def written():
            """(lines so far in each stream, connections so far)"""
            return ([len(numbers(read(p.path(f)), tag)[0]) for f, tags in STREAMS.items() for tag in tags],
                    hammer.done)

        def moved_on(since):
            now = written()
            return all(a > b + 20 for a, b in zip(now[0], since[0])) and now[1] > since[1] + 20

        for n in range(1, 4):
            mark = written()
            wait_until(lambda: moved_on(mark), what="lines and connections before re-exec %d" % n)
            answer = reexec(p)
            assert answer["pid"] == first["pid"] and answer["generation"] == first["generation"] + n
        mark = written()
        wait_until(lambda: moved_on(mark), what="lines and connections after the re-execs")
        assert idle.call("hello")["generation"] == first["generation"] + 3
    finally:
        hammer.stop()
        ctl_hammer.stop()
        idle.close()
    assert hammer.errors == [] and hammer.done > 60, (hammer.done, hammer.errors[:5])
    assert ctl_hammer.errors == [] and ctl_hammer.done > 20, (ctl_hammer.done, ctl_hammer.errors[:5])
    after = listed(p)
    assert counters(after) == counters(before)
    last = hello(p)
    assert last["pid"] == first["pid"] == p.pid
    assert last["generation"] == first["generation"] + 3
    (tmp_path / "stop").touch()
    for name, tags in STREAMS.items():
        for tag in tags:
            seen, end = wait_until(lambda: (lambda r: r if r[1] is not None else None)(
                numbers(read(p.path(name)), tag)), what="%s's last line in %s" % (tag, name))
            assert seen == list(range(end)), "%s: %d lines of %d, first gaps %r" % (
                tag, len(seen), end, [(a, b) for a, b in zip([-1] + seen, seen) if b != a + 1][:3])
    # the ring was carried across each re-exec: every line once, in order
    client = Client(p.socket)
    try:
        ring = client.call("logs", names=["bus"], n=100000)
    finally:
        client.close()
    assert "truncated" not in ring
    seen, end = numbers("".join("bus %s\n" % r["line"] for r in ring["records"]), "bus")
    assert seen == list(range(end)), (len(seen), end)
    err = p.stderr()
    assert err.count("luasup: supervise: re-exec: took over 4 services") == 3, err
    assert "Traceback" not in err and "error:" not in err, err


def test_exits_during_the_handover_are_reaped_recorded_and_restarted(tmp_path, policies):
    # brief says goodbye and exits once, right after luasup's exec, before
    # the new luasup has taken its children over: a zombie only the new one
    # can collect, and a pipe only the new one can read. victim is killed
    # (SIGKILL) by the test at that moment.
    brief = script(tmp_path, "brief.py", AFTER_REEXEC + """
marker = sys.argv[1]
if not os.path.exists(marker):
    open(marker, "w").close()
    print("goodbye from", os.getpid(), flush=True)
    sys.exit(3)
while True:
    time.sleep(3600)
""")
    p = policies(tmp_path, """
        sup.service('brief', {cmd = {py, %s, %s}, backoff = {initial = 0.1}})
        sup.service('victim', {cmd = {'sleep', '1000'}, backoff = {initial = 0.1}})
        sup.service('calm', {cmd = {'sleep', '1001'}})
        return sup.run()
    """ % (brief, lua_quote(str(tmp_path / "exited"))))
    before = wait_states(p, {"brief": "running", "victim": "running", "calm": "running"})
    asked = p.follow("reexec")
    try:
        catch(reexeced, p.pid, "exec")
        os.kill(before["victim"]["pid"], signal.SIGKILL)
        assert asked.wait(DEADLINE) == 0, asked.stderr.read()
    finally:
        if asked.poll() is None:
            asked.kill()
        asked.wait()
        asked.stdout.close()
        asked.stderr.close()

    def restarted():
        now = listed(p)
        return now if all(now[n]["state"] == "running" and now[n]["pid"] != before[n]["pid"]
                          for n in ("brief", "victim")) else None
    after = wait_until(restarted, what="brief and victim restarted")
    assert (tmp_path / "exited").exists()
    for name, how, code in (("brief", "exit", 3), ("victim", "signal", 137)):
        assert after[name]["restarts"] == before[name]["restarts"] + 1
        assert (after[name]["last_exit"]["how"], after[name]["last_exit"]["code"]) == (how, code), after[name]
    assert counters({"calm": after["calm"]}) == counters({"calm": before["calm"]})
    # the old processes are gone, not zombies, and no child of luasup is one
    assert stat(before["brief"]["pid"]) is None and stat(before["victim"]["pid"]) is None
    assert zombies(children(p.pid)) == []
    wait_until(lambda: "brief goodbye from %d\n" % before["brief"]["pid"] in read(p.path("bus.log")),
               what="brief's last words in the log")
    # brief exited after the exec: the new luasup saw the exit
    err = p.stderr()
    took = err.index("luasup: supervise: re-exec: took over 3 services")
    assert "service brief: backoff" in err[took:] and "service brief: backoff" not in err[:took], err


def test_as_pid_1_a_reexec_keeps_pid_1_reaps_orphans_and_stops_in_order_on_sigterm(tmp_path, policies):
    # after the re-exec, orphans double-forks three grandchildren that exit:
    # they are reparented to PID 1, the new luasup
    orphans = script(tmp_path, "orphans.py", AFTER_REEXEC + """
import subprocess
subprocess.run([sys.executable, %r, "3", sys.argv[1]], check=True)
while True:
    time.sleep(3600)
""" % helper("orphans.py"))
    p = policies(tmp_path, """
        sup.service('db', {cmd = {'sleep', '1000'}})
        sup.service('app', {cmd = {py, %s, %s}, after = 'db'})
        return sup.run()
    """ % (orphans, lua_quote(str(tmp_path / "orphans"))), pidns=True)
    before = wait_states(p, {"db": "running", "app": "running"})
    assert hello(p)["pid"] == 1
    answer = reexec(p)
    assert answer["pid"] == 1
    assert hello(p)["pid"] == 1
    wait_until(lambda: (tmp_path / "orphans").exists(), what="the orphans' pids")
    assert len((tmp_path / "orphans").read_text().split()) == 3

    def only_the_services():
        below = descendants(p.pid)
        return below if len(below) == 2 and not zombies(below) else None
    services = wait_until(only_the_services, what="the orphans reaped")
    assert counters(listed(p)) == counters(before)
    assert p.terminate() == 143
    err = p.stderr()
    stops = [(svc, state) for svc, state, _ in state_lines(err) if state in ("stopping", "stopped")]
    assert stops == [("app", "stopping"), ("app", "stopped"), ("db", "stopping"), ("db", "stopped")], err
    assert [pid for pid in services if stat(pid)] == []


@pytest.mark.parametrize("when", ["check", "exec"])
def test_a_sigterm_during_the_handover_is_answered(tmp_path, policies, when):
    # check: while the new luasup is being checked; exec: once the exec is
    # done, before the new luasup handles signals (they wait, blocked)
    p = policies(tmp_path, """
        sup.service('a', {cmd = {'sleep', '1000'}})
        sup.service('b', {cmd = {'sleep', '1001'}, after = 'a'})
        return sup.run()
    """)
    before = wait_states(p, {"a": "running", "b": "running"})
    client = Client(p.socket)
    try:
        client.request("r", "reexec")
        catch(checking if when == "check" else reexeced, p.pid, when)
        os.kill(p.pid, signal.SIGTERM)
        assert p.proc.wait(timeout=DEADLINE) == 143
    finally:
        client.close()
    for name, s in before.items():
        assert stat(s["pid"]) is None, name
    assert "SIGTERM" in p.stderr()


def test_a_backoff_ends_when_it_would_have_and_a_failed_service_stays_failed(tmp_path, policies):
    # flaky notes each start's time and exits; its first backoff is 3 s
    flaky = script(tmp_path, "flaky.py", "import sys, time\n"
                   "open(sys.argv[1], 'a').write('%r\\n' % time.time())\nsys.exit(1)\n")
    p = policies(tmp_path, """
        sup.service('flaky', {cmd = {py, %s, %s}, backoff = {initial = 3}})
        sup.service('broken', {cmd = {'sh', '-c', 'exit 7'}, limit = {burst = 0}})
        sup.service('calm', {cmd = {'sleep', '1000'}})
        return sup.run()
    """ % (flaky, lua_quote(str(tmp_path / "starts"))))
    before = wait_states(p, {"flaky": "backoff", "broken": "failed", "calm": "running"})
    # a re-exec halfway through the backoff: a reset would start it again
    # 3 s after the re-exec, 1.5 s late at least
    wait_until(lambda: listed(p)["flaky"]["for"] >= 1.5, what="half of flaky's backoff")
    asked = time.time()
    reexec(p)
    mid = listed(p)
    settled = ("broken", "calm")
    assert counters({n: mid[n] for n in settled}) == counters({n: before[n] for n in settled})
    assert mid["broken"]["why"] == before["broken"]["why"]
    assert {k: v for k, v in mid["broken"]["last_exit"].items() if k != "ago"} == \
        {k: v for k, v in before["broken"]["last_exit"].items() if k != "ago"}
    assert mid["broken"]["last_exit"]["code"] == 7
    wait_until(lambda: len(read(tmp_path / "starts").split()) >= 2, what="flaky's restart")
    first, second = [float(t) for t in read(tmp_path / "starts").split()[:2]]
    assert first + 3 <= second < asked + 3, (first, asked, second)
    assert listed(p)["flaky"]["restarts"] >= 1


def test_the_handover_is_logged_when_luasups_own_lines_go_to_a_file(tmp_path, policies):
    # the line logged just before the exec, once the sinks have been
    # flushed, must still go somewhere: the file, or else stderr
    p = policies(tmp_path, """
        logs.route{name = 'luasup', to = logs.file{path = %s}, final = true}
        sup.service('a', {cmd = {'sleep', '1000'}})
        return sup.run()
    """ % lua_quote(str(tmp_path / "own.log")))
    wait_states(p, {"a": "running"})
    reexec(p)
    wait_until(lambda: "supervise: re-exec: took over 1 service\n" in read(tmp_path / "own.log"),
               what="the new luasup's line in the file")
    logged = p.stderr() + read(tmp_path / "own.log")
    assert "re-exec: handing 1 child over to " in logged, logged
    assert "re-exec: luasup %s took over 1 child from luasup" % hello(p)["version"] in logged, logged


def test_a_log_consumer_gets_every_line_once_across_re_execs(tmp_path, policies):
    # the consumer before a re-exec gets end of file at the exec and exits;
    # the policy run again starts a new one, which gets the lines from there
    writer = script(tmp_path, "writer.py", WRITER)
    consumed = tmp_path / "consumed"
    p = policies(tmp_path, """
        logs.route{name = 'w', to = {logs.process{'sh', '-c', 'cat >> ' .. %s}}, final = true}
        sup.service('w', {cmd = {py, %s, 'w ', %s, '2'}})
        return sup.run()
    """ % (lua_quote(str(consumed)), writer, lua_quote(str(tmp_path / "stop"))))
    wait_states(p, {"w": "running"})

    def consumers():
        return [pid for pid in descendants(p.pid) if b"cat >> " in read_cmdline(pid)]
    first = wait_until(consumers, what="the log consumer")
    for n in range(2):
        mark = len(read(consumed).splitlines())
        wait_until(lambda: len(read(consumed).splitlines()) > mark + 20, what="lines consumed")
        reexec(p)
    wait_until(lambda: consumers() and not set(consumers()) & set(first), what="the first consumer gone")
    assert len(consumers()) == 1
    (tmp_path / "stop").touch()
    seen, end = wait_until(lambda: (lambda r: r if r[1] is not None else None)(
        numbers(read(consumed), "w")), what="w's last line consumed")
    assert sorted(seen) == list(range(end)), (len(seen), end)


def read_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read()
    except OSError:
        return b""


def test_what_the_policy_runs_before_sup_run_is_read_as_usual_after_a_re_exec(tmp_path, policies):
    # the new luasup holds only the pipes handed over until sup.run():
    # a command the policy reads before it must not wait for that
    p = policies(tmp_path, """
        if not sup.reloading then
            local c = init.exec{'sh', '-c', 'echo captured', stdout = 'capture'}
            print('pre', c:stdout(), io.popen('echo popened'):read('*a'))
        end
        sup.service('a', {cmd = {'sleep', '1000'}})
        return sup.run()
    """)
    before = wait_states(p, {"a": "running"})
    reexec(p)
    assert counters(listed(p)) == counters(before)
    assert read(p.path("luasup.out")).count("pre\tcaptured\n\tpopened\n") == 2


def test_a_service_named_with_any_bytes_keeps_its_process(tmp_path, policies):
    p = policies(tmp_path, """
        sup.service('w\\255', {cmd = {'sleep', '1000'}})
        return sup.run()
    """)
    before = {name: (s["state"], s["pid"]) for name, s in wait_until(
        lambda: (lambda l: l if all(s["state"] == "running" for s in l.values()) else None)(listed(p)),
        what="w\\xff running").items()}
    reexec(p)
    assert {name: (s["state"], s["pid"]) for name, s in listed(p).items()} == before
    assert "no longer declared" not in p.stderr()


URG = """import signal, sys, time
signal.signal(signal.SIGURG, lambda *a: print("got SIGURG", flush=True))
print("ready", flush=True)
while True:
    time.sleep(1)
"""


def test_the_children_get_no_signal_of_luasup_s_own(tmp_path, policies):
    # luasup wakes its signal thread with SIGURG (at a hand-over, at its
    # stop): that one is luasup's own, never relayed
    urg = script(tmp_path, "urg.py", URG)
    p = policies(tmp_path, """
        sup.service('u', {cmd = {py, %s}, stdout = 'inherit'})
        return sup.run()
    """ % urg)
    wait_until(lambda: "ready" in read(p.path("luasup.out")), what="u ready")
    reexec(p)
    reexec(p)
    os.kill(p.pid, signal.SIGTERM)
    assert p.proc.wait(timeout=DEADLINE) == 143
    assert "got SIGURG" not in read(p.path("luasup.out"))


def test_a_re_exec_that_fails_after_its_answer_changes_nothing(tmp_path, policies):
    # a sink slow to deliver holds the hand-over for its 2 s; a stop begun
    # meanwhile makes the services' state one a hand-over cannot carry:
    # everything goes on as before, and hello says why
    p = policies(tmp_path, """
        logs.route{name = 'ticker', to = {logs.fn(function() init.sleep(0.5) end)}}
        sup.service('ticker', {cmd = {'sh', '-c', 'while echo tick; do sleep 0.1; done'}})
        sup.service('stubborn', {cmd = {'sh', '-c', 'trap "" TERM; while :; do sleep 0.1; done'},
                                 stop = {timeout = 2}})
        return sup.run()
    """)
    before = wait_states(p, {"ticker": "running", "stubborn": "running"})
    first = hello(p)
    client = Client(p.socket)
    try:
        assert "to" in client.call("reexec")
        assert p.ctl("stop", "--no-wait", "stubborn").returncode == 0
        failed = wait_until(lambda: (lambda h: h if h["reexec_failures"] else None)(hello(p)),
                            what="the re-exec's failure")
    finally:
        client.close()
    assert failed["reexec_error"] == "service stubborn is stopping"
    assert failed["generation"] == first["generation"] and failed["pid"] == first["pid"]
    assert "supervise: re-exec refused, nothing changed: service stubborn is stopping" in p.stderr()
    # served, read and relayed as before; and a later re-exec goes through
    ticks = read(p.path("bus.log")).count("tick")
    wait_until(lambda: read(p.path("bus.log")).count("tick") > ticks, what="ticker's lines still read")
    assert listed(p)["ticker"]["pid"] == before["ticker"]["pid"]
    wait_states(p, {"ticker": "running", "stubborn": "stopped"})
    assert reexec(p)["generation"] == first["generation"] + 1


NOTIFYING = """import os, socket, sys, time
addr = os.environ["NOTIFY_SOCKET"]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"READY=1", "\\0" + addr[1:])
while True:
    try:
        s.sendto(b"STATUS=serving", "\\0" + addr[1:])
    except OSError as e:
        print("notify failed: %s" % e, flush=True)
    time.sleep(0.02)
"""


def test_notify_sockets_and_health_checks_go_on_from_where_they_were(tmp_path, policies):
    # a service's NOTIFY_SOCKET still answers after the exec; a health
    # check in flight at the exec is stopped, not left running beside the
    # next one
    notifying = script(tmp_path, "notifying.py", NOTIFYING)
    p = policies(tmp_path, """
        sup.service('nt', {cmd = {py, %s}, ready = sup.notify(), stdout = 'inherit'})
        sup.service('late', {cmd = {py, %s}, ready = sup.notify(), stdout = 'inherit', autostart = false})
        sup.service('hung', {cmd = {'sleep', '1000'}, health = {probe = sup.command{'sleep', '1001'},
                             every = 1, timeout = 3, failures = 1}})
        return sup.run()
    """ % (notifying, notifying))
    wait_states(p, {"nt": "running", "late": "stopped", "hung": "running"})

    def checks():
        return [pid for pid in descendants(p.pid) if read_cmdline(pid) == b"sleep\x001001\x00"]
    in_flight = wait_until(checks, what="hung's health check running")
    reexec(p)
    for pid in in_flight:
        wait_until(lambda: stat(pid) is None, what="the check in flight at the exec stopped")
    # a service started now gets a notify socket of its own: no clash with those handed over
    assert p.ctl("start", "late").returncode == 0
    wait_until(lambda: listed(p)["hung"]["restarts"] >= 1, what="hung restarted for its health")
    assert len(checks()) <= 1
    assert "notify failed" not in read(p.path("luasup.out"))
    assert {n: s["state"] for n, s in listed(p).items() if n != "hung"} == {"nt": "running", "late": "running"}
