"""Re-exec: how long output and connections pause while luasup replaces
itself (`luasup ctl reexec`) with 100 services running, beside the other
ways of getting a new supervisor: luasup stopped and started again,
`supervisorctl reload` (supervisord stops every program, reads its
configuration again and starts them all, in the same process: the code it
runs stays what it started with) and supervisord stopped and started (how
a new supervisord is put in place).

Each set-up runs 100 csrc/ticker.c services, each writing a numbered,
timestamped line every PERIOD ms through the supervisor (luasup: the log
bus to a console sink; supervisord: stdout_logfile=/dev/stdout) into one
pipe the harness reads, and a csrc/greeter.c service accepting on a unix
socket the supervisor passes it (luasup: init.listen in `fds`;
supervisord: an fcgi-program's socket). While a round runs, one client
connects to that socket every few ms and reads the greeting, another
connects to the control socket and asks `hello` (supervisord:
supervisor.getState); a failed attempt is counted and retried.

A round: a quiet window (the normal gap between relayed lines), the
command, then until every service has written again and both clients have
been answered, and a short tail. Figures: the longest gap between two
lines relayed in the round (the output pause), from the command to the
line that ended that gap, the longest a line waited between its write and
its arrival, the longest a client waited for an answer (retries included:
from its first failed attempt), the attempts that failed, the services
whose pid is the same afterwards and the lines lost (a number missing in a
process's sequence). For luasup's re-exec, its own log lines on the same
pipe split the time: until the last line before the pause (the client's
start-up, the new luasup's --check), then until the exec (flushing, the
snapshot), the exec to the new luasup's first line (Python, imports, the
Lua runtime, reading the hand-over), the policy's run and the adoption,
and on to the first line relayed."""

import os
import re
import signal
import socket
import subprocess
import threading
import time

from .. import control, procs, stats, subjects
from ..result import Column, Result

NAME = "reexec"
PERIOD = 200  # ms between two lines of one service
QUIET = 1.5  # s watched before the command: the normal gap
TAIL = 0.5  # s watched after everything is back
SOCKET_EVERY = 0.005  # s between two connections to the passed socket
HELLO_EVERY = 0.01  # s between two control connections

TICK = re.compile(rb"(t\d+) (\d+) (\d+) (\d+)$")
RX_LINES = {  # luasup's own log lines that mark the re-exec's steps
    "exec": b"luasup: re-exec: handing ",
    "started": b"luasup: re-exec: luasup ",
    "adopted": b"luasup: supervise: re-exec: took over ",
}


class _Collector(threading.Thread):
    """Reads the pipe every supervisor of a set-up writes to (its relayed
    lines and its own log), and notes when each read arrived."""

    def __init__(self):
        super().__init__(daemon=True)
        self.read_end, self.write_end = os.pipe()
        self.lines = []  # (arrival, line)
        self._partial = b""

    def run(self):
        while True:
            data = os.read(self.read_end, 1 << 16)
            if not data:
                return
            now = time.monotonic()
            lines = (self._partial + data).split(b"\n")
            self._partial = lines.pop()
            self.lines.extend((now, l) for l in lines)

    def since(self, t):
        """The lines arrived from t on (the list only grows)."""
        lines = self.lines
        i = len(lines)
        while i > 0 and lines[i - 1][0] >= t:
            i -= 1
        return lines[i:]

    def close(self):
        os.close(self.write_end)
        self.join(10)
        os.close(self.read_end)


class _Prober(threading.Thread):
    """A client trying `attempt` every `every` s while active, each try
    recorded as (start, end, what went wrong or None)."""

    def __init__(self, attempt, every):
        super().__init__(daemon=True)
        self.attempt = attempt
        self.every = every
        self.active = threading.Event()
        self.done = False
        self.tries = []

    def run(self):
        while not self.done:
            if not self.active.wait(0.05):
                continue
            start = time.monotonic()
            try:
                self.attempt()
                kind = None
            except Exception as e:  # whatever a client can meet is a failed attempt
                kind = _failure(e)
            end = time.monotonic()
            self.tries.append((start, end, kind))
            time.sleep(max(0.0, start + self.every - time.monotonic()))

    def answered_since(self, t):
        return any(s >= t and k is None for s, _, k in self.tries[-50:])

    def close(self):
        self.done = True
        self.active.set()
        self.join(10)


def _failure(e):
    """What a client met, in a word."""
    for kinds, word in [(ConnectionRefusedError, "refused"), (FileNotFoundError, "no socket"),
                        ((ConnectionResetError, BrokenPipeError), "reset"),
                        (socket.timeout, "timeout"),
                        ((ConnectionError, ValueError), "closed unanswered"),
                        (control.RpcError, "error answer")]:
        if isinstance(e, kinds):
            return word
    return type(e).__name__


