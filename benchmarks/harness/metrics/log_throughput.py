"""Log throughput: N writers (csrc/logwriter.c) write 100-byte lines as fast
as their pipes take them, into a rotating file and to the console, through
each logger. The clock runs from the moment the writers are let go until
the last line is out: in the files (their size; for loggers fed through a
pipe, their exit at EOF) or, for the console, counted by a C reader on the
other end of the logger's stdout.

The CPU figure is the supervising processes' own (utime + stime from /proc
for luasup and supervisord, read when the output is complete; from wait4
for the pipe-fed loggers, which have no children), never the writers'.

Every line is counted afterwards, per writer, in every file the logger
left, rotated ones included; a row that lost lines says so. For that, each
logger keeps as many rotated files as the run fills (rotating every 10 MB
all the same): with keep = 5, lines would be deleted by design and could no
longer be counted. Deleting the oldest is one unlink per rotation.

How the peers are fed: s6-log the way s6 runs it (one s6-log per service,
each reading its service's pipe) and as one s6-log that all writers share;
svlogd (runit) and `cat > file` as one shared reader; supervisord keeps a
file per process (it cannot share one). luasup is one process for all."""

import os
import shutil
import signal
import subprocess
import time

from .. import logload, procs, stats, subjects
from ..result import Column, Result

NAME = "log_throughput"
WRITERS = 4
REFERENCE = "cat"
PEER = "s6-log"
TARGET_PEER = 1.0  # ≥ s6-log's throughput
TARGET_CAT = 0.5  # ≥ 0.5x cat to a file
QUIET = 5  # s after the writers are gone with the output still short: the run fails
# luasup's rows: (loop, the sink's `full`). A sink that drops when full
# (the default) is not comparable with loggers that block their writers,
# so the rows judged block; the default's row shows what it loses.
LUASUP = [("uvloop", "block"), ("asyncio", "block"), ("uvloop", None)]
SETTLE = 1  # s a drained luasup is given for its last lines to land


def _spawn(argv, stdin, stdout, errfile):
    with open(errfile, "wb") as err:
        return subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=err,
                                start_new_session=True)


class Piped:
    """Writers started by the harness, their stdout piped into loggers:
    `loggers` is a list of (argv, writer numbers it reads). Complete when
    every logger has exited at EOF."""

    def __init__(self, ctx, loggers, lines, go, stdout):
        self.writers, self.loggers = [], []
        self.cpu_s = 0.0
        for argv, numbers in loggers:
            r, w = os.pipe()
            try:
                self.loggers.append(_spawn(argv, r, stdout, ctx.path("err")))
                for n in numbers:
                    self.writers.append(_spawn(logload.writer_argv(ctx, n, lines, go),
                                               subprocess.DEVNULL, w, ctx.path("err")))
            finally:
                os.close(r)
                os.close(w)

    def ready(self, timeout):
        pass  # Popen returns once the exec has happened; C loggers start in no time

    def writing(self):
        return any(p.poll() is None for p in self.writers)

    def complete(self):
        for proc in self.loggers:
            if proc.returncode is not None:
                continue
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                # reaped here for its rusage: Popen is told the outcome
                proc.returncode = os.waitstatus_to_exitcode(status)
                self.cpu_s += usage.ru_utime + usage.ru_stime
        return all(p.returncode is not None for p in self.loggers)

    def cpu(self, timeout):
        procs.wait_until(self.complete, timeout, "loggers' exit")
        return self.cpu_s

    def settled(self):
        return False  # a pipe-fed logger never drops: it blocks its writers

    def stats(self, timeout=0):
        return None

    def problem(self):
        failed = [p for p in self.loggers + self.writers if p.returncode not in (None, 0)]
        return "exit %s" % failed[0].returncode if failed else ""

    def close(self):
        for proc in self.writers + self.loggers:
            if proc.returncode is None:
                procs.kill_tree(proc.pid)
        for proc in self.writers + self.loggers:
            if proc.returncode is None:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    pass


