"""The load of the log benchmarks and how what arrived is checked.

N writers (csrc/logwriter.c) each write numbered 100-byte lines tagged with
their number, once a "go" file exists, so no subject's start-up is timed.
What a logger kept is then counted, rotated files included: a logger that
loses lines fails its row instead of looking fast."""

import os
import time

from . import procs, subjects

LINE = 100  # bytes per line, newline included: logwriter's LINE
WRITER = "logwriter"  # its comm in /proc
# Files s6-log and svlogd keep beside the logs, which hold no lines.
METADATA = {"config", "lock", "state", "newstate"}
CHUNK = 16 << 20
CLK_TCK = os.sysconf("SC_CLK_TCK")
STATS = ("queued", "delivered", "dropped", "dropped_bytes")  # of sink:stats(), as written


def writer_argv(ctx, number, lines, go, rate=None):
    argv = [ctx.bins["logwriter"], str(number), str(lines), go]
    return argv + ([str(int(rate))] if rate else [])


def luasup_script(ctx, loop, sinks, writers, lines, go, rate=None, drain=None):
    """luasup running `writers` logwriters named w1..wN with stdout = 'log',
    routed to every sink of `sinks`, a list of (name, Lua expression making
    the sink). Once the writers have exited it waits until the sinks named
    in `drain` (all if None) have written or dropped every line, writes each
    sink's stats to stderr (see `sink_stats`), and holds (init.wait) until
    the harness, having read what it needs, stops it."""
    program, _, *tail = writer_argv(ctx, 0, lines, go, rate)
    exe = ", ".join([subjects.lua_string(program), "tostring(i)"]
                    + [subjects.lua_string(a) for a in tail])
    names = [name for name, _ in sinks]
    drained = names if drain is None else list(drain)
    return subjects.luasup_script(ctx, loop, (
        "local init = require('init')\n"
        "local logs = require('logs')\n"
        "local watched = {}\n"
        "%s"
        "logs.route{to = {%s}}\n"
        "local writers = {}\n"
        "for i = 1, %d do\n"
        "    writers[i] = init.exec{%s, name = 'w' .. i, stdout = 'log'}\n"
        "end\n"
        "for i = 1, #writers do writers[i]:status() end\n"
        "for _, name in ipairs{%s} do\n"
        "    local s = watched[name]:stats()\n"
        "    while s.delivered + s.dropped < %d do\n"
        "        init.sleep(0.005)\n"
        "        s = watched[name]:stats()\n"
        "    end\n"
        "end\n"
        "for name, sink in pairs(watched) do\n"
        "    local s = sink:stats()\n"
        "    io.stderr:write(('logstats %%s%s\\n'):format(name%s))\n"
        "end\n"
        "init.wait()\n") % (
            "".join("watched[%s] = %s\n" % (subjects.lua_string(n), lua) for n, lua in sinks),
            ", ".join("watched[%s]" % subjects.lua_string(n) for n in names),
            writers, exe, ", ".join(map(subjects.lua_string, drained)), writers * lines,
            "".join(" %s=%%d" % k for k in STATS), "".join(", s.%s or 0" % k for k in STATS)))


def sink_stats(launch):
    """{sink name: {stat: number}} from the script's `logstats` lines, or
    None before it has written them."""
    try:
        with open(launch.errfile, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    found = {}
    for line in text.splitlines():
        if line.startswith("logstats "):
            name, *pairs = line.split()[1:]
            found[name] = {k: int(v) for k, v in (p.split("=", 1) for p in pairs)}
    return found or None


def running_writers(root):
    """The logwriters running under the process root."""
    table = procs.table()
    return [p for p in procs.descendants(root, table) if table[p][2] == WRITER]


def what_went_wrong(launch):
    """What went wrong, in a table cell: the first error or warning the
    launch wrote to stderr (a Lua error's message, not its traceback), else
    its last line."""
    lines = [l for l in launch.stderr_tail(4000).splitlines() if l.strip()]
    telling = [l for l in lines if any(w in l.lower() for w in ("error", "warning", "fatal"))]
    return (telling or lines[-1:] or ["nothing on stderr"])[0][:200]


def wait_writers(launch, count, timeout):
    """The pids of the `count` logwriters running under the launch, once
    they do; Timeout if it exits first."""
    deadline = time.monotonic() + timeout
    while True:
        found = running_writers(launch.pid)
        if len(found) >= count:
            return found
        if launch.proc.poll() is not None:
            raise procs.Timeout("exited %s before its writers ran: %s"
                                % (launch.proc.returncode, what_went_wrong(launch)))
        if time.monotonic() > deadline:
            raise procs.Timeout("no %d running writers within %.0f s: %s"
                                % (count, timeout, what_went_wrong(launch)))
        time.sleep(0.01)


def cpu_seconds(pid):
    """utime + stime of the process, all its threads, from /proc."""
    with open("/proc/%d/stat" % pid, "rb") as f:
        data = f.read()
    fields = data[data.rindex(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def go(path):
    """Let the writers start; the moment they were let go."""
    started = time.monotonic()
    open(path, "w").close()
    return started


def log_files(directory):
    for entry in os.scandir(directory):
        if entry.is_file() and entry.name not in METADATA:
            yield entry.path


def size(directories):
    """Bytes in the directories' log files, each file once: a rotation
    between listing and stat renames them under the harness, so a file is
    known by its inode, and one renamed away meanwhile is missed (counted
    at the next poll)."""
    sizes = {}
    for d in directories:
        for path in log_files(d):
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            sizes[st.st_ino] = st.st_size
    return sum(sizes.values())


def count(directories, writers):
    """(lines, {writer number: its lines}) in every log file of the
    directories, rotated ones included."""
    tags = {n: b"|w%d|" % n for n in range(1, writers + 1)}
    lines, each = 0, dict.fromkeys(tags, 0)
    for d in directories:
        for path in log_files(d):
            with open(path, "rb") as f:
                rest = b""
                while True:
                    data = f.read(CHUNK)
                    if not data:
                        break
                    # whole lines only, so no tag is split between chunks
                    data = rest + data
                    cut = data.rfind(b"\n") + 1
                    whole, rest = data[:cut], data[cut:]
                    lines += whole.count(b"\n")
                    for n, tag in tags.items():
                        each[n] += whole.count(tag)
            if rest:
                lines += 1
                for n, tag in tags.items():
                    each[n] += rest.count(tag)
    return lines, each