def _greet(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(10)
        c.connect(path)
        if c.recv(16) != b"hello\n":
            raise ValueError("no greeting")


def _hello(path):
    rpc = control.Rpc(path, timeout=10)
    try:
        rpc.call("hello")
    finally:
        rpc.close()


def _get_state(path):
    client = control.XmlRpc(path, timeout=10)
    try:
        client.call("supervisor.getState")
    finally:
        client.close()


def _luasup_policy(ctx, greet_path, count):
    return """local init = require('init')
local logs = require('logs')
local sup = require('supervise')
local greet = assert(init.listen(%s, {name = 'greet'}))
logs.route{to = logs.console{prefix = '{name} | '}}
sup.service('greeter', {cmd = {%s}, fds = {greet}})
for i = 1, %d do
    sup.service('t' .. i, {cmd = {%s, 't' .. i, '%d'}})
end
return sup.run()
""" % (subjects.lua_string("unix://" + greet_path), subjects.lua_string(ctx.bins["greeter"]),
       count, subjects.lua_string(ctx.bins["ticker"]), PERIOD)


def _supervisord_conf(ctx, scratch, greet_path, sock, count):
    out = ["[supervisord]", "nodaemon=true", "logfile=/dev/null", "logfile_maxbytes=0",
           "loglevel=error", "pidfile=%s/supervisord.pid" % scratch, "childlogdir=%s" % scratch,
           "user=root", "minfds=1024",
           "[unix_http_server]", "file=%s" % sock, "chmod=0700",
           "[supervisorctl]", "serverurl=unix://%s" % sock,
           "[rpcinterface:supervisor]",
           "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
           "[fcgi-program:greeter]", "socket=unix://%s" % greet_path,
           "command=%s 0" % ctx.bins["greeter"], "autorestart=true", "startsecs=0",
           "stdout_logfile=/dev/stdout", "stdout_logfile_maxbytes=0", "redirect_stderr=true"]
    for i in range(1, count + 1):
        out += ["[program:t%d]" % i, "command=%s t%d %d" % (ctx.bins["ticker"], i, PERIOD),
                "autostart=true", "autorestart=true", "startsecs=0",
                "stdout_logfile=/dev/stdout", "stdout_logfile_maxbytes=0",
                "redirect_stderr=true"]
    return "\n".join(out) + "\n"


class _Setup:
    """One supervisor with `count` tickers and a greeter, the pipe it
    writes to, and its two clients. `change()` is the subject's way of
    getting a new supervisor; it returns once that one answers."""

    def __init__(self, ctx, subject, count):
        self.ctx = ctx
        self.subject = subject
        self.kind, self.way = SUBJECTS[subject]
        self.count = count
        directory = ctx.path("reexec")
        os.mkdir(directory, 0o700)
        self.greet_path = os.path.join(directory, "greet.sock")
        self.sock = os.path.join(directory, "ctl.sock")
        self.out = _Collector()
        self.out.start()
        if self.kind == "supervisord":
            self.conf = os.path.join(directory, "supervisord.conf")
            with open(self.conf, "w") as f:
                f.write(_supervisord_conf(ctx, directory, self.greet_path, self.sock, count))
            self.argv, self.env = ["supervisord", "-c", self.conf], None
            ask = _get_state
        else:
            policy = os.path.join(directory, "policy.lua")
            with open(policy, "w") as f:
                f.write(_luasup_policy(ctx, self.greet_path, count))
            self.argv, self.env = [ctx.luasup, policy], subjects.luasup_env("uvloop")
            self.env["LUASUP_CTL"] = self.sock
            ask = _hello
        self.probers = {"socket": _Prober(lambda: _greet(self.greet_path), SOCKET_EVERY),
                        "ctl": _Prober(lambda: ask(self.sock), HELLO_EVERY)}
        for p in self.probers.values():
            p.start()
        self.launch = None
        self._start()

    def _start(self):
        began = time.monotonic()
        self._launch()
        procs.wait_until(lambda: len(self._ids(self.out.since(began))) == self.count, 60,
                         "line from each of %d services" % self.count, interval=0.05)

    def _ids(self, lines):
        return {m.group(1) for _, l in lines for m in [TICK.search(l)] if m}

    def _launch(self):
        """Start the supervisor; return once it answers on its control socket."""
        self.launch = procs.Launch(self.argv, None, env=self.env, stdout=self.out.write_end,
                                   stderr=self.out.write_end)
        self._wait_answering(60)

    def _wait_answering(self, timeout):
        ask = self.probers["ctl"].attempt
        deadline = time.monotonic() + timeout
        while True:
            if self.launch.proc.poll() is not None:
                raise procs.Timeout("%s exited %s: %s" % (self.argv[0], self.launch.proc.returncode,
                                                        self.said()))
            try:
                return ask()
            except (OSError, ValueError, control.RpcError):
                if time.monotonic() > deadline:
                    raise procs.Timeout("no answer on %s within %.0f s: %s"
                                        % (self.sock, timeout, self.said()))
                time.sleep(0.01)

    def said(self):
        return " | ".join(l.decode("utf-8", "replace") for _, l in self.out.lines[-300:]
                          if not TICK.search(l))[-300:]

    def change(self):
        if self.way == "reexec":
            run = subprocess.run([self.ctx.luasup, "ctl", "reexec"], env=self.env,
                                 capture_output=True, timeout=60)
            if run.returncode != 0:
                raise RuntimeError("luasup ctl reexec: %s" % (run.stdout + run.stderr)[-300:])
        elif self.way == "reload":
            run = subprocess.run(["supervisorctl", "-c", self.conf, "reload"],
                                 capture_output=True, timeout=60)
            if run.returncode != 0 or b"Restarted supervisord" not in run.stdout:
                raise RuntimeError("supervisorctl reload: %s" % (run.stdout + run.stderr)[-300:])
        else:  # stopped and started again
            self.launch.proc.send_signal(signal.SIGTERM)
            self.launch.wait(30)
            self._launch()

    def round(self):
        """One change, watched: the round's figures."""
        for p in self.probers.values():
            p.active.set()
        watch = time.monotonic()
        time.sleep(QUIET)
        sent = time.monotonic()
        self.change()
        returned = time.monotonic()
        procs.wait_until(lambda: len(self._ids(self.out.since(returned))) == self.count
                         and all(p.answered_since(returned) for p in self.probers.values()),
                         30, "every service and client back", interval=0.02)
        time.sleep(TAIL)
        for p in self.probers.values():
            p.active.clear()
        end = time.monotonic()
        return self._figures(watch, sent, returned, end)

    def _figures(self, watch, sent, returned, end):
        lines = [(t, l) for t, l in self.out.since(watch) if t <= end]
        ticks = [(t, m) for t, l in lines for m in [TICK.search(l)] if m]
        times = [t for t, _ in ticks]
        quiet = [t for t in times if t < sent]
        gaps = [(b - a, b) for a, b in zip(times, times[1:]) if b >= sent]
        if not gaps or not quiet:
            raise RuntimeError("no line relayed before or after the command")
        pause, back = max(gaps)
        before = {m.group(1): m.group(3) for t, m in ticks if t < sent}
        after = {m.group(1): m.group(3) for t, m in ticks if t > returned}
        seqs = {}
        for _, m in ticks:
            seqs.setdefault((m.group(1), m.group(3)), []).append(int(m.group(2)))
        lost = sum(max(s) - min(s) + 1 - len(set(s)) for s in seqs.values())
        out = {
            "command": (returned - sent) * 1e3,
            "pause": pause * 1e3,
            "normal": max(b - a for a, b in zip(quiet, quiet[1:])) * 1e3,
            "back": (back - sent) * 1e3,
            "waited": max(t - int(m.group(4)) * 1e-9 for t, m in ticks if t >= sent) * 1e3,
            "kept": sum(1 for k, v in after.items() if before.get(k) == v),
            "lost": lost,
        }
        for name, p in self.probers.items():
            tries = [x for x in p.tries if watch <= x[0] <= end]
            longest, first_failed = 0.0, None
            for start, stop, kind in tries:
                if kind is not None:
                    first_failed = first_failed or start
                    continue
                longest = max(longest, stop - (first_failed or start))
                first_failed = None
            out[name] = longest * 1e3
            out[name + "_failed"] = sum(1 for x in tries if x[2] is not None)
            out[name + "_kinds"] = sorted({x[2] for x in tries if x[2] is not None})
        if self.way == "reexec":
            marks = {}
            for t, l in lines:
                for step, text in RX_LINES.items():
                    if t >= sent and step not in marks and l.startswith(text):
                        marks[step] = t
            if len(marks) == len(RX_LINES):
                # the last line before the pause: about when the pipes were held
                out["until_held"] = (back - pause - sent) * 1e3
                out["held_to_exec"] = (marks["exec"] - (back - pause)) * 1e3
                out["exec_to_start"] = (marks["started"] - marks["exec"]) * 1e3
                out["policy_adopt"] = (marks["adopted"] - marks["started"]) * 1e3
                out["adopt_to_output"] = (back - marks["adopted"]) * 1e3
        return out

    def close(self):
        for p in self.probers.values():
            p.close()
        if self.launch is not None:
            self.launch.close()
        self.out.close()


SUBJECTS = {  # name: (supervisor, how a new one comes)
    "luasup ctl reexec": ("luasup", "reexec"),
    "luasup stopped and started": ("luasup", "restart"),
    "supervisorctl reload": ("supervisord", "reload"),
    "supervisord stopped and started": ("supervisord", "restart"),
}


def run(ctx):
    count = ctx.pick(100, 10)
    result = Result(NAME, "re-exec pause", "ms", [
        Column("command", "command", "%.0f"),
        Column("output pause", "median", "%.0f"), Column("p10–p90", "spread", "%.0f"),
        Column("normal gap", "normal", "%.0f"),
        Column("output back after", "back", "%.0f"),
        Column("longest line wait", "waited", "%.0f"),
        Column("passed socket: longest answer", "socket", "%.1f"),
        Column("failed", "socket_failed", "%d"),
        Column("control: longest answer", "ctl", "%.1f"),
        Column("failed", "ctl_failed", "%d"),
        Column("pids kept", "kept", "%d"),
        Column("lines lost", "lost", "%d"),
        Column("× supervisorctl reload", "ratio", "%.2f"),
        Column("rounds", "n", "%d")],
        "%d services writing a line every %d ms each through the supervisor, a client"
        " connecting to a socket it passed to a service, another to its control socket;"
        " a new supervisor by luasup ctl reexec, by stopping and starting luasup, by"
        " supervisorctl reload, and by stopping and starting supervisord: medians over rounds"
        " (failed and lost: summed)" % (count, PERIOD))
    rounds = ctx.pick(5, 1)
    setups, errors, figures = [], {}, {s: [] for s in SUBJECTS}
    try:
        for subject in SUBJECTS:
            try:
                setups.append(_Setup(ctx, subject, count))
            except (procs.Timeout, OSError) as e:
                errors[subject] = str(e)
        for i in range(rounds):
            ctx.log("reexec: round %d/%d" % (i + 1, rounds))
            for s in list(setups):
                try:
                    figures[s.subject].append(s.round())
                except (procs.Timeout, RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
                    errors[s.subject] = "%s %s" % (e, s.said())
                    setups.remove(s)
                    s.close()
    finally:
        for s in setups:
            s.close()
        procs.sweep()
    medians = {s: {k: stats.percentile([r[k] for r in rows], 50) for k in rows[0]
                   if isinstance(rows[0][k], float) and all(k in r for r in rows)}
               for s, rows in figures.items() if rows}
    ref = medians.get("supervisorctl reload", {}).get("pause")
    for subject in SUBJECTS:
        rows = figures[subject]
        if subject in errors:
            result.failed(subject, errors[subject])
            continue
        m = medians[subject]
        row = dict(m)
        row.update(stats.summary([r["pause"] for r in rows]))
        row.update(ratio=stats.ratio(m["pause"], ref),
                   kept=min(r["kept"] for r in rows), lost=sum(r["lost"] for r in rows),
                   socket_failed=sum(r["socket_failed"] for r in rows),
                   ctl_failed=sum(r["ctl_failed"] for r in rows),
                   socket_kinds=sorted({k for r in rows for k in r["socket_kinds"]}),
                   ctl_kinds=sorted({k for r in rows for k in r["ctl_kinds"]}))
        result.add(subject, **row)
        if row["socket_kinds"] or row["ctl_kinds"]:
            result.notes.append("%s: the failed attempts were %s" % (subject, "; ".join(
                "%s: %s" % (what, ", ".join(row[what + "_kinds"]))
                for what in ("socket", "ctl") if row[what + "_kinds"])))
        if "until_held" in m:
            result.notes.append(
                "where luasup's re-exec time goes (medians): %.0f ms from the command to the last"
                " line relayed before the pause (the client's start-up, the new luasup's --check),"
                " then the pause: %.0f ms until the exec (flushing the sinks, the snapshot),"
                " %.0f ms from the exec to the new luasup's first log line (Python, imports, the"
                " Lua runtime, reading the hand-over), %.0f ms running the policy and adopting the"
                " services, %.0f ms more until the first line relayed."
                % (m["until_held"], m["held_to_exec"], m["exec_to_start"], m["policy_adopt"],
                   m["adopt_to_output"]))
    result.notes.append("pids kept: of the %d services, those with the same pid after the change"
                        " (fewest over the rounds). supervisord's control client is XML-RPC"
                        " supervisor.getState on a new connection each time; a failed attempt"
                        " (refused, no socket, reset, closed unanswered, an error answer) is"
                        " retried after %.0f ms, and the longest answer counts from the first"
                        " failed attempt."
                        % (count, HELLO_EVERY * 1e3))
    return result