class Supervised:
    """A supervisor that starts the writers itself (luasup, supervisord).
    luasup's script says when its sinks have drained (logload.sink_stats),
    so a run that dropped lines ends there instead of waiting for them."""

    def __init__(self, ctx, argv, env, stdout, reports=False):
        self.launch = procs.Launch(argv, ctx.path("err"), env=env, stdout=stdout)
        self.reports = reports  # writes its sinks' stats (a luasup script)
        self.cpu_at_start = None

    def ready(self, timeout):
        self.writers = logload.wait_writers(self.launch, WRITERS, timeout)
        # what it spent starting (Python's imports, the config) is not counted
        self.cpu_at_start = logload.cpu_seconds(self.launch.pid)

    def writing(self):
        return any(procs.alive(p) for p in self.writers)

    def cpu(self, timeout):
        return logload.cpu_seconds(self.launch.pid) - self.cpu_at_start

    def settled(self):
        return self.stats() is not None

    def stats(self, timeout=0):
        if not self.reports:
            return None
        if timeout:
            return procs.wait_until(lambda: logload.sink_stats(self.launch), timeout,
                                    "sink stats")
        return logload.sink_stats(self.launch)

    def problem(self):
        return logload.what_went_wrong(self.launch)

    def close(self):
        # a SIGTERM first: luasup flushes its sinks at exit
        if self.launch.proc.poll() is None:
            os.kill(self.launch.pid, signal.SIGTERM)
            try:
                self.launch.wait(10)
            except procs.Timeout:
                pass
        self.launch.close()


class Subject:
    """One logger set up for one run: `start(stdout)` launches it, and its
    writers start once the file `go` exists; `dirs` hold its files (none
    for the console)."""

    def __init__(self, name, go, start, dirs=(), by_size=False):
        self.name = name
        self.go = go
        self.start = start
        self.dirs = list(dirs)
        self.by_size = by_size  # complete when the files hold every byte


def _luasup_sink(path, rotate, keep, full):
    extra = ", full = %s" % subjects.lua_string(full) if full else ""
    if path is None:
        return [("console", "logs.console{prefix = '{name} | '%s}" % extra)]
    return [("file", "logs.file{path = %s, rotate = {size = %d, keep = %d}%s}"
             % (subjects.lua_string(path), rotate, keep, extra))]


def _supervisord_argv(ctx, lines, go, stdout, rotate):
    # supervisord numbers its processes from 0, the writers count from 1
    cmd = ["sh", "-c", 'exec "$0" $((${SUPERVISOR_PROCESS_NAME##*_} + 1)) "$@"',
           ctx.bins["logwriter"], str(lines), go]
    return subjects.supervisord(ctx, cmd, numprocs=WRITERS, stdout=stdout, rotate=rotate)[1]


def _subjects(ctx, console, lines, rotate, keep):
    """The subjects of one round, writing to the console or to rotating files."""
    everyone = list(range(1, WRITERS + 1))

    def scratch():
        path = ctx.path("logs")
        os.mkdir(path)
        return path

    def piped(name, loggers, dirs):
        go = ctx.path("go")
        return Subject(name, go, lambda out: Piped(ctx, loggers, lines, go, out), dirs)

    for loop, full in LUASUP:
        go = ctx.path("go")
        d = None if console else scratch()
        name, argv, env = logload.luasup_script(
            ctx, loop, _luasup_sink(d and os.path.join(d, "app.log"), rotate, keep, full),
            WRITERS, lines, go)
        name += ", full = %s" % (full or "default (drop-oldest)")
        yield Subject(name, go, lambda out, a=argv, e=env: Supervised(ctx, a, e, out, True),
                      [d] if d else [], by_size=True)
    if console:
        # s6-log's action `1` copies each line to its stdout
        yield piped("s6-log, one for all", [(["s6-log", "1"], everyone)], [])
    else:
        s6 = ["s6-log", "n%d" % keep, "s%d" % rotate]
        dirs = [os.path.join(scratch(), "w%d" % n) for n in everyone]
        yield piped("s6-log, one per writer", [(s6 + [d], [n]) for d, n in zip(dirs, everyone)],
                    dirs)
        d = os.path.join(scratch(), "all")
        yield piped("s6-log, one for all", [(s6 + [d], everyone)], [d])
        d = scratch()
        with open(os.path.join(d, "config"), "w") as f:
            f.write("s%d\nn%d\n" % (rotate, keep))
        yield piped("svlogd -tt, one for all", [(["svlogd", "-tt", d], everyone)], [d])
    go = ctx.path("go")
    if console:
        argv = _supervisord_argv(ctx, lines, go, "/dev/stdout", (0, 0))
        dirs = []
    else:
        d = scratch()
        argv = _supervisord_argv(ctx, lines, go, os.path.join(d, "w%(process_num)d.log"),
                                 (rotate, keep))
        dirs = [d]
    yield Subject("supervisord", go, lambda out, a=argv: Supervised(ctx, a, None, out), dirs,
                  by_size=True)
    if console:
        yield piped(REFERENCE, [(["cat"], everyone)], [])
    else:
        d = scratch()
        yield piped(REFERENCE, [(["sh", "-c", 'exec cat > "$0"', os.path.join(d, "out")],
                                 everyone)], [d])


