"""Write COUNT numbered lines of SIZE bytes to stdout, and after each one
its number to the file PROGRESS (overwritten in place), so a test can see
how far the writer got while its stdout is held back (logfiles.progress).

    progress.py PROGRESS COUNT SIZE"""

import os
import sys

progress, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fd = os.open(progress, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
for n in range(count):
    line = b"%d " % n
    os.write(1, line + b"x" * (size - len(line) - 1) + b"\n")
    os.pwrite(fd, b"%12d" % (n + 1), 0)

