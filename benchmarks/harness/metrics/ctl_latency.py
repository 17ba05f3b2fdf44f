"""Control latency: what an operator or a probe pays for one question to a
supervisor keeping N services (sleeps) up. luasup runs a `supervise` policy
of N `sup.service`s and serves its control socket; supervisord runs the
same N programs and serves supervisorctl on a unix socket. Both run side by
side for the whole metric.

Two clocks:
- the whole client command, fork+exec to exit (`luasup ctl list`,
  `supervisorctl status`, ...), timed by a C loop (spawntime) so no
  harness start-up is in it;
- the server's round trip on a kept connection (luasup's JSON-RPC,
  supervisord's XML-RPC as supervisorctl sends it), from the request's
  first byte to the answer's last, so a row can tell the client's start-up
  from the server's work.

A floor beside them: the same Python as luasup's client importing `json`
and `socket` and exiting, the least a Python client starts with."""

import subprocess

from .. import control, procs, stats
from ..result import Column, Result

NAME = "ctl_latency"
PEER = "supervisorctl"
FLOOR = "floor: python -c 'import json, socket'"


def _asked(count):
    """The service `status` asks for, in luasup's names and supervisord's."""
    return "s%d" % (count // 2), "bench:bench_%d" % (count // 2)


def _commands(ctx, sock, conf, count):
    """(subject, server, what it asks, argv, the round-trip row of the
    method it calls, the peer row) of every command timed."""
    one, peer_one = _asked(count)
    peer_all = "supervisorctl status"
    peer_status = "supervisorctl status %s" % peer_one
    yield ("luasup ctl list", "luasup", "all", control.ctl(ctx, sock, "list"), "luasup list",
           peer_all)
    yield ("luasup ctl --json list", "luasup", "all", control.ctl(ctx, sock, "--json", "list"),
           "luasup list", peer_all)
    yield ("luasup ctl status %s" % one, "luasup", "one", control.ctl(ctx, sock, "status", one),
           "luasup status", peer_status)
    yield ("luasup ctl health", "luasup", "health", control.ctl(ctx, sock, "health"),
           "luasup health", peer_all)
    yield (peer_all, "supervisord", "all", ["supervisorctl", "-c", conf, "status"], None, None)
    yield (peer_status, "supervisord", "one", ["supervisorctl", "-c", conf, "status", peer_one],
           None, None)
    yield (FLOOR, None, "—", [ctx.python, "-c", "import json, socket"], None, None)


def _round_trips(count):
    """(subject, server, what it asks, method, params, the peer row)"""
    one, peer_one = _asked(count)
    peer_all = "supervisord getAllProcessInfo"
    peer_status = "supervisord getProcessInfo"
    yield "luasup list", "luasup", "all", "list", {}, peer_all
    yield "luasup status", "luasup", "one", "status", {"name": one}, peer_status
    yield "luasup health", "luasup", "health", "health", {}, peer_all
    # what `luasup ctl top` asks every second: each service's CPU and RSS
    yield "luasup stats", "luasup", "all + /proc", "stats", {}, None
    yield peer_all, "supervisord", "all", "supervisor.getAllProcessInfo", (), None
    yield peer_status, "supervisord", "one", "supervisor.getProcessInfo", (peer_one,), None


def _times(ctx, argv, count):
    """Wall times (s) of `count` runs of argv, each to its exit, its output
    to /dev/null; every run must exit 0."""
    timings = ctx.path("times")
    done = subprocess.run([ctx.bins["spawntime"], "-o", timings, str(count)] + argv,
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, timeout=30 + 10 * count)
    try:
        with open(timings) as f:
            lines = [l.split() for l in f]
    except FileNotFoundError:
        lines = []
    problem = " ".join(done.stderr.split())[-300:]
    if done.returncode != 0 or len(lines) != count:
        raise RuntimeError("spawntime failed: %s" % problem)
    bad = [status for _, status in lines if status != "0"]
    if bad:
        raise RuntimeError("wait status %s: %s" % (bad[0], problem))
    return [int(ns) * 1e-9 for ns, _ in lines]


def _luasup(ctx, count, launches):
    """(connection, socket) of luasup keeping `count` services running."""
    source = "local sup = require('supervise')\n%sreturn sup.run()\n" % control.sleepers(count)
    _, argv, env, sock = control.luasup(ctx, source)
    launch = procs.Launch(argv, ctx.path("err"), env=env)
    launches.append(launch)
    rpc = control.wait_serving(launch, sock, ctx.pick(60, 20))
    try:
        control.wait_running(lambda: control.luasup_states(rpc), count, 120, "luasup services")
    except BaseException:
        rpc.close()
        raise
    return rpc, sock


def _supervisord(ctx, count, launches):
    """(connection, config) of supervisord keeping `count` programs running."""
    _, argv, env, conf, sock = control.supervisord(ctx, count)
    launch = procs.Launch(argv, ctx.path("err"), env=env)
    launches.append(launch)
    client = control.wait_supervisord(launch, sock, 60)
    try:
        control.wait_running(lambda: control.supervisord_states(client), count, 120,
                             "supervisord programs")
    except BaseException:
        client.close()
        raise
    return client, conf


def _start(ctx, count, launches, clients, errors):
    """Both supervisors started side by side; the argv of every command.
    A server that fails has its rows fail, the other is measured all the same."""
    sock = conf = ""
    for server, start in (("luasup", _luasup), ("supervisord", _supervisord)):
        try:
            clients[server], where = start(ctx, count, launches)
        except (procs.Timeout, OSError, ValueError, control.RpcError) as e:
            errors[server] = "set-up: %s" % e
            continue
        if server == "luasup":
            sock = where
        else:
            conf = where
    return list(_commands(ctx, sock, conf, count))


def _measure(ctx, commands, count, rounds, per_round, calls, clients, errors):
    """{subject: samples (s)}, {subject: (clock, asks, peer, trip)}, order."""
    samples, rows, order = {}, {}, []

    def take(subject, server, measure):
        if subject not in order:
            order.append(subject)
        if server in errors or subject in errors:
            errors.setdefault(subject, errors.get(server))
            return
        try:
            samples.setdefault(subject, []).extend(measure())
        except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError,
                control.RpcError) as e:
            errors[subject] = str(e)

    def trips(server, method, params):
        client = clients[server]
        if server == "luasup":
            return [client.timed(method, **params)[0] for _ in range(calls)]
        return [client.timed(method, *params)[0] for _ in range(calls)]

    def warm(argv):
        _times(ctx, argv, 1)
        return []

    # untimed: fills the bytecode cache for the client's own modules
    for subject, server, _, argv, _, _ in commands:
        take(subject, server, lambda: warm(argv))
    for r in range(rounds):
        ctx.log("ctl_latency: round %d/%d" % (r + 1, rounds))
        for subject, server, asks, argv, trip, peer in commands:
            rows[subject] = ("command", asks, peer, trip)
            take(subject, server, lambda: _times(ctx, argv, per_round))
        for subject, server, asks, method, params, peer in _round_trips(count):
            rows[subject] = ("round trip", asks, peer, None)
            take(subject, server, lambda: trips(server, method, params))
    return samples, rows, order


