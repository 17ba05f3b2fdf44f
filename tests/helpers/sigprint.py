"""Print every signal received, one line each: `NAME PID`.

Prints `ready PID PGID` once its handlers are in place. With --fork, a
grandchild in the same process group does the same (tagged `grandchild`),
so a test can tell the group was signalled, not only the child."""

import os
import signal
import sys
import time

out = 1
if "--out" in sys.argv:  # append to a file instead of stdout
    out = os.open(sys.argv[sys.argv.index("--out") + 1], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
tag = "child"
if "--fork" in sys.argv:
    if os.fork() == 0:
        tag = "grandchild"
skip = {signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD}


def handler(signo, _frame):
    os.write(out, ("%s %s %d\n" % (tag, signal.Signals(signo).name if signo < signal.SIGRTMIN
                                  else "SIGRTMIN+%d" % (signo - signal.SIGRTMIN), os.getpid())).encode())


for s in signal.valid_signals():
    if s not in skip:
        try:
            signal.signal(s, handler)
        except (OSError, ValueError):
            pass
os.write(out, ("ready %s %d %d\n" % (tag, os.getpid(), os.getpgrp())).encode())
deadline = time.monotonic() + 120  # never outlive a broken test by much
while time.monotonic() < deadline:
    time.sleep(1)
