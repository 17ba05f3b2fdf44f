"""A child process: how it is started, its output, its exit, its signals."""

import asyncio
import os
import signal

from . import log, signals
from .capture import Capture


class Child:
    """A process luasup started. Its exit status comes from the reaper."""

    def __init__(self, pid, name, captures):
        self.pid = pid
        self.name = name
        self.captures = captures  # {1: Capture, 2: Capture} for captured streams
        self.wait_status = None
        self.exited = asyncio.Event()

    @property
    def running(self):
        return self.wait_status is None

    def on_reaped(self, wait_status):
        self.wait_status = wait_status
        reason, code = self.outcome()
        log.info("exited %s (%s)" % (self.label(), "code %d" % code if reason == "exit"
                                     else signals.name(code)))
        self.exited.set()

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
            # the group leader is still ours even if a member dropped privileges
            os.kill(self.pid, signum)
        return True

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


def spawn(loop, argv, *, capture_limit=0, env=None, close_strays=True,
          single_group=True):
    """Start argv[0] (searched in PATH) in a new process group, with a clean
    signal mask and default dispositions.

    capture_limit > 0 captures stdout and stderr (stdin is /dev/null);
    0 lets the child inherit luasup's stdio. Raises OSError when the program
    cannot be executed. Returns (pid, {fd: Capture})."""
    actions = []
    pipes = {}
    try:
        if capture_limit:
            actions.append((os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0))
            for fd in (1, 2):
                pipes[fd] = os.pipe()
                actions.append((os.POSIX_SPAWN_DUP2, pipes[fd][1], fd))
        if close_strays:
            _mark_strays_cloexec()
        pid = os.posix_spawnp(
            argv[0], argv, os.environ if env is None else env,
            file_actions=actions,
            setpgroup=0 if single_group else None,
            setsigmask=(),
            setsigdef=signals.RESETTABLE,
        )
    except BaseException:
        for r, w in pipes.values():
            os.close(r)
            os.close(w)
        raise
    captures = {}
    for fd, (r, w) in pipes.items():
        os.close(w)
        captures[fd] = Capture(loop, r, capture_limit)
    return pid, captures


def spawn_foreground(argv, tty_fd):
    """Start argv as the terminal's foreground process group.

    The child must own the terminal before it runs a single instruction of the
    program (else its first read stops it with SIGTTIN), so this forks and
    hands the terminal over in the child, which posix_spawn cannot do."""
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no Python cleanup must run here
        try:
            os.close(err_r)
            os.setpgid(0, 0)
            os.tcsetpgrp(tty_fd, os.getpgrp())  # allowed: SIGTTOU is blocked
            for sig in signals.RESETTABLE:
                try:
                    signal.signal(sig, signal.SIG_DFL)
                except (OSError, ValueError):
                    pass
            signal.pthread_sigmask(signal.SIG_SETMASK, ())
            os.execvp(argv[0], argv)
        except OSError as e:
            os.write(err_w, str(e.errno).encode())
        finally:
            os._exit(127)
    os.close(err_w)
    with os.fdopen(err_r, "rb") as f:
        failure = f.read()
    if failure:  # the reaper collects the failed child like any other
        errno = int(failure)
        raise OSError(errno, os.strerror(errno), argv[0])
    return pid
