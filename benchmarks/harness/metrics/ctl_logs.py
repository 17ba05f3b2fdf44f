"""`logs -f` throughput: N services (csrc/logwriter.c) write 100-byte lines
into luasup's log bus, routed to a ring sink that a follower reads through
the control socket: `luasup ctl --json logs -f`, the same without --json,
or the raw protocol (one JSON-RPC connection, each notification decoded in
the harness). The reference is the same policy with a file sink instead of
the ring (`full = 'block'`, so it keeps every line), in the same run.

Twice: writers as fast as they can (a ring never holds its writers back,
so this is what a follower meets when services flood), and paced to a
total rate a follower may keep up with. The clock runs from the moment the
writers are let go until the last of their lines reached the follower
(or, for the file, until the file holds every byte). A follower that falls
behind (1 MiB unsent, luasup/ctl/server.py) has lines skipped and is told
how many once it has caught up (`skipped` in a `log` notification; the
client says it on stderr): its row says how many it received and how many
it was told were skipped, which together must be every line.

The follower is subscribed before the writers are let go: the ring holds a
line (`hold` prints it as it starts), the CLI asks for it (`-n 1`), and
its first line printed means luasup has it among its followers."""

import json
import os
import re
import subprocess
import threading
import time

from .. import control, logload, procs, stats, subjects
from ..result import Column, Result

NAME = "ctl_logs"
WRITERS = 4
TAG = b"|w"  # in every line a writer writes (logwriter.c), in no other
REFERENCE = "file sink, full = 'block'"
QUIET = 2  # s without a new line, the writers gone: the follower has all it will get
CHUNK = 1 << 16
SKIPPED = re.compile(r"(\d+) lines skipped")  # the client's stderr line
READY = b"ready\n"  # what `hold` prints, so the ring has a line before the writers write
PACED = (2e6, 10e6)  # bytes/s, all writers together


def _paced(rate):
    return "paced, %g MB/s" % (rate / 1e6)


KEEP_UP = _paced(PACED[0])  # a follower is expected to receive every line of this one


class Follower:
    """A follower read by a harness thread that counts the writers' lines
    it receives: `lines`, `bytes` (as received), `last` (monotonic s of the
    latest), `ended` (the stream closed: the follower exited or luasup
    dropped it); `skipped()` the lines it was told it missed."""

    def __init__(self):
        self.lines = self.bytes = 0
        self.told = 0  # lines skipped, as the notifications said
        self.last = None
        self.ended = False
        self.subscribed = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            self.read()
        except (OSError, ValueError):
            pass
        finally:
            self.ended = True
            self.subscribed.set()  # whoever waits for it learns it ended

    def received(self, lines, size):
        self.bytes += size
        if lines:
            self.lines += lines
            self.last = time.monotonic()

    def skipped(self):
        return self.told


