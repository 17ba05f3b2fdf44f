"""luasup's memory while its HTTP sink is dead: N writers (csrc/logwriter.c,
paced) write B bytes over T seconds, routed both to `logs.http{url =
'http://127.0.0.1:PORT/loki/api/v1/push', max_bytes = M}` and to a file.
PORT either accepts connections and never answers (a thread holds them
open and reads nothing: each POST waits for its timeout) or refuses them
(a port nobody listens on). luasup's RSS is sampled every second from the
moment the writers start until they are done; the sink must drop what does
not fit in M bytes, and its memory must stay flat once the queue is full.

The file sink beside it must get every line: a dead sink must not hold up
the others. A row with the file sink alone shows what the bus costs without
the dead sink. What the HTTP sink dropped is its own count (sink:stats(),
written by the script once the writers have exited) and the warning lines
it logged."""

import os
import shutil
import socket
import threading
import time

from .. import logload, procs, procstat, subjects
from ..result import Column, Result

NAME = "log_memory_dead_sink"
WRITERS = 4
# What the RSS may grow by, as luasup/logs/httpsink.py documents it: twice
# max_bytes plus the batch in hand (1 MiB by default), for the heap's
# fragmentation. The "within the configured bound" read strictly is
# growth ≤ max_bytes: the table's "growth × max_bytes" shows that reading.
BATCH = 1 << 20
GROWTH = 2
FLAT = 2 << 20  # bytes the RSS may still grow in the second half of the run


class Silent:
    """A local port that accepts connections and never answers nor reads."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    @property
    def accepted(self):
        return len(self.held)

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)
        for conn in self.held:
            conn.close()


class Refused:
    """A local port nobody listens on: every connection is refused."""

    def __init__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.accepted = None

    def close(self):
        pass


def _source(ctx, port, max_bytes, path, lines, go, rate):
    sinks = [("file", "logs.file{path = %s}" % subjects.lua_string(path))]
    if port is not None:
        url = "http://127.0.0.1:%d/loki/api/v1/push" % port
        sinks.insert(0, ("http", "logs.http{url = %s, max_bytes = %d}"
                         % (subjects.lua_string(url), max_bytes)))
    return logload.luasup_script(ctx, "uvloop", sinks, WRITERS, lines, go, rate, drain=["file"])


def _sample(launch, writers, every, deadline):
    """[(s since the first sample, RSS KiB)] each `every` s until the
    writers have exited and the script has written its sinks' stats."""
    samples, start = [], time.monotonic()
    give_up = start + deadline
    while True:
        now = time.monotonic()
        samples.append((now - start, procstat.memory(launch.pid)["rss"]))
        if not any(procs.alive(p) for p in writers) and logload.sink_stats(launch):
            return samples
        if launch.proc.poll() is not None:
            raise procs.Timeout("luasup exited %s: %s"
                                % (launch.proc.returncode, logload.what_went_wrong(launch)))
        if now > give_up:
            raise procs.Timeout("writers still running after %.0f s" % deadline)
        time.sleep(max(0.0, start + len(samples) * every - time.monotonic()))


def _once(ctx, dead, max_bytes, lines, rate, seconds):
    scratch = ctx.path("logs")
    os.mkdir(scratch)
    go = ctx.path("go")
    _, argv, env = _source(ctx, dead and dead.port, max_bytes,
                           os.path.join(scratch, "app.log"), lines, go, rate)
    try:
        with procs.Launch(argv, ctx.path("err"), env=env) as launch:
            writers = logload.wait_writers(launch, WRITERS, 60)
            logload.go(go)
            samples = _sample(launch, writers, 1.0, seconds * 3 + 60)
            sinks = logload.sink_stats(launch)
            with open(launch.errfile, "rb") as f:
                warnings = sum(1 for l in f if b"warning" in l and b"http" in l)
        _, each = logload.count([scratch], WRITERS)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return samples, sinks, warnings, sum(max(0, lines - c) for c in each.values())


def _series(samples, step):
    """The RSS in MiB every `step` samples (seconds), as one table cell."""
    return " ".join("%.0f" % (kib / 1024) for _, kib in samples[::step])


def run(ctx):
    result = Result(NAME, "memory with a dead HTTP sink", "MiB RSS", [
        Column("RSS at start", "start", "%.1f"), Column("peak", "peak", "%.1f"),
        Column("growth", "growth", "%.1f"), Column("growth × max_bytes", "per_bound", "%.2f"),
        Column("2nd half growth", "late", "%.1f"),
        Column("RSS every %d s" % ctx.pick(10, 1), "series", "%s"),
        Column("http dropped lines", "dropped", "%d"),
        Column("http dropped MB", "dropped_mb", "%.1f"),
        Column("drop warnings", "warnings", "%d"),
        Column("connections accepted", "accepted", "%d"),
        Column("file: lines lost", "lost", "%d")],
        "writers paced to B bytes over T s, routed to a dead HTTP sink and a file")
    seconds = ctx.pick(60, 4)
    total = ctx.pick(100_000_000, 4_000_000)
    max_bytes = ctx.pick(8 << 20, 1 << 20)  # quick: small enough to fill in 4 MB
    lines = total // logload.LINE // WRITERS
    rate = total / WRITERS / seconds
    cases = [("luasup (uvloop), file sink only", None),
             ("luasup (uvloop), http sink accepts, never answers", Silent),
             ("luasup (uvloop), http sink refused", Refused)]
    for name, kind in cases:
        ctx.log("%s: %s" % (NAME, name))
        dead = kind() if kind else None
        try:
            samples, sinks, warnings, lost = _once(ctx, dead, max_bytes, lines, rate, seconds)
        except (procs.Timeout, OSError, ValueError) as e:
            result.failed(name, e)
            continue
        finally:
            if dead:
                dead.close()
            procs.sweep()
        rss = [kib / 1024 for _, kib in samples]
        half = len(rss) // 2
        http = (sinks or {}).get("http")
        row = result.add(
            name, start=rss[0], peak=max(rss), growth=max(rss) - rss[0],
            late=max(rss[half:]) - max(rss[:half + 1]), series=_series(samples, ctx.pick(10, 1)),
            samples=[[round(t, 1), kib] for t, kib in samples],
            dropped=http and http["dropped"], warnings=warnings if http else None,
            dropped_mb=http and http["dropped_bytes"] / 1e6,
            accepted=dead and dead.accepted, lost=lost,
            per_bound=(max(rss) - rss[0]) * (1 << 20) / max_bytes if http else None)
        result.target("%s: file sink got every line" % name, lost, lost == 0, 0)
        if http:
            limit = GROWTH * (max_bytes + min(BATCH, max_bytes)) / (1 << 20)
            result.target("%s: RSS growth ≤ %.0f MiB (%d× (max_bytes + a batch), as documented)"
                          % (name, limit, GROWTH), row["growth"], row["growth"] <= limit, limit)
            result.target("%s: flat in the 2nd half (≤ %d MiB)" % (name, FLAT >> 20),
                          row["late"], row["late"] <= FLAT / (1 << 20), FLAT / (1 << 20))
    result.notes.append(
        "%d writers, %.0f MB in all over %d s (100-byte lines, paced); the http sink's "
        "max_bytes = %d MiB; RSS sampled every second from the moment the writers start until "
        "they have exited; growth: peak − the first sample; 2nd half growth: the highest "
        "sample of the second half − the highest of the first."
        % (WRITERS, total / 1e6, seconds, max_bytes >> 20))
    return result
