"""`luasup -- CMD`: one child and no script, a drop-in for tini and dumb-init.

CMD runs in its own process group (the terminal's foreground group when
there is one), in the directory luasup was started in; luasup itself moves
to / once CMD has started, so it never keeps a mount busy. Signals go to
CMD's group (to CMD alone with -c). SIGTSTP, SIGTTIN and SIGTTOU stop CMD
and then luasup, as a shell's job stops; SIGCONT resumes both and gives CMD the terminal back.
When CMD exits, luasup exits with its code (128+N if it died of signal N,
127 if not found, 126 if not executable), having first stopped what is
left: all of it by default; with -c only as PID 1, since elsewhere tini and
dumb-init -c leave CMD's leftovers alone."""

import errno
import os
import signal

from . import log, pid1, process, signals
from .loop import run as run_loop
from .shutdown import stop_everything

EXIT_NOT_FOUND = 127
EXIT_NOT_EXECUTABLE = 126
JOB_CONTROL = frozenset({signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU})


def run(inv, settings):
    return run_loop(lambda loop: _main(loop, inv.args, inv.single_child, settings.grace),
                    settings.loop)


async def _main(loop, argv, single_child, grace):
    from .supervisor import Supervisor

    sup = Supervisor(loop, grace)
    sup.group_signals = not single_child
    sup.loop_signals = set(signals.STOPPING) | JOB_CONTROL | {signal.SIGCONT}
    sup.open()
    tty = pid1.foreground_tty()
    # CMD gets luasup's stdio and every fd luasup was given, as with tini
    opts = process.Options(stdin=process.INHERIT, stdout=process.INHERIT,
                           stderr=process.INHERIT, close_strays=False, tty=tty)
    try:
        child = sup.spawn(argv, opts)
    except OSError as e:
        log.fatal("unable to spawn %s: %s" % (argv[0], e.strerror))
        return EXIT_NOT_FOUND if e.errno == errno.ENOENT else EXIT_NOT_EXECUTABLE
    # CMD has its directory; luasup keeps none, so no mount is busy because
    # of it. (Not before: posix_spawn cannot give CMD another directory, and
    # fork+exec would cost every start-up a few ms.)
    os.chdir("/")

    escalation = None

    def kill_after_grace():
        if child.running:
            log.warn("%s still running %d ms after the stop signal: sending SIGKILL"
                     % (child.label(), grace * 1000))
            child.signal(signal.SIGKILL, sup.group_signals)

    def suspend(signo):
        # dumb-init's rule: a group gets SIGSTOP, since a group the kernel
        # deems orphaned ignores the terminal stop signals; with -c, CMD gets
        # the signal itself. Then luasup stops, so whoever sent it sees a
        # stopped job; the SIGCONT that resumes luasup is relayed to CMD.
        child.signal(signal.SIGSTOP if sup.group_signals else signo, sup.group_signals)
        os.kill(os.getpid(), signal.SIGSTOP)

    def resume():
        # A shell's `fg` gives the terminal to luasup's group, then sends
        # SIGCONT: pass the terminal on to CMD's group, which had it, or
        # CMD's next read of it would stop it with SIGTTIN.
        try:
            if os.tcgetpgrp(tty) == os.getpgrp():
                os.tcsetpgrp(tty, child.pid)  # allowed: luasup blocks SIGTTOU
        except OSError:
            pass  # the terminal is gone: nothing to hand over

    def on_signal(signo):
        nonlocal escalation
        if signo in JOB_CONTROL:
            suspend(signo)
            return
        if signo == signal.SIGCONT and tty is not None:
            resume()
        sup.forward(signo)
        if signo in signals.STOPPING and escalation is None:
            escalation = loop.call_later(grace, kill_after_grace)

    sup.on_signal = on_signal
    sup.take_signals()
    await child.exited.wait()
    if escalation is not None:
        escalation.cancel()
    code = child.shell_code()
    # As PID 1, luasup's exit would SIGKILL the rest: give it a grace first.
    if sup.group_signals or os.getpid() == 1:
        await stop_everything(sup, grace)
    return code
