"""Script mode: run a Lua policy script as the main task.

The script ends luasup when its main chunk returns (exit code: its integer
result), when it calls os.exit, on an uncaught error (1), or on SIGTERM/SIGINT
(128+N). Each way, children are stopped as in a SIGTERM shutdown first."""

import asyncio
import os

from . import cli, handover, log, signals
from .loop import run as run_loop
from .shutdown import stop_everything

EXIT_LUA_ERROR = 1
LOG_DRAIN_MIN = 0.5  # seconds the log sinks get at exit, even when the grace period is spent


def _load(inv):
    """(source bytes, chunkname bytes, script directory or None)."""
    if inv.path is None:
        return os.fsencode(inv.code), b"=(command line)", None
    with open(inv.path, "rb") as f:
        source = f.read()
    directory = os.path.dirname(os.path.abspath(inv.path))
    return source, b"@" + os.fsencode(inv.path), os.fsencode(directory)


def run(inv, settings):
    try:
        handed_over = handover.take() if inv.mode != "check" else None
    except handover.Refused as e:
        if e.state is None:
            log.fatal("re-exec: %s" % e)
        else:
            log.error("re-exec: %s: stopping the children handed over" % e)
            handover.abandon(e.state, settings.grace)
        return cli.EXIT_USAGE
    try:
        source, chunkname, script_dir = _load(inv)
    except OSError as e:
        log.fatal("unable to read %s: %s" % (inv.path, e.strerror))
        if handed_over is None:
            return cli.EXIT_USAGE
        source, chunkname, script_dir = b"", b"=(re-exec)", None
        handed_over["error"] = "unable to read %s: %s" % (inv.path, e.strerror)
    if source.startswith(b"#!"):  # keep line numbers: blank the shebang line
        source = b"--" + source[2:]
    from .runtime import LuaSyntaxError, Runtime
    runtime = Runtime()
    try:
        fn = runtime.compile(source, chunkname)
    except LuaSyntaxError as e:
        log.error(str(e))
        if handed_over is None:
            return EXIT_LUA_ERROR
        handed_over["error"] = "the policy does not compile"
    if inv.mode == "check":
        return _checked()
    if handed_over is not None and "error" in handed_over:
        # the policy changed since the check: the children handed over are
        # stopped as at any exit rather than left behind
        log.error("re-exec: %s: stopping the children handed over" % handed_over["error"])
        fn = runtime.compile(b"os.exit(1)", b"=(re-exec)")
    arg = {0: os.fsencode(inv.arg0), -1: os.fsencode(cli.self_command())}
    for i, a in enumerate(inv.args, 1):
        arg[i] = os.fsencode(a)
    return run_loop(lambda loop: _main(loop, runtime, fn, inv.args, arg, script_dir, settings, handed_over),
                    settings.loop)


def _checked():
    """--check passed: 0. Asked by a luasup about to re-exec into this one
    (handover.CHECK_ENV), also whether this one can take its hand-over."""
    if handover.CHECK_ENV not in os.environ:
        return 0
    try:
        import sys
        sys.stdout.write(handover.check_answer())
    except handover.Refused as e:
        log.fatal(str(e))
        return cli.EXIT_USAGE
    return 0


