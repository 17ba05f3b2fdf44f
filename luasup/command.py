"""`luasup -- CMD`: one child and no script, a drop-in for tini and dumb-init.

CMD runs in its own process group (the terminal's foreground group when
there is one); signals go to that group (to CMD alone with -c). When CMD
exits, what is left is stopped and luasup exits with CMD's code, 128+N if it
died of signal N, 127 if not found, 126 if not executable."""

import errno
import signal

from . import log, pid1, process, signals
from .loop import run as run_loop
from .shutdown import stop_everything

EXIT_NOT_FOUND = 127
EXIT_NOT_EXECUTABLE = 126


def run(inv, settings):
    return run_loop(lambda loop: _main(loop, inv.args, inv.single_child, settings.grace), settings.loop)


async def _main(loop, argv, single_child, grace):
    from .supervisor import Supervisor

    sup = Supervisor(loop, grace)
    sup.group_signals = not single_child
    sup.open()
    # CMD gets luasup's stdio and every fd luasup was given, as with tini
    opts = process.Options(stdin=process.INHERIT, stdout=process.INHERIT,
                           stderr=process.INHERIT, close_strays=False,
                           tty=pid1.foreground_tty())
    try:
        child = sup.spawn(argv, opts)
    except OSError as e:
        log.fatal("unable to spawn %s: %s" % (argv[0], e.strerror))
        return EXIT_NOT_FOUND if e.errno == errno.ENOENT else EXIT_NOT_EXECUTABLE

    escalation = None

    def kill_after_grace():
        if child.running:
            log.warn("%s still running %d ms after the stop signal: sending SIGKILL"
                     % (child.label(), grace * 1000))
            child.signal(signal.SIGKILL, group=True)

    def on_signal(signo):
        nonlocal escalation
        sup.forward(signo)
        if signo in signals.STOPPING and escalation is None:
            escalation = loop.call_later(grace, kill_after_grace)

    sup.on_signal = on_signal
    await child.exited.wait()
    if escalation is not None:
        escalation.cancel()
    code = child.shell_code()
    await stop_everything(sup, grace)
    return code