def _wait_complete(running, complete, deadline):
    """The moment `complete()` first held, polled every 2 ms; None if the
    logger said it had drained and the output was still short SETTLE s
    later (it dropped lines). Timeout once the writers have been gone for
    QUIET s, or at the deadline."""
    gone_since = settled_since = None
    give_up = time.monotonic() + deadline
    polls = 0
    while True:
        now = time.monotonic()
        if complete():
            return now
        polls += 1
        if polls % 50 == 0:  # the rest costs more: every 0.1 s
            if running.writing():
                gone_since = None
            elif gone_since is None:
                gone_since = now
            elif now - gone_since > QUIET:
                raise procs.Timeout("output incomplete %.0f s after the writers ended" % QUIET)
            if settled_since is None and running.settled():
                settled_since = now
            if settled_since is not None and now - settled_since > SETTLE:
                return None
            if now > give_up:
                raise procs.Timeout("output incomplete after %.0f s" % deadline)
        time.sleep(0.002)


def _reader(ctx, lines):
    """linereader on a pipe: (its Popen, the write end, its stamp file)."""
    stamp = ctx.path("stamp")
    r, w = os.pipe()
    proc = subprocess.Popen([ctx.bins["linereader"], str(lines), stamp], stdin=r,
                            stdout=subprocess.PIPE)
    os.close(r)
    return proc, w, stamp


def _read_stamp(path):
    try:
        with open(path) as f:
            return int(f.read()) * 1e-9
    except FileNotFoundError:
        return None


def _once(ctx, subject, lines, deadline):
    """{"seconds" (None if lines were dropped), "cpu", "lines", "each" (per
    writer, None for the console), "dropped" (luasup's own count)} of one run."""
    total = lines * WRITERS
    console = not subject.dirs
    reader = None
    stdout = subprocess.DEVNULL
    if console:
        reader, stdout, stamp = _reader(ctx, total)
    try:
        running = subject.start(stdout)
        try:
            if reader is not None:
                os.close(stdout)  # the reader sees EOF once the logger's side closes
            running.ready(60)
            started = logload.go(subject.go)
            if console:
                complete = lambda: _read_stamp(stamp)  # noqa: E731
            elif subject.by_size:
                complete = lambda: logload.size(subject.dirs) >= total * logload.LINE  # noqa: E731
            else:
                complete = running.complete
            try:
                ended = _wait_complete(running, complete, deadline)
            except procs.Timeout as e:
                raise procs.Timeout("%s; %s" % (e, running.problem())) from None
            if console and ended is not None:
                ended = _read_stamp(stamp)
            cpu = running.cpu(30)
            sinks = running.stats(30)
        finally:
            running.close()
    finally:
        if reader is not None:
            try:
                out = reader.communicate(timeout=30)[0]
            except subprocess.TimeoutExpired:
                reader.kill()
                reader.wait()
                raise procs.Timeout("the reader never saw the end of its input") from None
    if console:
        found, each = int(out.split()[1]), None
    else:
        found, each = logload.count(subject.dirs, WRITERS)
    for d in subject.dirs:
        shutil.rmtree(d, ignore_errors=True)
    return {"seconds": None if ended is None else ended - started, "cpu": cpu,
            "lines": found, "each": each,
            "dropped": sum(x["dropped"] for x in sinks.values()) if sinks else None}


def _miscounted(m, lines):
    """(lines missing, lines extra) in one run, per writer where the lines
    were counted per writer."""
    if m["each"] is None:
        counts, expected = [m["lines"]], lines * WRITERS
    else:
        counts, expected = list(m["each"].values()), lines
    return (sum(max(0, expected - c) for c in counts),
            sum(max(0, c - expected) for c in counts))


