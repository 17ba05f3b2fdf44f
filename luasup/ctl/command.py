"""`luasup ctl`: talk to a running luasup through its control socket.

Exit codes: 0 ok; 1 the request failed (unknown service, unhealthy, not
ready, a Lua error); 2 usage; 3 luasup not reachable or permission denied.
Each failure is one line on stderr starting `luasup ctl: `."""

import argparse
import json
import os
import signal
import sys
import time

from . import paths
from .client import Client, Cut, Gone, Unreachable
from .protocol import PERMISSION_DENIED, Failure

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
PROG = "luasup ctl"
TOP_MIN_DELAY = 0.1  # seconds: each refresh makes luasup scan /proc
REEXEC_WAIT = 30.0  # seconds `reexec` waits for the new luasup to answer (--timeout)
REEXEC_POLL = 0.02  # seconds between its questions meanwhile


class Usage(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise Usage(message)


def _seconds(text):
    value = float(text)
    if not 0 < value < float("inf"):  # nan too
        raise ValueError(text)
    return value


_seconds.__name__ = "positive number of seconds"  # argparse's word for a bad value


def _parser():
    p = _Parser(prog=PROG, description="Talk to a running luasup through its control socket"
                " (docs/ctl.md).",
                epilog="exit codes: 0 ok, 1 the request failed, 2 usage,"
                " 3 luasup not reachable or permission denied")
    p.add_argument("--socket", metavar="PATH",
                   help="the control socket (default: $LUASUP_CTL, else %s for root)" % paths.ROOT_PATH)
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.add_argument("--timeout", type=_seconds, metavar="S", default=None,
                   help="give up waiting for an answer after S seconds")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    sub.add_parser("list", help="every service: state, pid, uptime, restarts, last exit")
    sub.add_parser("status", help="one service in detail").add_argument("name")
    for name, what in (("start", "start services and wait until they run"),
                       ("stop", "stop services (no restart)"),
                       ("restart", "restart services and wait until they run")):
        c = sub.add_parser(name, help=what)
        c.add_argument("--no-wait", action="store_true", help="return once the change has begun")
        c.add_argument("names", nargs="+", metavar="NAME")
    k = sub.add_parser("kill", help="send a signal to a service's process group (default TERM)")
    k.add_argument("name")
    k.add_argument("signal", nargs="?", default="TERM")
    lg = sub.add_parser("logs", help="recent output from the ring buffer; -f follows")
    lg.add_argument("-f", "--follow", action="store_true")
    lg.add_argument("-n", type=int, default=100, metavar="N", help="lines (default 100)")
    lg.add_argument("names", nargs="*", metavar="NAME")
    sub.add_parser("why", help="why a service is in its state").add_argument("name")
    sub.add_parser("tree", help="the dependency tree with states")
    sub.add_parser("events", help="follow state changes")
    r = sub.add_parser("reload", help="run the policy file again and apply what changed")
    r.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    r.add_argument("--dependents", action="store_true",
                   help="restart what depends on a changed service too")
    sub.add_parser("reexec", help="replace luasup with the luasup installed now, keeping every child")
    h = sub.add_parser("health", help="exit 0 if every critical service runs and is healthy")
    h.add_argument("--if-served", action="store_true",
                   help="exit 0 too when no control socket exists (luasup serves none)")
    sub.add_parser("ready", help="exit 0 once every service is ready")
    sub.add_parser("eval", help="run Lua inside the policy (root; sup.control{eval = true})") \
        .add_argument("code")
    sub.add_parser("repl", help="a Lua prompt inside the policy (as eval)")
    t = sub.add_parser("top", help="a live table: state, pid, CPU %%, RSS, restarts, uptime")
    t.add_argument("-n", type=int, default=None, metavar="N", help="stop after N refreshes")
    t.add_argument("-d", type=float, default=1.0, metavar="S", help="seconds between refreshes")
    return p


def main(argv):
    # early.py blocked every signal for luasup the supervisor; a client
    # wants Ctrl-C and a closed pipe to end it
    from ..early import ORIGINAL_MASK
    signal.pthread_sigmask(signal.SIG_SETMASK, ORIGINAL_MASK)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        args = _parser().parse_args(argv)
        if getattr(args, "n", None) is not None and args.n < 0:
            raise Usage("-n must be 0 or more")
        if args.command == "top" and not args.d >= TOP_MIN_DELAY:
            raise Usage("-d must be %g seconds or more" % TOP_MIN_DELAY)
    except Usage as e:
        sys.stderr.write("%s: %s (see luasup ctl --help)\n" % (PROG, e))
        return EXIT_USAGE
    except SystemExit as e:  # --help
        return e.code
    path = args.socket or paths.default()
    if getattr(args, "if_served", False) and not _exists(path):
        sys.stdout.write("no control socket at %s: nothing to check\n" % path)
        return EXIT_OK
    try:
        client = Client(path, args.timeout)
        try:
            return COMMANDS[args.command](client, args) or EXIT_OK
        finally:
            client.close()
    except Unreachable as e:
        return _fail(str(e), EXIT_UNREACHABLE)
    except Failure as e:
        return _fail(e.message, EXIT_UNREACHABLE if e.code == PERMISSION_DENIED else EXIT_FAILED)
    except KeyboardInterrupt:
        return 130


def _exists(path):
    """Whether anything is at path; True too when we may not look (the
    socket is then luasup's business to refuse, not absent)."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    return True


def _fail(message, code):
    sys.stderr.write("%s: %s\n" % (PROG, message))
    return code


def _print_json(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


# -- formatting --------------------------------------------------------------

def duration(seconds):
    """3s, 5m02s, 2h03m, 4d02h."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return "%ds" % s
    if s < 3600:
        return "%dm%02ds" % divmod(s, 60)
    if s < 86400:
        return "%dh%02dm" % (s // 3600, s % 3600 // 60)
    return "%dd%02dh" % (s // 86400, s % 86400 // 3600)


def table(headers, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    lines = []
    for row in [headers] + rows:
        lines.append("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())
    return "\n".join(lines) + "\n"


def _last_exit(st):
    e = st.get("last_exit")
    return e["text"] if e else "-"


def _state(st):
    if st.get("healthy") is False and st["state"] == "running":
        return "running (unhealthy)"
    return st["state"]


# -- commands ----------------------------------------------------------------

def _list(client, args):
    result = client.call("list")
    if args.json:
        return _print_json(result)
    rows = [[st["name"], _state(st), st.get("pid") or "-", duration(st.get("uptime")),
             st["restarts"], _last_exit(st)] for st in result["services"]]
    sys.stdout.write(table(["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "LAST EXIT"], rows))


def _status(client, args):
    st = client.call("status", {"name": args.name})
    if args.json:
        return _print_json(st)
    out = [("name", st["name"]), ("kind", st["kind"]), ("state", _state(st)),
           ("why", st.get("why") or "-"), ("for", duration(st.get("for"))),
           ("pid", st.get("pid") or "-"), ("uptime", duration(st.get("uptime"))),
           ("restarts", st["restarts"]), ("critical", json.dumps(st.get("critical") or False).strip('"')),
           ("after", ", ".join(st.get("after") or []) or "-"), ("last exit", _last_exit(st))]
    sys.stdout.write("".join("%-10s %s\n" % pair for pair in out))


def _change(method):
    def run(client, args):
        params = {"names": args.names, "wait": not args.no_wait}
        result = client.call(method, params)
        if args.json:
            _print_json(result)
        failed = False
        for r in result["results"]:
            if not r["ok"]:
                failed = True
                sys.stderr.write("%s: %s: %s (%s)\n" % (PROG, r["name"], r.get("state"), r.get("why")))
            elif not args.json:
                state = r.get("state") if params["wait"] else method + " begun"
                sys.stdout.write("%s: %s\n" % (r["name"], state))
        return EXIT_FAILED if failed else EXIT_OK
    return run


def _kill(client, args):
    sig = int(args.signal) if args.signal.isdigit() else args.signal
    result = client.call("kill", {"name": args.name, "signal": sig})
    if args.json:
        return _print_json(result)
    sys.stdout.write("%s: sent %s\n" % (result["name"], result["signal"]))


def _log_line(record):
    return "%s | %s\n" % (record["name"], record["line"])


def _logs(client, args):
    result = client.call("logs", {"names": args.names, "n": args.n, "follow": args.follow})
    write = sys.stdout.write
    show = (lambda r: json.dumps(r) + "\n") if args.json else _log_line
    for record in result["records"]:
        write(show(record))
    sys.stdout.flush()
    if result.get("truncated"):
        sys.stderr.write("%s: %d older lines left out (the answer is kept under 2 MiB)\n"
                         % (PROG, result["truncated"]))
    if args.follow:
        for method, params in client.notifications():
            if method == "log":
                write("".join(show(r) for r in params["records"]))
                sys.stdout.flush()
                if params.get("skipped"):
                    sys.stderr.write("%s: %d lines skipped: this reader fell behind\n"
                                     % (PROG, params["skipped"]))


def _why(client, args):
    result = client.call("why", {"name": args.name})
    if args.json:
        return _print_json(result)
    out = ["%s: %s for %s: %s\n" % (result["name"], result["state"], duration(result.get("for")),
                                     result.get("why") or "-")]
    if result.get("waiting_for"):
        out.append("waiting for: %s\n" % ", ".join(result["waiting_for"]))
    if result.get("last_exit"):
        e = result["last_exit"]
        out.append("last exit: %s after %s\n" % (e["text"], duration(e.get("runtime"))))
    if result.get("restarts"):
        out.append("restarts: %d\n" % result["restarts"])
    sys.stdout.write("".join(out))


def _tree(client, args):
    result = client.call("tree")
    if args.json:
        return _print_json(result)
    services = {s["name"]: s for s in result["services"]}
    needed = {dep for s in result["services"] for dep in s["after"]}
    lines = []

    def draw(name, prefix, last, top):
        s = services.get(name)
        label = "%s (%s)" % (name, s["state"] if s else "unknown")
        lines.append(label if top else prefix + ("└─ " if last else "├─ ") + label)
        deps = s["after"] if s else []
        inner = "" if top else prefix + ("   " if last else "│  ")
        for i, dep in enumerate(deps):
            draw(dep, inner, i == len(deps) - 1, False)

    for s in result["services"]:
        if s["name"] not in needed:
            draw(s["name"], "", True, True)
    sys.stdout.write("".join(line + "\n" for line in lines))


def _events(client, args):
    client.call("events")
    for method, params in client.notifications():
        if method != "event":
            continue
        if "skipped" in params:
            sys.stderr.write("%s: %d events skipped: this reader fell behind\n" % (PROG, params["skipped"]))
            continue
        if args.json:
            _print_json(params)
            continue
        stamp = time.strftime("%H:%M:%S", time.localtime(params.get("time", time.time())))
        sys.stdout.write("%s %s: %s -> %s (%s)\n" % (stamp, params.get("service"), params.get("previous"),
                                                     params.get("state"), params.get("why")))
        sys.stdout.flush()


def _reload(client, args):
    plan = client.call("reload", {"dry_run": args.dry_run, "dependents": args.dependents})
    if args.json:
        return _print_json(plan)
    for key, would in (("added", "would start"), ("removed", "would stop"),
                       ("changed", "would restart"), ("unchanged", "would keep")):
        if plan.get(key):
            sys.stdout.write("%s: %s\n" % (would if args.dry_run else key, ", ".join(plan[key])))


def _reexec(client, args):
    """Ask for the re-exec, then wait for the new luasup to answer `hello`
    with the next generation (or the old one to say it failed)."""
    deadline = time.monotonic() + (args.timeout or REEXEC_WAIT)
    before = client.call("hello")
    try:
        client.call("reexec")
    except Cut:
        pass  # another re-exec's exec closed the connection: its new luasup answers below
    while True:
        try:
            now = _hello(client.path, deadline)
        except Gone as e:  # the new luasup died, or never served the socket
            return _fail("re-exec failed: %s: the new luasup did not take over (see its output)" % e,
                         EXIT_FAILED)
        if now is not None and now.get("generation", 0) > before.get("generation", 0):
            break
        if now is not None and now.get("reexec_failures", 0) > before.get("reexec_failures", 0):
            return _fail("re-exec failed, nothing changed: %s" % now.get("reexec_error"), EXIT_FAILED)
        if time.monotonic() >= deadline:
            return _fail("re-exec: no new luasup answered at %s within %g s"
                         % (client.path, args.timeout or REEXEC_WAIT), EXIT_UNREACHABLE)
        time.sleep(REEXEC_POLL)
    result = {"from": before.get("version"), "to": now.get("version"), "pid": now.get("pid"),
              "generation": now.get("generation")}
    if args.json:
        return _print_json(result)
    sys.stdout.write("re-exec: luasup %(from)s -> luasup %(to)s (pid %(pid)s)\n" % result)


def _hello(path, deadline):
    """hello from whichever luasup answers at path now, or None (between
    the two, a connection may be cut or not answered yet)."""
    try:
        client = Client(path, max(0.1, deadline - time.monotonic()))
        try:
            return client.call("hello")
        finally:
            client.close()
    except Gone:
        raise
    except (Unreachable, Failure):
        return None


def _verdict(method, key, listed):
    def run(client, args):
        result = client.call(method)
        if args.json:
            _print_json(result)
        if not result[key]:
            for problem in result[listed]:
                sys.stderr.write("%s: %s\n" % (PROG, problem))
            return EXIT_FAILED
        if not args.json:
            sys.stdout.write("%s\n" % key)
        return EXIT_OK
    return run


def _eval(client, args):
    result = client.call("eval", {"code": args.code})
    if args.json:
        return _print_json(result)
    if result["values"]:
        sys.stdout.write("\t".join(result["values"]) + "\n")


def _repl(client, args):
    from .repl import run
    return run(client)


def _top(client, args):
    from .top import run
    return run(client, args.n, args.d)


COMMANDS = {
    "list": _list, "status": _status, "start": _change("start"), "stop": _change("stop"),
    "restart": _change("restart"), "kill": _kill, "logs": _logs, "why": _why, "tree": _tree,
    "events": _events, "reload": _reload, "reexec": _reexec, "health": _verdict("health", "healthy", "problems"),
    "ready": _verdict("ready", "ready", "waiting"), "eval": _eval, "repl": _repl, "top": _top,
}