async def _main(loop, runtime, fn, args, arg, script_dir, settings, handed_over):
    from .api import Api, exit_code
    from .bridge import Bridge, TaskError
    from .capture import configure as configure_capture
    from .supervisor import Supervisor

    configure_capture(settings)
    sup = Supervisor(loop, settings.grace)
    bridge = Bridge(loop, runtime)
    api = Api(loop, sup, bridge, settings.capture_limit)
    if handed_over is not None:  # before the first reap: their exits meanwhile are theirs
        api.reexec.take(handed_over)
    sup.open()
    runtime.boot(api.core(), script_dir, arg)
    bridge.ops.update(api.ops())

    def on_signal(signo):
        policy = api.lifecycle.policy.get(signo)
        if policy == "ignore" or policy is None and api.lifecycle.held(signo):
            return
        if policy == "script":
            api.lifecycle.deliver(signo)
        elif signo in signals.STOPPING and not sup.exit_code.done():
            log.info("received %s: stopping" % signals.name(signo))
            sup.request_exit(128 + signo, signo)
        else:
            sup.forward(signo)

    def main_done(task):
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            result = task.result()
            code = exit_code(result[0]) if result else 0
            if code is None:
                log.error("error in task main: the main chunk returned %g, not an integer"
                          " exit code" % result[0])
                code = EXIT_LUA_ERROR
            sup.reaper.reap()  # a child whose output just ended has exited too
            n = len(sup.children) - len(sup.stopping_last())  # log consumers go unsaid
            if n and not sup.exit_code.done():
                log.info("the main chunk returned with %d %s still running: stopping %s"
                         " (end it with init.wait() to keep them running)"
                         % (n, "child" if n == 1 else "children", "it" if n == 1 else "them"))
            sup.request_exit(code)
        elif isinstance(error, TaskError):
            log.error("error in task %s: %s" % (error.name, error.text))
            sup.request_exit(EXIT_LUA_ERROR)
        else:
            raise error

    sup.on_signal = on_signal
    # what the script took goes to on_signal; the rest is relayed at once
    sup.takes = lambda signo: (signo in signals.STOPPING or signo in api.lifecycle.policy
                               or signo in api.lifecycle.carried)
    sup.take_signals()
    bridge.start("main", fn, *(os.fsencode(a) for a in args)).add_done_callback(main_done)
    code = await sup.exit_code
    sup.closed = True
    # Tasks in init.wait() run on while the children stop; the rest end now
    # but the log function sinks', which take the children's last lines.
    await _cancel(t for t in bridge.tasks if t not in api.lifecycle.waiting and t not in api.logs.tasks)
    # log consumers (logs.process) stop last, once they have those lines
    await stop_everything(sup, sup.grace, sup.stop_signal, last=False)
    await _cancel(t for t in bridge.tasks if t not in api.logs.tasks)
    if api.lifecycle.exit_hooks:
        code = await _run_exit_hooks(api, sup, code)
    await _drain_logs(api, sup)
    return code


async def _drain_logs(api, sup):
    """The log sinks get what is left of the grace period since the stop
    began (at least LOG_DRAIN_MIN) to deliver what they hold; then log
    consumers, which got end of file, are stopped if still running."""
    import time
    deadline = max(sup.stopping_since + sup.grace, time.monotonic() + LOG_DRAIN_MIN)
    if not await api.logs.drain(deadline):
        log.warn("logs: not every sink delivered what it held before the exit")
    await _cancel(api.logs.tasks)
    # consumers that did not exit at end of file: what is left of the deadline
    await stop_everything(sup, max(0.1, deadline - time.monotonic()))


async def _cancel(tasks):
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    if tasks:  # bounded: a task that would not end must not hold up the exit
        await asyncio.wait(tasks, timeout=1.0)


async def _run_exit_hooks(api, sup, code):
    """on_exit hooks run in order, together bounded by the grace period; what
    they start is stopped before luasup exits. A hook's init.exit(n) changes
    the exit code: the code luasup exits with is returned."""
    sup.closed = False
    lifecycle = api.lifecycle
    lifecycle.hook_code = code
    deadline = sup.loop.time() + sup.grace
    for hook in lifecycle.exit_hooks:
        task = api.start_task("on_exit hook", hook, lifecycle.hook_code)
        await asyncio.wait({task}, timeout=max(0.0, deadline - sup.loop.time()))
        if not task.done():
            log.warn("on_exit hooks still running after %d ms: stopping them"
                     % (sup.grace * 1000))
            break
    sup.closed = True
    await _cancel(t for t in api.bridge.tasks if t not in api.logs.tasks)
    await stop_everything(sup, sup.grace, last=False)
    return lifecycle.hook_code