def run(ctx):
    result = Result(NAME, "log throughput", "MB/s of lines written", [
        Column("into", "into", "%s"), Column("median", "median", "%.0f"),
        Column("p10–p90", "spread", "%.0f"), Column("lines/s", "lines_s", "%.0f"),
        Column("× cat", "ratio", "%.2f"), Column("× s6-log", "peer_ratio", "%.2f"),
        Column("CPU s/GB", "cpu_gb", "%.2f"), Column("lines lost", "lost", "%d"),
        Column("lines extra", "extra", "%d"), Column("dropped (own count)", "dropped", "%d"),
        Column("runs", "n", "%d")],
        "%d writers of 100-byte lines, as fast as the logger takes them" % WRITERS)
    lines = ctx.pick(500_000, 10_000)  # per writer: 200 MB in all, or 4 MB
    rotate = ctx.pick(10_000_000, 1_000_000)
    # enough rotated files for the whole run, svlogd's timestamps included
    keep = int(lines * WRITERS * logload.LINE * 1.5 / rotate) + 2
    rounds = ctx.pick(3, 1)
    deadline = ctx.pick(300, 60)
    megabytes = lines * WRITERS * logload.LINE / 1e6
    for into in ("file", "console"):
        runs, errors, order = {}, {}, []
        for r in range(rounds):
            ctx.log("log_throughput: %s, round %d/%d" % (into, r + 1, rounds))
            for subject in _subjects(ctx, into == "console", lines, rotate, keep):
                if subject.name not in order:
                    order.append(subject.name)
                if subject.name in errors:
                    continue
                try:
                    runs.setdefault(subject.name, []).append(
                        _once(ctx, subject, lines, deadline))
                except (procs.Timeout, OSError, ValueError) as e:
                    errors[subject.name] = str(e)
                procs.sweep()
        _rows(result, into, order, runs, errors, lines, megabytes)
    result.notes.append(
        "%d writers × %d lines of %d bytes (%.0f MB) per run; rotation every %g MB keeping "
        "%d files (enough to count every line); console: luasup's prefix is '{name} | '."
        % (WRITERS, lines, logload.LINE, megabytes, rotate / 1e6, keep))
    result.notes.append("CPU s/GB: the supervising processes' utime + stime per GB of "
                        "lines, medians; lines lost and extra: the worst run (per writer in files, "
                        "in all on the console); a run that dropped lines has no throughput, the "
                        "median is of the others.")
    return result


def _rows(result, into, order, runs, errors, lines, megabytes):
    """A row per subject; a subject that dropped lines in a run has no
    throughput for it (it did not carry them)."""
    rates = {name: [megabytes / m["seconds"] for m in ms if m["seconds"]]
             for name, ms in runs.items()}
    median = lambda name: stats.percentile(rates[name], 50) if rates.get(name) else None  # noqa
    reference = median(REFERENCE)
    peers = [median(n) for n in rates if n.startswith(PEER) and rates[n]]
    peer = max(peers) if peers else None
    for name in order:
        if name in errors:
            result.failed(name, errors[name], into=into)
            continue
        ms = runs[name]
        s = stats.summary(rates[name]) if rates[name] else {}
        s["n"] = len(ms)
        dropped = [m["dropped"] for m in ms if m["dropped"] is not None]
        row = result.add(
            name, into=into, ratio=stats.ratio(s.get("median"), reference),
            lines_s=s["median"] * 1e6 / logload.LINE if "median" in s else None,
            peer_ratio=stats.ratio(s.get("median"), peer),
            cpu_gb=stats.percentile([m["cpu"] for m in ms], 50) / (megabytes / 1e3),
            lost=max(_miscounted(m, lines)[0] for m in ms),
            extra=max(_miscounted(m, lines)[1] for m in ms),
            dropped=max(dropped) if dropped else None, **s)
        if name.startswith("luasup") and "block" in name:
            result.target("%s, %s: every line kept, once" % (name, into),
                          row["lost"] + row["extra"], row["lost"] + row["extra"] == 0, 0)
            result.target("%s, %s: ≥ %.1f× the best s6-log" % (name, into, TARGET_PEER),
                          row["peer_ratio"], row["peer_ratio"] is not None
                          and row["peer_ratio"] >= TARGET_PEER, TARGET_PEER)
            if into == "file":
                result.target("%s, file: ≥ %.1f× cat > file" % (name, TARGET_CAT),
                              row["ratio"], row["ratio"] is not None
                              and row["ratio"] >= TARGET_CAT, TARGET_CAT)
