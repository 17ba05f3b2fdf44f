"""The hand-over of a re-exec: how a running luasup passes what it holds to
the luasup installed now, which it execs in its own place (same pid, so
its children stay its children).

What crosses the exec: the fds to keep (children's pipes, listeners, the
control socket), made inheritable, and a state description, JSON in a
memfd whose number is in LUASUP_HANDOVER. The new luasup reads the state
before it reaps or starts anything (take) and adopts what it describes.
Everything else (other fds, threads, the Lua state) ends at the exec.

The signal mask crosses by itself: every signal luasup handles stays
blocked through the exec, so one sent meanwhile waits, pending, for the
new luasup, which holds those the policy took until the policy takes them
again (lifecycle.carry), rather than relay them to the children. Zombies
wait too: a child that exits during the hand-over is still luasup's child,
reaped by the new reaper."""

import os
import sys

from . import __version__

ENV = "LUASUP_HANDOVER"  # the memfd's number, in the new luasup's environment
CHECK_ENV = "LUASUP_HANDOVER_CHECK"  # set for `--check`: also check that a hand-over can be taken
FORMAT = 1  # the layout of the state; a new luasup refuses formats it does not know


class Refused(Exception):
    """A hand-over cannot be made or taken; the message says why. `state`:
    what was handed over, when it could be read."""

    def __init__(self, message, state=None):
        super().__init__(message)
        self.state = state


def check_answer():
    """What `luasup --check` prints when CHECK_ENV asks whether this luasup
    can take a hand-over: the old luasup reads it before it execs."""
    wanted = os.environ.get(CHECK_ENV, "")
    if wanted != str(FORMAT):
        raise Refused("luasup %s cannot take a hand-over of format %s (it takes %d)"
                      % (__version__, wanted, FORMAT))
    # Every module, those imported on first use too (ctl.server, listeners,
    # logs.*): one that failed only after the exec would take down luasup
    # and, as PID 1, its container.
    import importlib
    import pkgutil
    for found in pkgutil.walk_packages(sys.modules[__package__].__path__, __package__ + "."):
        if found.name.endswith(".__main__"):  # runs luasup
            continue
        try:
            importlib.import_module(found.name)
        except Exception as e:
            raise Refused("cannot import %s: %s: %s" % (found.name, type(e).__name__, e)) from None
    from .loop import new_loop
    new_loop((os.environ.get("LUASUP_LOOP") or "uvloop").lower()).close()
    return "luasup %s: hand-over format %d\n" % (__version__, FORMAT)


def command():
    """The command that starts the luasup installed now, as this one was
    started (argv[1:] follow it). Never another `luasup` found on PATH when
    that one is missing (pip between removing and writing it): that is
    another installation, and the check must fail instead."""
    from .cli import started_as
    me = started_as()
    return [me] if me else [sys.executable, "-m", "luasup"]


def write(state):
    """A memfd holding state as JSON, inheritable, read from its start."""
    import json  # not at start-up: only a re-exec needs it
    fd = os.memfd_create("luasup-handover", 0)  # no MFD_CLOEXEC: it crosses the exec
    try:
        data = json.dumps(state, separators=(",", ":")).encode("utf-8", "surrogateescape")
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


def exec_new(state, keep):
    """Replace this process with the luasup installed now, handing it
    `state` and the fds in `keep`. Returns only if the exec failed (raising
    OSError); the fds are then close-on-exec again."""
    fd = write(state)
    try:
        for k in keep:
            os.set_inheritable(k, True)
        env = dict(os.environb)
        env[ENV.encode()] = str(fd).encode()
        argv = command() + sys.argv[1:]
        os.execve(argv[0], argv, env)
    finally:  # only after a failed exec
        os.close(fd)
        for k in keep:
            try:
                os.set_inheritable(k, False)
            except OSError:
                pass


def take():
    """The state a re-exec handed over to this luasup, or None when it was
    started plainly. The variable is removed: children must not see it."""
    raw = os.environ.pop(ENV, None)
    if raw is None:
        return None
    import json
    if not raw.isdigit():
        raise Refused("%s=%s: not a file descriptor" % (ENV, raw))
    try:
        with os.fdopen(int(raw), "rb") as f:
            data = f.read()
    except OSError as e:
        raise Refused("%s=%s: cannot read the hand-over: %s" % (ENV, raw, e.strerror or e)) from None
    try:
        state = json.loads(data.decode("utf-8", "surrogateescape"))
    except ValueError:
        state = None
    if not isinstance(state, dict):
        raise Refused("%s=%s: what it holds is not a hand-over" % (ENV, raw))
    if state.get("format") != FORMAT:
        raise Refused("the hand-over has format %r, this luasup takes %d" % (state.get("format"), FORMAT),
                      state)
    return state


def abandon(state, grace):
    """A hand-over this luasup cannot take (another install landed between
    the check and the exec): its children are not left behind. SIGTERM to
    each one's group, SIGKILL after `grace` seconds, each reaped."""
    import signal
    import time
    pids = [c.get("pid") for c in state.get("children", []) if isinstance(c, dict) and not c.get("exited")]
    pids = [p for p in pids if isinstance(p, int) and p > 1]
    for pid in pids:
        _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while pids and time.monotonic() < deadline:
        pids = [p for p in pids if not _reaped(p)]
        time.sleep(0.01)  # a last resort before exiting: no reaper runs here
    for pid in pids:
        _signal_group(pid, signal.SIGKILL)
        _reaped(pid, 0)
    control = state.get("control")
    if isinstance(control, dict) and isinstance(control.get("path"), str):
        from .ctl.server import remove_if_ours
        remove_if_ours(control.get("path"), control.get("inode"))


def _signal_group(pid, signo):
    try:
        os.killpg(pid, signo)
    except OSError:
        pass


def _reaped(pid, flags=os.WNOHANG):
    try:
        return os.waitpid(pid, flags)[0] == pid
    except ChildProcessError:
        return True

