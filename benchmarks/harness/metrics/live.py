"""Live change: a reload with 100 services of which 1 changed, beside
supervisord's `supervisorctl update` on the same 100 programs; and the
first connection to an on-demand service beside the same service started
in advance.

Reload: every service is csrc/stamper.c, which appends its pid and
CLOCK_MONOTONIC to a file on start. One service's file argument flips
between two names at each round (its command changed); the figures are the
wall time of the command (`luasup ctl reload`, `supervisorctl update`)
and the time until the changed service's new process has stamped. The
other 99 must keep their pids (checked each round).

On demand: csrc/greeter.c takes its socket as LISTEN_FDS and greets each
client. The figure is connect to greeting, as a client sees it: for the
on-demand service from idle (luasup starts it on the connection; `idle`
stops it again between rounds), for the other already running."""

import json
import os
import socket
import subprocess
import time

from .. import procs, stats, subjects
from ..result import Column, Result

NAME = "live"
SERVICES = 100
IDLE = 0.3  # s an on-demand service runs without a client before it stops


def _stamp_of(path):
    try:
        with open(path, "rb") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return None
    return int(lines[-1].split()[1]) * 1e-9 if lines else None


def _luasup_policy(ctx, flip):
    stamper = subjects.lua_string(ctx.bins["stamper"])
    lines = ["local sup = require('supervise')"]
    for i in range(SERVICES):
        target = flip if i == 0 else ctx.tmpdir + "/stamps-%d" % i
        lines.append("sup.service('s%d', {cmd = {%s, %s}, stdout = 'null'})"
                     % (i, stamper, subjects.lua_string(target)))
    lines.append("return sup.run()")
    return "\n".join(lines) + "\n"


def _supervisord_conf(ctx, scratch, flip):
    out = ["[supervisord]", "nodaemon=true", "logfile=/dev/null", "loglevel=error",
           "pidfile=%s/supervisord.pid" % scratch, "childlogdir=%s" % scratch, "user=root",
           "[unix_http_server]", "file=%s/supervisor.sock" % scratch,
           "[supervisorctl]", "serverurl=unix://%s/supervisor.sock" % scratch,
           "[rpcinterface:supervisor]",
           "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface"]
    for i in range(SERVICES):
        target = flip if i == 0 else "%s/stamps-%d" % (scratch, i)
        out += ["[program:s%d]" % i, "command=%s %s" % (ctx.bins["stamper"], target),
                "autostart=true", "autorestart=true", "startsecs=0", "stdout_logfile=/dev/null",
                "redirect_stderr=true"]
    return "\n".join(out) + "\n"


class _Reloader:
    """One supervisor with 100 stampers; change() flips service 0's file
    and applies it, returning (command time, time until the new stamp)."""

    def __init__(self, ctx, kind, loop=None):
        self.ctx = ctx
        self.kind = kind
        self.flips = [ctx.path("flip-a"), ctx.path("flip-b")]
        self.round = 0
        if kind == "luasup":
            self.name = "luasup ctl reload (%s)" % loop
            self.file = ctx.path("policy") + ".lua"
            self.sock = ctx.path("ctl") + ".sock"
            self.env = subjects.luasup_env(loop)
            self.env["LUASUP_CTL"] = self.sock
            self._write(self.flips[0])
            argv = [ctx.luasup, self.file]
        else:
            self.name = "supervisorctl update"
            self.scratch = ctx.path("supervisord")
            os.mkdir(self.scratch)
            self.file = os.path.join(self.scratch, "supervisord.conf")
            self.env = None
            self._write(self.flips[0])
            argv = ["supervisord", "-c", self.file]
        self.launch = procs.Launch(argv, ctx.path("err"), env=self.env)
        procs.wait_until(lambda: _stamp_of(self.flips[0]), 60, "first start of the changed service")
        procs.wait_until(lambda: len(self.pids()) == SERVICES, 60, "%d services" % SERVICES)

    def _write(self, flip):
        text = (_luasup_policy(self.ctx, flip) if self.kind == "luasup"
                else _supervisord_conf(self.ctx, self.scratch, flip))
        new = self.file + ".new"
        with open(new, "w") as f:
            f.write(text)
        os.replace(new, self.file)

    def command(self):
        if self.kind == "luasup":
            return [self.ctx.luasup, "ctl", "reload"]
        return ["supervisorctl", "-c", self.file, "update"]

    def pids(self):
        """{service: pid} of the stampers running under it."""
        out = {}
        for pid in procs.descendants(self.launch.pid):
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"stamper"):
                out[argv[1].decode()] = pid
        return out

    def change(self):
        before = self.pids()
        self.round += 1
        flip = self.flips[self.round % 2]
        old = _stamp_of(flip)
        self._write(flip)
        began = time.monotonic()
        run = subprocess.run(self.command(), env=self.env, capture_output=True, timeout=60)
        answered = time.monotonic()
        if run.returncode != 0:
            raise RuntimeError("%s: %s" % (self.command(), (run.stdout + run.stderr)[-300:]))
        stamped = procs.wait_until(lambda: (lambda s: s if s and s != old else None)(_stamp_of(flip)),
                                   30, "the changed service's new start")
        after = self.pids()
        kept = {k: v for k, v in before.items() if not k.startswith(tuple(self.flips))}
        if any(after.get(k) != v for k, v in kept.items()):
            raise RuntimeError("an unchanged service was restarted")
        return answered - began, stamped - began


