"""A child process: how it is started, its stdio, its exit, its signals."""

import asyncio
import errno
import fcntl
import os
import stat

from . import child_signals, log, posix_spawn, signals
from .capture import Capture

# Streams a child's stdout/stderr can be: kept for stdout()/lines(),
# luasup's own fd, nothing, records on the log bus, or a file (given as its path).
CAPTURE, INHERIT, NULL, LOG = "capture", "inherit", "null", "log"


class Options:
    """How to start a child; the defaults are luavisors' exec()."""

    def __init__(self, **kw):
        self.env = None  # full environment dict; None: luasup's own
        self.cwd = None
        self.stdin = NULL  # null | inherit | pipe
        self.stdout = CAPTURE  # capture | inherit | null | a file path
        self.stderr = CAPTURE
        self.prefix = None  # bytes: relay inherit streams line by line with it
        self.log_name = None  # str: the name of its records on the log bus
        self.uid = None
        self.gid = None
        self.groups = None
        self.setsid = False
        self.umask = None
        self.fds = ()  # [(fd, name)] passed as fds 3.. with LISTEN_FDS
        self.tty = None  # a terminal fd to hand the child's group
        self.close_strays = True
        self.capture_limit = 1 << 20
        for key, value in kw.items():
            if not hasattr(self, key):
                raise TypeError("unknown option %s" % key)
            setattr(self, key, value)

    def needs_fork(self):
        """posix_spawn cannot chdir, change ids or umask, or learn the
        child's pid in time to set LISTEN_PID: those need fork+exec."""
        return bool(self.cwd is not None or self.uid is not None or self.gid is not None
                    or self.umask is not None or self.fds or self.tty is not None)


class SpawnError(OSError):
    """errno and strerror of the failure, `what` saying which step failed."""

    def __init__(self, err, what=None, reason=None):
        super().__init__(err, reason or os.strerror(err))
        self.what = what


def failure_text(e):
    """Why spawn() raised e, for `unable to spawn CMD: ...` messages."""
    why = getattr(e, "strerror", None) or str(e)
    if getattr(e, "what", None):  # a SpawnError naming the failed step
        why = "cannot %s: %s" % (e.what, why)
    return why


class Child:
    """A process luasup started. Its exit status comes from the reaper."""

    def __init__(self, pid, name, captures, stdin_fd=-1):
        self.pid = pid
        self.name = name
        self.captures = captures  # {1: Capture, 2: Capture} for read streams
        self.stdin_fd = stdin_fd
        self.wait_status = None
        self.exited = asyncio.Event()
        self.on_exit = []  # callbacks(child) once reaped
        self.notify = None  # its NotifySocket, when started with notify=true
        self.log_name = None  # the name of its records (and of logs.stdin's targets)
        self.stop_last = False  # a log consumer: stopped after the others (shutdown.py)
        self.before_stdin_close = []  # callbacks(child): who writes to stdin lets go of the fd
        self.stdin_fed = False  # logs.stdin writes to its stdin: child:write must not

    @property
    def running(self):
        return self.wait_status is None

    def on_reaped(self, wait_status):
        self.wait_status = wait_status
        reason, code = self.outcome()
        # named children are services worth a line; anonymous ones at debug
        if self.name or log.enabled("debug"):  # not formatted for nobody
            (log.info if self.name else log.debug)(
                "exited %s (%s)" % (self.label(), "code %d" % code if reason == "exit"
                                    else signals.name(code)))
        self.exited.set()
        for callback in self.on_exit:
            callback(self)

    def outcome(self):
        """("exit", code) or ("signal", signum); only once reaped."""
        code = os.waitstatus_to_exitcode(self.wait_status)
        return ("exit", code) if code >= 0 else ("signal", -code)

    def shell_code(self):
        """The exit code a shell would report: code, or 128+N for signal N."""
        reason, code = self.outcome()
        return code if reason == "exit" else 128 + code

    def signal(self, signum, group=True):
        """Signal the child (its whole process group by default). Once it has
        been reaped its pid may belong to someone else, so nothing is sent."""
        if not self.running:
            return False
        try:
            if group:
                os.killpg(self.pid, signum)
            else:
                os.kill(self.pid, signum)
        except ProcessLookupError:
            return False
        except PermissionError:
            # a member dropped privileges; the leader is still ours to signal
            os.kill(self.pid, signum)
        return True

    def close_stdin(self):
        if self.stdin_fd >= 0:
            for callback in self.before_stdin_close:
                callback(self)
            os.close(self.stdin_fd)
            self.stdin_fd = -1

    def label(self):
        return "%s (pid %d)" % (self.name, self.pid) if self.name else "pid %d" % self.pid


def _mark_strays_cloexec():
    """File descriptors opened by Lua's io library are not close-on-exec;
    make sure no child inherits them (or anything else above stderr)."""
    for entry in os.listdir("/proc/self/fd"):
        fd = int(entry)
        if fd > 2:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass  # the directory's own fd, already closed


class _Plumbing:
    """The fds a child gets: `dups` (parent fd -> child fd) and `opens`
    (path opened onto a child fd), and what the parent keeps."""

    def __init__(self):
        self.dups = []
        self.opens = []
        self.child_ends = []  # parent's copies to close once the child has them
        self.readers = {}  # child fd -> parent's read end
        self.stdin_w = -1

    def close_all(self):
        for fd in self.child_ends + list(self.readers.values()) + [self.stdin_w]:
            if fd >= 0:
                os.close(fd)


