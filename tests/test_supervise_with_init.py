"""supervise beside the init primitives: a listener from init.listen passed
with fds stays open across restarts (clients wait in the backlog, never
refused), and init.exec children, timers, signal handlers and on_exit hooks
keep working in a script that runs services."""

import os
import signal
import socket

import pytest

from helpers import LOOPS, PY, read_line, stat, stop, wait_until
from helpers.supervision import read_until, states, sup_start

# Serves one connection on the socket it was given as fd 3, then exits.
ONE_SHOT_SERVER = """
import os, socket
server = socket.socket(fileno=3)
conn, _ = server.accept()
conn.sendall(("%d %s %s\\n" % (os.getpid(), os.environ["LISTEN_FDS"], os.environ["LISTEN_FDNAMES"])).encode())
conn.close()
"""


def ask(host, port):
    with socket.create_connection((host, port), timeout=20) as client:
        client.settimeout(20)
        return client.makefile().readline().split()


@pytest.mark.parametrize("loop", LOOPS)
def test_a_listener_passed_with_fds_serves_every_restart_and_clients_wait_meanwhile(loop):
    proc = sup_start("""
        local l = assert(init.listen('tcp://127.0.0.1:0', {name = 'web'}))
        print(l:address())
        sup.service('web', {cmd = {...}, fds = {l}, restart = 'always', backoff = {initial = 0},
                            limit = false})
        return sup.run()
    """, PY, "-c", ONE_SHOT_SERVER, loop=loop)
    try:
        host, port = read_line(proc.stdout).strip()[len("tcp://"):].rsplit(":", 1)
        answers = [ask(host, int(port)) for _ in range(3)]
        # each connection after the first arrives while the server that
        # answered the last is gone and the next not yet started (1 s apart)
        pids = [a[0] for a in answers]
        assert len(set(pids)) == 3, answers
        assert all(a[1:] == ["1", "web"] for a in answers), answers
        proc.terminate()
        assert proc.wait(timeout=30) == 143
    finally:
        stop(proc)


def test_init_children_timers_handlers_and_on_exit_work_beside_the_services():
    proc = sup_start("""
        local plain = init.exec{'sh', '-c', 'trap "echo plain got USR1" USR1; while :; do sleep 0.05; done',
                                stdout = 'inherit'}
        print('plain', plain:pid())
        local ticks = 0
        init.every(0.02, function() ticks = ticks + 1 end)
        init.on('HUP', function(name) print('handler', name) end)
        init.on_exit(function(code) print('on_exit', code, plain:running(), ticks > 1) end)
        init.after(0.05, function() print('timer fired') end)
        sup.service('svc', {cmd = {'sh', '-c', 'trap "echo svc got USR1" USR1; while :; do sleep 0.05; done'}})
        sup.on('state', function(ev)
            if ev.state == 'running' then print('svc running') end
        end)
        local code = sup.run()
        print('run returned', code)
        return code
    """)
    try:
        plain = int(read_line(proc.stdout).split()[1])
        seen = read_until(proc.stdout, lambda l: l == "svc running")
        if "timer fired" not in seen:
            seen += read_until(proc.stdout, lambda l: l == "timer fired")
        os.kill(proc.pid, signal.SIGHUP)  # taken by the script: not relayed
        seen += read_until(proc.stdout, lambda l: l.startswith("handler"))
        assert seen[-1] == "handler\tSIGHUP"
        os.kill(proc.pid, signal.SIGUSR1)  # not taken: relayed to every child
        seen += read_until(proc.stdout, lambda l: "got USR1" in l)
        seen += read_until(proc.stdout, lambda l: "got USR1" in l)
        assert {"plain got USR1", "svc got USR1"} <= set(seen)
        proc.terminate()
        assert proc.wait(timeout=30) == 143
        rest = proc.stdout.read().splitlines()
        assert rest == ["run returned\t143", "on_exit\t143\tfalse\ttrue"], rest
        err = proc.stderr.read()
        # a relayed HUP would have killed both children (neither traps it):
        # the plain one answered USR1 after it, the service ran once
        assert states(err, "svc") == ["starting", "running", "stopping", "stopped"], err
        wait_until(lambda: stat(plain) is None, what="the plain child gone")
    finally:
        stop(proc)
