"""What an open, idle follower costs: luasup keeping N quiet services (sleeps)
with a ring sink, and a `luasup ctl logs -f` or `luasup ctl events`
connected to it while nothing is written and nothing changes. The kernel
counts each time luasup woke (voluntary context switches, every thread) and
its CPU time (schedstat), and the same for the follower, over a W-second
window sampled every second; luasup with no follower is beside them. So is
supervisord with the same programs, alone and with `supervisorctl tail -f`
on one of them.

All set-ups run side by side through the same window (idle processes do
not disturb one another). A follower counts as connected once the
supervisor holds one more socket than before it started; after the window,
luasup's followers must still follow: one more service (`talk`, which
prints a line as it starts) is killed and restarted, and each follower
must print what that caused."""

import os
import subprocess
import time

from .. import control, procs, procstat, stats
from ..result import Column, Result

NAME = "ctl_idle"


def _sockets(pid):
    """How many sockets the process holds open."""
    found = 0
    base = "/proc/%d/fd" % pid
    for fd in os.listdir(base):
        try:
            found += os.readlink(os.path.join(base, fd)).startswith("socket:")
        except OSError:
            pass
    return found


class SetUp:
    """A supervisor and maybe one follower of it, launched side by side
    with the others; `ready()` waits until both are in place."""

    def __init__(self, ctx, server, follower, count):
        self.ctx = ctx
        self.server = server
        self.follower_name = follower and "%s %s" % (
            "ctl" if server == "luasup" else "supervisorctl", " ".join(follower))
        self.name = server + (" + %s" % self.follower_name if follower else "")
        self.count = count
        self.follower = None
        self.output = ctx.path("followed")
        self.launches = []
        if server == "luasup":
            source = ("local sup = require('supervise')\n"
                      "local logs = require('logs')\n"
                      "logs.route{to = {logs.ring{}}}\n"
                      "%s"
                      "sup.service('talk', {cmd = {'sh', '-c', 'echo hello; exec sleep 3600'},\n"
                      "    backoff = {initial = 0}})\n"
                      "return sup.run()\n") % control.sleepers(count)
            self.count += 1
            _, argv, env, self.sock = control.luasup(ctx, source)
            self.follower_argv = follower and control.ctl(ctx, self.sock, "--json", *follower)
        else:
            logs = ctx.path("logs")
            os.mkdir(logs)
            _, argv, env, conf, self.sock = control.supervisord(
                ctx, count, stdout=os.path.join(logs, "%(process_num)d.log"))
            self.follower_argv = follower and ["supervisorctl", "-c", conf] + follower
        self.launch = self._launch(argv, env)

    def _launch(self, argv, env, stdout=None):
        launch = procs.Launch(argv, self.ctx.path("err"), env=env,
                              stdout=stdout or subprocess.DEVNULL)
        self.launches.append(launch)
        return launch

    def ready(self, timeout):
        if self.server == "luasup":
            client = control.wait_serving(self.launch, self.sock, timeout)
            states = lambda: control.luasup_states(client)  # noqa: E731
        else:
            client = control.wait_supervisord(self.launch, self.sock, timeout)
            states = lambda: control.supervisord_states(client)  # noqa: E731
        try:
            control.wait_running(states, self.count, timeout, "services")
            held = _sockets(self.launch.pid)
        finally:
            client.close()
        # the supervisor's side of that connection is gone once it noticed
        procs.wait_until(lambda: _sockets(self.launch.pid) < held, timeout,
                         "the check's connection closed")
        if self.follower_argv:
            before = _sockets(self.launch.pid)
            with open(self.output, "wb") as out:
                self.follower = self._launch(self.follower_argv, None, out)
            procs.wait_until(lambda: _sockets(self.launch.pid) > before, timeout,
                             "%s connected" % self.follower_name)

    def sample(self):
        """(supervisor's (wake-ups, involuntary, CPU ns), follower's or None)"""
        return (procstat.sched(self.launch.pid),
                self.follower and procstat.sched(self.follower.pid))

    def still_following(self, timeout):
        """luasup's follower prints what restarting `talk` caused; the
        others are still running."""
        if self.follower is None or self.follower.proc.poll() is not None:
            return False
        if self.server != "luasup":
            return True
        rpc = control.Rpc(self.sock)
        try:
            rpc.call("kill", name="talk")
        finally:
            rpc.close()
        try:
            procs.wait_until(lambda: os.path.getsize(self.output) > 0, timeout,
                             "output from %s" % self.follower_name)
        except procs.Timeout:
            return False
        return True

    def close(self):
        for launch in reversed(self.launches):
            launch.close()