def _greet_time(port):
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as c:
        if c.makefile("rb").readline() != b"hello\n":
            raise RuntimeError("no greeting")
    return time.monotonic() - began


def _on_demand(ctx, loop, on_demand):
    """A luasup with the greeter on a fresh port; (launch, port, ctl env)."""
    env = subjects.luasup_env(loop)
    env["LUASUP_CTL"] = ctx.path("ctl") + ".sock"
    portfile = ctx.path("port")
    source = ("local init = require('init')\nlocal sup = require('supervise')\n"
              "local l = assert(init.listen('tcp://127.0.0.1:0'))\n"
              "local f = io.open(%s, 'w') f:write(l:address():match(':(%%d+)$')) f:close()\n"
              "sup.service('greeter', {cmd = {%s}, fds = {l}%s})\nreturn sup.run()\n"
              % (subjects.lua_string(portfile), subjects.lua_string(ctx.bins["greeter"]),
                 ", on_demand = {idle = %g}" % IDLE if on_demand else ""))
    name, argv, _ = subjects.luasup_script(ctx, loop, source)
    launch = procs.Launch(argv, ctx.path("err"), env=env)
    port = procs.wait_until(lambda: os.path.exists(portfile) and open(portfile).read().strip(),
                            30, "the listener")
    return launch, int(port), env


def _state(ctx, env):
    run = subprocess.run([ctx.luasup, "ctl", "--json", "status", "greeter"], env=env,
                         capture_output=True, timeout=30)
    return json.loads(run.stdout)["state"] if run.returncode == 0 else None


def run(ctx):
    result = Result(NAME, "live change", "ms", [
        Column("median", "median", "%.1f"), Column("p10–p90", "spread", "%.1f"),
        Column("until the changed one runs", "started", "%.1f"),
        Column("× reference", "ratio", "%.2f"), Column("rounds", "n", "%d")],
        "a reload with %d services of which 1 changed (wall time of the command, and until the"
        " changed service's new process has started; reference: supervisorctl update), and the"
        " first connection to an on-demand service (connect to greeting; reference: the same"
        " service started in advance)" % SERVICES)
    rounds = ctx.pick(10, 2)
    reloaders, errors = [], {}
    try:
        for kind, loop in [("supervisord", None)] + [("luasup", lp) for lp in subjects.LOOPS]:
            try:
                reloaders.append(_Reloader(ctx, kind, loop))
            except (procs.Timeout, OSError) as e:
                errors["supervisorctl update" if kind == "supervisord" else
                       "luasup ctl reload (%s)" % loop] = str(e)
        times = {r.name: ([], []) for r in reloaders}
        for i in range(rounds):
            ctx.log("live: reload round %d/%d" % (i + 1, rounds))
            for r in list(reloaders):
                try:
                    took, started = r.change()
                except (procs.Timeout, RuntimeError, subprocess.TimeoutExpired) as e:
                    errors[r.name] = "%s %s" % (e, r.launch.stderr_tail())
                    reloaders.remove(r)
                    continue
                times[r.name][0].append(took)
                times[r.name][1].append(started)
    finally:
        for r in reloaders:
            r.launch.close()
        procs.sweep()
    reference = times.get("supervisorctl update")
    ref = stats.percentile(reference[0], 50) if reference and reference[0] else None
    for name in ["supervisorctl update"] + ["luasup ctl reload (%s)" % lp for lp in subjects.LOOPS]:
        if name in errors:
            result.failed(name, errors[name])
        elif name in times and times[name][0]:
            took, started = times[name]
            result.add(name, started=stats.percentile(started, 50) * 1e3,
                       ratio=stats.ratio(stats.percentile(took, 50), ref), **stats.summary(took, 1e3))

    for loop in subjects.LOOPS:
        samples = {}
        for on_demand in (False, True):
            label = "first connection, %s (%s)" % ("on demand" if on_demand else "started in advance",
                                                  loop)
            launch = None
            try:
                launch, port, env = _on_demand(ctx, loop, on_demand)
                values = []
                for _ in range(ctx.pick(20, 3)):
                    if on_demand:
                        procs.wait_until(lambda: _state(ctx, env) == "idle", 30, "greeter idle")
                    else:
                        procs.wait_until(lambda: _state(ctx, env) == "running", 30, "greeter running")
                    values.append(_greet_time(port))
                samples[on_demand] = values
            except (procs.Timeout, OSError, RuntimeError, ValueError) as e:
                result.failed(label, "%s %s" % (e, launch.stderr_tail() if launch else ""))
                continue
            finally:
                if launch:
                    launch.close()
                procs.sweep()
            ref = stats.percentile(samples[False], 50) if samples.get(False) else None
            result.add(label, ratio=stats.ratio(stats.percentile(values, 50), ref) if on_demand else 1.0,
                       **stats.summary(values, 1e3))
    result.notes.append("reload: the 99 unchanged services kept their pids in every round, under"
                        " each supervisor. On demand: the greeter is a C program; the on-demand"
                        " figure is luasup noticing the connection, starting the service and the"
                        " service's own start.")
    return result