def _open_output(path):
    """Open a stdout/stderr file for a child without waiting: a FIFO nobody
    reads would hold luasup in open(), deaf to signals. So a FIFO must have
    a reader already; the child gets an ordinary blocking fd."""
    try:
        f = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
                    | os.O_NONBLOCK, 0o644)
    except OSError as e:
        what = "open %s" % os.fsdecode(path)
        if e.errno == errno.ENXIO and _is_fifo(path):  # open(2)'s word for no reader
            raise SpawnError(e.errno, what, "it is a FIFO with no reader") from None
        raise SpawnError(e.errno, what) from None
    os.set_blocking(f, True)
    return f


def _is_fifo(path):
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


def _plumb(opts):
    p = _Plumbing()
    try:
        if opts.stdin == NULL:
            p.opens.append((0, os.devnull, os.O_RDONLY))
        elif opts.stdin == "pipe":
            r, p.stdin_w = os.pipe()
            p.dups.append((r, 0))
            p.child_ends.append(r)
        for fd, mode in ((1, opts.stdout), (2, opts.stderr)):
            if mode == NULL:
                p.opens.append((fd, os.devnull, os.O_WRONLY))
            elif mode == INHERIT and opts.prefix is None:
                continue
            elif mode in (CAPTURE, INHERIT, LOG):
                r, w = os.pipe()
                p.readers[fd] = r
                p.dups.append((w, fd))
                p.child_ends.append(w)
            else:  # a file: opened here so a bad path gets its own message
                f = _open_output(mode)
                p.dups.append((f, fd))
                p.child_ends.append(f)
        for i, (fd, _name) in enumerate(opts.fds):
            p.dups.append((fd, 3 + i))
    except BaseException:
        p.close_all()
        raise
    return p


def spawn(loop, argv, opts):
    """Start argv[0] (searched in PATH) as opts say: by default in a new
    process group, in the signal state luasup was started with (see
    child_signals). Raises SpawnError/OSError when it cannot be started.
    Returns (pid, {fd: Capture}, stdin write end or -1)."""
    plumbing = _plumb(opts)
    try:
        if opts.close_strays:
            _mark_strays_cloexec()
        if opts.needs_fork():
            pid = _fork_exec(argv, opts, plumbing)
        else:
            pid = posix_spawn.spawnp(argv, opts.env, plumbing.opens, plumbing.dups,
                                     opts.setsid)
    except BaseException:
        plumbing.close_all()
        raise
    for fd in plumbing.child_ends:
        os.close(fd)
    captures = {}
    for fd, r in plumbing.readers.items():
        mode = opts.stdout if fd == 1 else opts.stderr
        relay = (fd, opts.prefix) if opts.prefix is not None and mode == INHERIT else None
        source = None
        if mode == LOG:
            from .logs import bus
            source = bus.Source(bus.current, opts.log_name or argv[0], "stdout" if fd == 1 else "stderr", pid)
        captures[fd] = Capture(loop, r, opts.capture_limit, relay, source)
    if plumbing.stdin_w >= 0:
        os.set_blocking(plumbing.stdin_w, False)
    return pid, captures, plumbing.stdin_w


def _fork_exec(argv, opts, plumbing):
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no Python cleanup must run here
        step = None
        try:
            os.close(err_r)
            if opts.setsid:
                os.setsid()
            else:
                os.setpgid(0, 0)
            if opts.tty is not None:
                os.tcsetpgrp(opts.tty, os.getpgrp())  # allowed: SIGTTOU is blocked
            # move every source above every target before placing any
            moved = [(fcntl.fcntl(src, fcntl.F_DUPFD_CLOEXEC, 100), dst)
                     for src, dst in plumbing.dups]
            for dst, path, flags in plumbing.opens:
                os.dup2(os.open(path, flags), dst)
            for src, dst in moved:
                os.dup2(src, dst)
            if opts.umask is not None:
                os.umask(opts.umask)
            if opts.cwd is not None:
                step = "change directory to %s" % os.fsdecode(opts.cwd)
                os.chdir(opts.cwd)
            if opts.gid is not None:
                step = "set group id %d" % opts.gid
                os.setgroups(opts.groups if opts.groups is not None else [opts.gid])
                os.setgid(opts.gid)
            if opts.uid is not None:
                step = "set user id %d" % opts.uid
                os.setuid(opts.uid)
            step = None
            env = os.environb if opts.env is None else opts.env
            if opts.fds:
                env = dict(env)
                env["LISTEN_PID"] = str(os.getpid())
            child_signals.restore()
            os.execvpe(argv[0], argv, env)
        except OSError as e:
            os.write(err_w, ("%d\n%s" % (e.errno or errno.EIO, step or "")).encode())
        finally:
            os._exit(127)
    os.close(err_w)
    with os.fdopen(err_r, "rb") as f:
        failure = f.read()
    if failure:  # the reaper collects the failed child like any other
        err, _, step = failure.decode().partition("\n")
        raise SpawnError(int(err), step or None)
    return pid


async def write_stdin(loop, child, data):
    """Write all of data to the child's stdin pipe, waiting while it is full."""
    if child.stdin_fed:  # two writers would interleave, and share one add_writer slot
        raise OSError(errno.EBUSY, "its stdin is fed by logs.stdin")
    view = memoryview(data)
    while view:
        if child.stdin_fd < 0:
            raise BrokenPipeError(errno.EPIPE, "stdin is closed")
        try:
            view = view[os.write(child.stdin_fd, view):]
        except BlockingIOError:
            ready = loop.create_future()
            fd = child.stdin_fd
            loop.add_writer(fd, lambda: ready.done() or ready.set_result(None))
            try:
                await ready
            finally:
                loop.remove_writer(fd)