def run(ctx):
    result = Result(NAME, "control latency", "ms", [
        Column("clock", "clock", "%s"), Column("asks for", "asks", "%s"),
        Column("median", "median", "%.2f"), Column("p10–p90", "spread", "%.2f"),
        Column("× " + PEER, "ratio", "%.2f"), Column("peer row", "peer", "%s"),
        Column("server round trip", "server", "%.2f"), Column("runs", "n", "%d")],
        "one question to a supervisor of N services: the whole client command, "
        "and the server's round trip")
    count = ctx.pick(100, 10)
    rounds, per_round = ctx.pick((6, 5), (1, 2))
    calls = ctx.pick(100, 10)
    launches, clients, errors = [], {}, {}
    try:
        ctx.log("ctl_latency: starting luasup and supervisord with %d services" % count)
        commands = _start(ctx, count, launches, clients, errors)
        samples, rows, order = _measure(ctx, commands, count, rounds, per_round, calls,
                                        clients, errors)
    finally:
        for client in clients.values():
            client.close()
        for launch in launches:
            launch.close()
        procs.sweep()
    _rows(result, order, rows, samples, errors)
    result.notes.append(
        "%d services (sleeps); luasup: a `supervise` policy of `sup.service`s, socket via "
        "LUASUP_CTL; supervisord: `numprocs=%d`, `unix_http_server` socket. Commands: "
        "fork+exec to exit, %d rounds × %d, interleaved; round trips: %d a round on one kept "
        "connection, encoding and decoding outside the clock." % (count, count, rounds,
                                                                  per_round, calls))
    result.notes.append(
        "supervisord has no health command: `supervisorctl status` (exit 3 when a program "
        "is not running) is what its probes run, so `luasup ctl health` is set beside it. "
        "server round trip: the median round trip of the method the command calls. "
        "`stats` is what `luasup ctl top` asks each second (every service's process tree "
        "read from /proc); supervisord has nothing like it.")
    return result


def _rows(result, order, rows, samples, errors):
    medians = {n: stats.percentile(s, 50) * 1e3 for n, s in samples.items() if s}
    for subject in order:
        clock, asks, peer, trip = rows[subject]
        if subject in errors:
            result.failed(subject, errors[subject], clock=clock, asks=asks)
            continue
        s = stats.summary(samples[subject], 1e3)
        result.add(subject, clock=clock, asks=asks, peer=peer,
                   ratio=stats.ratio(s["median"], medians.get(peer)) if peer else None,
                   server=medians.get(trip), **s)