def _setups(ctx, count):
    for server, followers in (("luasup", (None, ["logs", "-f", "-n", "0"], ["events"])),
                              ("supervisord", (None, ["tail", "-f", "bench:bench_0"]))):
        for follower in followers:
            yield SetUp(ctx, server, follower, count)


def run(ctx):
    result = Result(NAME, "idle followers", "wake-ups/s of the supervisor", [
        Column("median", "median", "%.1f"), Column("p10–p90", "spread", "%.1f"),
        Column("wake-ups", "wakeups", "%d"), Column("extra", "extra", "%d"),
        Column("involuntary", "involuntary", "%d"), Column("CPU ms", "cpu_ms", "%.2f"),
        Column("follower wake-ups", "follower_wakeups", "%d"),
        Column("follower CPU ms", "follower_cpu_ms", "%.2f"),
        Column("still following", "connected", "%s")],
        "an open `ctl logs -f` / `ctl events` while nothing happens")
    count = ctx.pick(100, 5)
    window = ctx.pick(10, 1)
    running, ready, errors = [], [], {}
    try:
        for setup in _setups(ctx, count):
            running.append(setup)
        ctx.log("ctl_idle: waiting for %d set-ups" % len(running))
        for setup in running:
            try:
                setup.ready(ctx.pick(120, 30))
                ready.append(setup)
            except (procs.Timeout, OSError, ValueError, control.RpcError) as e:
                errors[setup.name] = str(e)
        time.sleep(ctx.pick(1, 0.2))  # let start-up work (imports, GC) finish
        ctx.log("ctl_idle: %d s window" % window)
        snaps = {s.name: [s.sample()] for s in ready}
        for _ in range(window):
            time.sleep(1)
            for s in ready:
                snaps[s.name].append(s.sample())
        connected = {s.name: s.still_following(ctx.pick(10, 5)) for s in ready
                     if s.follower is not None}
    finally:
        for setup in running:
            setup.close()
        procs.sweep()
    alone = {}
    for setup in running:
        if setup.name in errors:
            result.failed(setup.name, errors[setup.name])
            continue
        s = snaps[setup.name]
        first, last = s[0], s[-1]
        per_second = [b[0][0] - a[0][0] for a, b in zip(s, s[1:])]
        wakeups = last[0][0] - first[0][0]
        if setup.follower is None:
            alone[setup.server] = wakeups
        row = result.add(
            setup.name, wakeups=wakeups, involuntary=last[0][1] - first[0][1],
            cpu_ms=(last[0][2] - first[0][2]) * 1e-6,
            extra=wakeups - alone[setup.server] if setup.server in alone else None,
            follower_wakeups=last[1] and last[1][0] - first[1][0],
            follower_cpu_ms=last[1] and (last[1][2] - first[1][2]) * 1e-6,
            connected=connected.get(setup.name),
            **stats.summary(per_second))
        if setup.server == "luasup" and setup.follower is not None:
            result.target("luasup with an idle `%s`: 0 wake-ups, still following"
                          % setup.follower_name, wakeups,
                          wakeups == 0 and row["connected"], 0)
    result.notes.append(
        "%d services (sleeps), nothing written, nothing changing; window %d s, wake-ups/s "
        "per 1-s slice of it. luasup routes every record to a `logs.ring{}`; supervisord "
        "logs each program to a file. extra: wake-ups beyond the same supervisor with no "
        "follower in the same window. still following: after the window, luasup's "
        "followers printed the line or the events of a restarted service; supervisorctl "
        "was still running." % (count, window))
    return result
