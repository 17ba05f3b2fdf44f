"""A minimal job-control shell, run on a terminal: starts its arguments as a
foreground job, and does what a shell does when the job stops and the user
types `fg`. Prints `started PID`, `stopped`, `exit CODE`.

Unlike bash it never touches the terminal's modes, so nothing typed to it
is flushed."""

import os
import signal
import sys

signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # to take the terminal back


def foreground(pgid):
    os.tcsetpgrp(0, pgid)


pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    foreground(os.getpid())
    signal.signal(signal.SIGTTOU, signal.SIG_DFL)
    os.execvp(sys.argv[1], sys.argv[1:])
os.setpgid(pid, pid)
print("started", pid, flush=True)
while True:
    _, status = os.waitpid(pid, os.WUNTRACED)
    if not os.WIFSTOPPED(status):
        break
    foreground(os.getpgrp())
    print("stopped", flush=True)
    while os.read(0, 100).strip() != b"fg":
        pass
    foreground(pid)
    os.killpg(pid, signal.SIGCONT)
print("exit", os.waitstatus_to_exitcode(status), flush=True)