class Cli(Follower):
    """`luasup ctl [--json] logs -f -n 1`, its stdout a pipe to the harness."""

    def __init__(self, ctx, sock, as_json):
        super().__init__()
        argv = control.ctl(ctx, sock, *(["--json"] if as_json else []), "logs", "-f", "-n", "1")
        self.errfile = ctx.path("err")
        with open(self.errfile, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=err, start_new_session=True)
        self.thread.start()

    def read(self):
        fd = self.proc.stdout.fileno()
        rest = b""
        while True:
            data = os.read(fd, CHUNK)
            if not data:
                return
            data = rest + data
            cut = data.rfind(b"\n") + 1
            whole, rest = data[:cut], data[cut:]
            if whole:
                self.subscribed.set()  # its first line: the one asked for
            self.received(whole.count(TAG), len(data) - len(rest))

    def close(self):
        if self.proc.poll() is None:
            procs.kill_tree(self.proc.pid)
        self.proc.wait(10)
        self.thread.join(10)
        self.proc.stdout.close()

    def _stderr(self):
        with open(self.errfile, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def skipped(self):
        """What the client said was skipped (`N lines skipped`, on stderr)."""
        return sum(int(n) for n in SKIPPED.findall(self._stderr()))

    def said(self):
        """How the client ended when it did on its own: exit code and its
        last line on stderr."""
        lines = self._stderr().strip().splitlines()
        return "exit %s: %s" % (self.proc.returncode, lines[-1] if lines else "(nothing)")


class Raw(Follower):
    """One JSON-RPC connection asking `logs {follow = true}`; the harness
    decodes each notification and counts its records."""

    def __init__(self, sock):
        super().__init__()
        self.rpc = control.Rpc(sock, timeout=None)
        self.thread.start()

    def read(self):
        line, rid = self.rpc.request("logs", n=0, follow=True)
        self.rpc.sock.sendall(line)
        for raw in self.rpc.reader:
            message = json.loads(raw)
            if message.get("id") == rid:
                if "error" in message:
                    raise ValueError(message["error"])
                self.subscribed.set()
            elif message.get("method") == "log":
                params = message["params"]
                self.told += params.get("skipped", 0)
                self.received(sum(1 for r in params["records"] if r["line"].startswith("|w")),
                              len(raw))

    def said(self):
        return None

    def close(self):
        try:
            self.rpc.sock.shutdown(2)
        except OSError:
            pass
        self.thread.join(10)
        self.rpc.close()


def _policy(ctx, sink, lines, go, rate):
    """luasup with `hold` (prints one line, then sleeps) and WRITERS
    logwriters run once each, every line routed to `sink`."""
    program, _, *tail = logload.writer_argv(ctx, 0, lines, go, rate and rate / WRITERS)
    writer = ", ".join([subjects.lua_string(program), "tostring(i)"]
                       + [subjects.lua_string(a) for a in tail])
    return control.luasup(ctx, (
        "local sup = require('supervise')\n"
        "local logs = require('logs')\n"
        "logs.route{to = {%s}}\n"
        "sup.service('hold', {cmd = {'sh', '-c', 'echo %s; exec sleep 3600'}})\n"
        "for i = 1, %d do\n"
        "    sup.service('w' .. i, {cmd = {%s}, restart = 'never'})\n"
        "end\n"
        "return sup.run()\n") % (sink, READY.decode().strip(), WRITERS, writer))


def _subjects():
    """(name, the sink in Lua, how its lines are followed)"""
    yield "ring → ctl --json logs -f", "logs.ring{}", "json"
    yield "ring → ctl logs -f", "logs.ring{}", "text"
    yield "ring → raw JSON-RPC follower", "logs.ring{}", "raw"
    yield REFERENCE, None, None


def _held(rpc, timeout):
    """Until the ring holds `hold`'s line."""
    procs.wait_until(lambda: rpc.call("logs", n=1)["records"], timeout, "a line in the ring")


def _wait_followed(follower, writers, total, deadline):
    """The moment the last line arrived, once every line has arrived or
    been told skipped, the stream ended, or the writers are gone and
    nothing more came for QUIET s (a follower far behind may hear of
    anything only after the writers have finished)."""
    give_up = time.monotonic() + deadline
    seen, quiet_since = -1, None
    while True:
        accounted = follower.lines + follower.skipped()
        if follower.ended or accounted >= total:
            return follower.last
        now = time.monotonic()
        if accounted != seen or any(procs.alive(p) for p in writers):
            seen, quiet_since = accounted, now
        elif now - quiet_since > QUIET:
            return follower.last
        if now > give_up:
            raise procs.Timeout("%d of %d lines after %.0f s" % (follower.lines, total, deadline))
        time.sleep(0.005)


def _wait_file(directory, size, deadline):
    """The moment the file holds `size` bytes, polled every 2 ms."""
    give_up = time.monotonic() + deadline
    while True:
        now = time.monotonic()
        if logload.size([directory]) >= size:
            return now
        if now > give_up:
            raise procs.Timeout("the file short of %d bytes after %.0f s" % (size, deadline))
        time.sleep(0.002)


def _once(ctx, sink, how, lines, rate, deadline):
    """{"seconds", "lines", "skipped", "bytes", "dropped", "cpu" (share of a
    CPU from the go to the end), "said" (what a dropped client printed)} of
    one run."""
    total = lines * WRITERS
    go = ctx.path("go")
    directory = None
    if sink is None:
        directory = ctx.path("logs")
        os.mkdir(directory)
        sink = "logs.file{path = %s, full = 'block'}" % subjects.lua_string(
            os.path.join(directory, "app.log"))
    _, argv, env, sock = _policy(ctx, sink, lines, go, rate)
    follower = None
    with procs.Launch(argv, ctx.path("err"), env=env) as launch:
        try:
            rpc = control.wait_serving(launch, sock, 60)
            try:
                writers = logload.wait_writers(launch, WRITERS, 60)
                if how is not None:
                    _held(rpc, 30)
            finally:
                rpc.close()
            if how is not None:
                follower = Raw(sock) if how == "raw" else Cli(ctx, sock, how == "json")
                if not follower.subscribed.wait(30) or follower.ended:
                    raise procs.Timeout("the follower never printed the line asked for")
            cpu = logload.cpu_seconds(launch.pid)
            started = logload.go(go)
            if follower is None:
                ended = _wait_file(directory, total * logload.LINE + len(READY), deadline)
                got, skipped, size, dropped = total, 0, total * logload.LINE, False
            else:
                ended = _wait_followed(follower, writers, total, deadline)
                got, skipped, size = follower.lines, follower.skipped(), follower.bytes
                dropped = follower.ended and got + skipped < total
            cpu = (logload.cpu_seconds(launch.pid) - cpu) / (time.monotonic() - started)
        finally:
            if follower is not None:
                follower.close()
    if directory:
        got = sum(logload.count([directory], WRITERS)[1].values())
    return {"seconds": ended - started if ended else None, "lines": got, "skipped": skipped,
            "bytes": size, "dropped": dropped, "cpu": cpu,
            "said": dropped and follower.said()}


def run(ctx):
    result = Result(NAME, "logs -f throughput", "lines/s received", [
        Column("writers", "load", "%s"), Column("median", "median", "%.0f"),
        Column("p10–p90", "spread", "%.0f"), Column("MB/s of lines", "mb_s", "%.1f"),
        Column("MB/s as received", "wire_mb_s", "%.1f"), Column("× file sink", "ratio", "%.3f"),
        Column("lines received (worst)", "got", "%d"), Column("of", "total", "%d"),
        Column("told skipped (most)", "skipped", "%d"), Column("unaccounted", "lost", "%d"),
        Column("dropped by luasup", "dropped", "%d"), Column("luasup CPU %", "cpu", "%.0f"),
        Column("runs", "n", "%d")],
        "%d services' lines through a ring to a `logs -f` follower, beside a file sink"
        % WRITERS)
    rounds = ctx.pick(3, 1)
    deadline = ctx.pick(120, 30)
    # (label, lines per writer, total bytes/s or None for flat out)
    loads = [("flat out", ctx.pick(100_000, 5_000), None)]
    if not ctx.quick:
        loads += [(_paced(rate), 25_000, rate) for rate in PACED]
    for label, lines, rate in loads:
        runs, errors, order = {}, {}, []
        for r in range(rounds):
            ctx.log("ctl_logs: %s, round %d/%d" % (label, r + 1, rounds))
            for name, sink, how in _subjects():
                if name not in order:
                    order.append(name)
                if name in errors:
                    continue
                try:
                    runs.setdefault(name, []).append(_once(ctx, sink, how, lines, rate, deadline))
                except (procs.Timeout, OSError, ValueError, control.RpcError) as e:
                    errors[name] = str(e)
                procs.sweep()
        _rows(result, label, order, runs, errors, lines * WRITERS)
    result.notes.insert(0,
        "%d writers of 100-byte lines, each a `sup.service` run once; flat out: %d lines in "
        "all per run%s. lines/s: the writers' lines received ÷ the time from letting them go "
        "to the last one received; MB/s of lines counts 100 bytes a line, as received what "
        "the follower read (JSON and all). luasup CPU %%: its CPU time ÷ the wall time from "
        "the go to the end." % (
            WRITERS, loads[0][1] * WRITERS,
            "; paced: %d lines per run" % (loads[1][1] * WRITERS) if len(loads) > 1 else ""))
    result.notes.insert(1,
        "told skipped: the lines luasup said it skipped while the follower was behind (more "
        "than 1 MiB unsent); unaccounted: lines neither received nor told skipped (the worst "
        "run); dropped by luasup: runs in which it closed the follower's connection. lines/s "
        "counts the lines received. File sink: every line counted in the file afterwards.")
    return result


def _rows(result, load, order, runs, errors, total):
    rates = {name: [m["lines"] / m["seconds"] for m in ms if m["seconds"]]
             for name, ms in runs.items()}
    reference = rates.get(REFERENCE)
    reference = stats.percentile(reference, 50) if reference else None
    for name in order:
        if name in errors:
            result.failed(name, errors[name], load=load)
            continue
        ms = runs[name]
        s = stats.summary(rates[name]) if rates[name] else {}
        s["n"] = len(ms)
        wire = [m["bytes"] / m["seconds"] / 1e6 for m in ms if m["seconds"]]
        row = result.add(
            name, load=load, total=total, got=min(m["lines"] for m in ms),
            skipped=max(m["skipped"] for m in ms),
            lost=max(total - m["lines"] - m["skipped"] for m in ms),
            dropped=sum(1 for m in ms if m["dropped"]),
            mb_s=s["median"] * logload.LINE / 1e6 if "median" in s else None,
            wire_mb_s=stats.percentile(wire, 50) if wire else None,
            ratio=stats.ratio(s.get("median"), reference),
            cpu=stats.percentile([m["cpu"] for m in ms], 50) * 100, **s)
        said = [m["said"] for m in ms if m["said"]]
        if said:
            result.notes.append("%s, %s, dropped: the client said `%s`." % (name, load, said[0]))
        if name == REFERENCE:
            result.target("file sink, %s: every line kept" % load, total - row["got"],
                          row["got"] == total, 0)
            continue
        result.target("%s, %s: every line received or told skipped" % (name, load),
                      row["lost"], row["lost"] == 0 and not row["dropped"], 0)
        if load == KEEP_UP:
            result.target("%s, %s: every line received" % (name, load), total - row["got"],
                          row["got"] == total, 0)
