"""Double-fork N orphans that exit at once, write their pids to PIDFILE,
then exit. Each orphan is reparented to the nearest reaper: luasup."""

import os
import sys

count, pidfile = int(sys.argv[1]), sys.argv[2]
pids = []
for _ in range(count):
    r, w = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.close(r)
        orphan = os.fork()
        if orphan == 0:
            os._exit(0)
        os.write(w, b"%d\n" % orphan)
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        pids.append(f.read().strip().decode())
    os.waitpid(middle, 0)
with open(pidfile, "w") as f:
    f.write("\n".join(pids) + "\n")
