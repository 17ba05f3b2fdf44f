"""The least a Python init built like luasup does to relay a signal: one
signalfd on the event loop, read, kill(2) the child. Its latency is the
floor for luasup's, so the gap between the two is luasup's own overhead.

    python3 signal_relay.py uvloop|asyncio CMD [ARGS...]
"""

import asyncio
import ctypes
import os
import signal
import sys

loop_name, cmd = sys.argv[1], sys.argv[2:]
libc = ctypes.CDLL(None, use_errno=True)


class SigSet(ctypes.Structure):
    _fields_ = [("val", ctypes.c_ulong * 16)]


wanted = (signal.SIGUSR1, signal.SIGTERM, signal.SIGCHLD)
signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
mask = SigSet()
libc.sigemptyset(ctypes.byref(mask))
for s in wanted:
    libc.sigaddset(ctypes.byref(mask), int(s))
sigfd = libc.signalfd(-1, ctypes.byref(mask), os.O_NONBLOCK | os.O_CLOEXEC)

if loop_name == "uvloop":
    import uvloop
    loop = uvloop.new_event_loop()
else:
    loop = asyncio.new_event_loop()
child = os.posix_spawnp(cmd[0], cmd, os.environ, setsigmask=())
done = loop.create_future()


def ready():
    buf = os.read(sigfd, 128 * 16)
    for off in range(0, len(buf), 128):
        signo = int.from_bytes(buf[off:off + 4], "little")
        if signo == signal.SIGCHLD:
            pid, status = os.waitpid(child, os.WNOHANG)
            if pid and not done.done():
                done.set_result(os.waitstatus_to_exitcode(status))
        else:
            os.kill(child, signo)


loop.add_reader(sigfd, ready)
sys.exit(loop.run_until_complete(done))
