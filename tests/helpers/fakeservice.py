"""A stand-in for a service, keeping its own records so a test can prove
the order things happened in without trusting luasup's word for it.

    fakeservice.py NAME RECORDS [options]

Appends `NAME EVENT PID MONOTONIC` lines to RECORDS (O_APPEND, one write
each, so lines from many processes never mix): `start` at once, `term` on
SIGTERM (or SIGINT, SIGQUIT, SIGHUP, SIGUSR1: the signal's name), `exit`
just before it exits on its own account. Options:

  --linger S        take S seconds to exit after a stop signal
  --ignore-term     record a stop signal and carry on
  --exit CODE       exit with CODE right after the start record
  --run S           with --exit: exit S seconds after the start record
  --group-helper S  fork a member of its own process group, recording as
                    NAME-helper, that takes S seconds to exit after SIGTERM
                    (so the group outlives the service's own process)
  --gate FILE       do the readiness signals below only once FILE exists
  --tcp PORT        listen on 127.0.0.1:PORT
  --http PORT       serve HTTP on 127.0.0.1:PORT: 503 before the gate, 200 after
  --say TEXT        write TEXT as a line on stdout (--stderr: on stderr)
  --notify          send READY=1 to $NOTIFY_SOCKET
"""

import argparse
import http.server
import os
import signal
import socket
import threading
import time

LIFETIME = 120  # seconds: never outlive a broken test by much
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGUSR1)

p = argparse.ArgumentParser()
p.add_argument("name")
p.add_argument("records")
p.add_argument("--linger", type=float, default=0)
p.add_argument("--ignore-term", action="store_true")
p.add_argument("--exit", type=int)
p.add_argument("--run", type=float, default=0)
p.add_argument("--group-helper", type=float)
p.add_argument("--gate")
p.add_argument("--tcp", type=int)
p.add_argument("--http", type=int)
p.add_argument("--say")
p.add_argument("--stderr", action="store_true")
p.add_argument("--notify", action="store_true")
opts = p.parse_args()

out = os.open(opts.records, os.O_WRONLY | os.O_APPEND | os.O_CREAT)


def record(event, name=opts.name):
    os.write(out, ("%s %s %d %.6f\n" % (name, event, os.getpid(), time.monotonic())).encode())


def on_term(name, linger, ignore):
    def handler(signo, _frame):
        record("term" if signo == signal.SIGTERM else signal.Signals(signo).name, name)
        if ignore:
            return
        time.sleep(linger)
        record("exit", name)
        os._exit(0)
    for signo in STOP_SIGNALS:
        signal.signal(signo, handler)


def gate_open():
    return opts.gate is None or os.path.exists(opts.gate)


def wait_for_gate():
    while not gate_open():
        time.sleep(0.01)


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200 if gate_open() else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()


on_term(opts.name, opts.linger, opts.ignore_term)
record("start")  # from here on, a stop signal is recorded
if opts.exit is not None:
    time.sleep(opts.run)
    record("exit")
    os._exit(opts.exit)
if opts.group_helper is not None and os.fork() == 0:
    on_term(opts.name + "-helper", opts.group_helper, False)
    record("start", opts.name + "-helper")
    time.sleep(LIFETIME)
    os._exit(0)
if opts.http:
    server = http.server.HTTPServer(("127.0.0.1", opts.http), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
wait_for_gate()
if opts.tcp:
    listener = socket.create_server(("127.0.0.1", opts.tcp))  # a name keeps it open
if opts.say:
    os.write(2 if opts.stderr else 1, (opts.say + "\n").encode())
if opts.notify:
    address = os.environ["NOTIFY_SOCKET"]
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(b"READY=1", address)
deadline = time.monotonic() + LIFETIME
while time.monotonic() < deadline:
    time.sleep(1)
