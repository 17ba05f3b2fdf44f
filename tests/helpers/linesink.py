"""A log consumer for the process sink's tests: reads its stdin and appends
each line to FILE as `PID LINE`, and `PID EOF` at end of file.

    linesink.py FILE [--die-after N [--cut B] [--kill]] [--buffered] [--slow S]

--die-after N: the first consumer (no FILE.died yet) dies after N lines
(and B bytes more with --cut), with exit code 3, or SIGKILL with --kill.
By default it reads a byte at a time, so it takes from the pipe exactly
what it handled; --buffered reads as Python's line iterator does (8 KiB at
a time). --slow S sleeps S seconds after each line."""

import argparse
import os
import signal
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("file")
p.add_argument("--die-after", type=int, default=0)
p.add_argument("--cut", type=int, default=0)
p.add_argument("--kill", action="store_true")
p.add_argument("--buffered", action="store_true")
p.add_argument("--slow", type=float, default=0)
opts = p.parse_args()

out = os.open(opts.file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
me = os.getpid()
dying = opts.die_after and not os.path.exists(opts.file + ".died")


def die():
    open(opts.file + ".died", "w").close()
    if opts.kill:
        os.kill(me, signal.SIGKILL)
    os._exit(3)


def byte_lines():
    line = b""
    while True:
        b = os.read(0, 1)
        if not b:
            return
        line += b
        if b == b"\n":
            yield line
            line = b""


lines = sys.stdin.buffer if opts.buffered else byte_lines()
count = 0
for line in lines:
    os.write(out, b"%d %s" % (me, line))
    count += 1
    if dying and count == opts.die_after:
        for _ in range(opts.cut):
            os.read(0, 1)
        die()
    if opts.slow:
        time.sleep(opts.slow)
os.write(out, b"%d EOF\n" % me)
