"""Time luasup reading one long line with no newline (issue 12, item 6).

    python3 benchmarks/long_line.py [MB ...]     # default: 16 32 64 300

A child writes MB megabytes of NUL bytes and no newline; the script reads
them with `child:lines()`, then with a `stdout = function` callback. Each
run is bounded by --timeout; prints the wall time and luasup's peak RSS.
"""

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_beside = os.path.join(os.path.dirname(sys.executable), "luasup")
LUASUP = _beside if os.access(_beside, os.X_OK) else "luasup"

SCRIPTS = {
    "lines()": """
        local init = require('init')
        local n = 0
        for line in init.exec('head', '-c', arg[1], '/dev/zero'):lines() do n = n + #line end
        assert(n == tonumber(arg[1]), n)
    """,
    "stdout=fn": """
        local init = require('init')
        local n = 0
        local c = init.exec{'head', '-c', arg[1], '/dev/zero', stdout = function(line) n = n + #line end}
        c:wait()
        while n < tonumber(arg[1]) do init.sleep(0.01) end
    """,
}


def measure(script, size, timeout):
    """(seconds or None on timeout, peak RSS in MB)."""
    start = time.monotonic()
    proc = subprocess.Popen([LUASUP, "-e", script, str(size)], stdout=subprocess.DEVNULL)
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            elapsed = time.monotonic() - start
            ok = os.waitstatus_to_exitcode(status) == 0
            return (elapsed if ok else None), usage.ru_maxrss / 1024
        if time.monotonic() > deadline:
            proc.kill()
            _, _, usage = os.wait4(proc.pid, 0)
            return None, usage.ru_maxrss / 1024
        time.sleep(0.05)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="*", type=int, default=[16, 32, 64, 300])
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    print("| reader | MB | seconds | peak RSS MB |")
    print("| --- | --- | --- | --- |")
    for name, script in SCRIPTS.items():
        for mb in args.sizes:
            seconds, rss = measure(script, mb << 20, args.timeout)
            shown = "%.2f" % seconds if seconds is not None else "> %.0f" % args.timeout
            print("| %s | %d | %s | %.0f |" % (name, mb, shown, rss), flush=True)


if __name__ == "__main__":
    main()
