"""`luasup ctl top`: each service's state, pid, CPU %, RSS, restarts and
uptime, and luasup's own line, refreshed every few seconds.

CPU % is the CPU time a service's process tree used between two `stats`
answers over the time between them; the first table, with no answer before
it, shows each process's average since it started (as ps does). On a
terminal the table is drawn in place with rich when it is installed (an
optional extra: `pip install 'luasup[ctl]'`), and q ends it; otherwise
each refresh prints a plain table, so `top -n 1 | cat` works anywhere."""

import contextlib
import os
import select
import sys
import termios
import time
import tty

from .command import duration, table

HEADERS = ["NAME", "STATE", "PID", "CPU%", "RSS", "RESTARTS", "UPTIME"]


def run(client, n, delay):
    keys = _Keys() if sys.stdin.isatty() and sys.stdout.isatty() else None
    view = (_rich() if sys.stdout.isatty() else None) or _Plain(sys.stdout.isatty())
    before = None
    try:
        with view, keys or contextlib.nullcontext():
            shown = 0
            while n is None or shown < n:
                answer = client.call("stats")
                now = time.monotonic()
                view.show(_rows(answer, before, now))
                before = (answer, now)
                shown += 1
                if shown == n or (keys and keys.quit_within(delay)):
                    break
                if not keys:
                    time.sleep(delay)
    except KeyboardInterrupt:
        pass
    return 0


def _rows(answer, before, now):
    """The table's rows: one per service, then luasup's own."""
    previous = {}
    if before is not None:
        old, then = before
        previous = {s["name"]: (s.get("pid"), s.get("cpu"), s.get("uptime"), then)
                    for s in old["services"]}
        previous[None] = (old["luasup"]["pid"], old["luasup"]["cpu"], None, then)
    out = []
    for s in answer["services"]:
        cpu = _cpu_percent(s, s.get("uptime"), previous.get(s["name"]), now)
        out.append([s["name"], s["state"], s.get("pid") or "-", cpu, _size(s.get("rss")),
                    s["restarts"], duration(s.get("uptime"))])
    me = answer["luasup"]
    out.append(["(luasup)", "-", me["pid"], _cpu_percent(me, None, previous.get(None), now),
                _size(me.get("rss")), "-", "-"])
    return out


def _cpu_percent(current, uptime, previous, now):
    """CPU % since the previous answer about the same process, else since
    the process started; '-' when neither is known."""
    cpu = current.get("cpu")
    if cpu is None or not current.get("pid"):
        return "-"
    if previous is not None and previous[0] == current["pid"] and previous[1] is not None:
        _, cpu_then, uptime_then, then = previous
        # luasup's clock when it knows it: the answers' own delays do not count
        elapsed = uptime - uptime_then if uptime and uptime_then else now - then
        if elapsed > 0:
            # a process tree's time falls when one of its processes exits
            return "%.1f" % max(0.0, (cpu - cpu_then) / elapsed * 100)
    if uptime:
        return "%.1f" % (cpu / uptime * 100)
    return "-"


def _size(n):
    if n is None:
        return "-"
    for unit in ("B", "K", "M", "G"):
        if n < 1024 or unit == "G":
            return ("%d%s" if unit == "B" else "%.1f%s") % (n, unit)
        n /= 1024


class _Plain:
    """A table per refresh; on a terminal, each one on a cleared screen."""

    def __init__(self, terminal):
        self.terminal = terminal
        self.shown = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def show(self, body):
        out = table(HEADERS, body)
        if self.terminal:
            out = "\x1b[H\x1b[2J" + out
        elif self.shown:
            out = "\n" + out
        self.shown += 1
        sys.stdout.write(out)
        sys.stdout.flush()


def _rich():
    """A view drawing the table in place with rich, or None without rich."""
    try:
        from rich.live import Live
        from rich.table import Table
        from rich.text import Text
    except ImportError:
        return None
    return _Rich(Live, Table, Text)


class _Rich:
    STYLES = {"running": "green", "failed": "bold red", "backoff": "yellow", "exited": "yellow",
              "stopped": "dim"}

    def __init__(self, live, table, text):
        self.live = live(auto_refresh=False)
        self.table, self.text = table, text

    def __enter__(self):
        self.live.__enter__()
        return self

    def __exit__(self, *exc):
        return self.live.__exit__(*exc)

    def show(self, body):
        t = self.table(box=None, header_style="bold", caption="q or Ctrl-C to quit")
        for i, name in enumerate(HEADERS):
            t.add_column(name, justify="right" if 2 <= i <= 5 else "left", no_wrap=True)
        for row in body:
            # Text, not markup: a service's name may hold brackets
            cells = [self.text(str(x)) for x in row]
            cells[1].stylize(self.STYLES.get(row[1], "none"))
            t.add_row(*cells)
        self.live.update(t, refresh=True)


class _Keys:
    """The terminal in cbreak mode (a key arrives without Enter, Ctrl-C
    still interrupts) while top runs, so that q ends it."""

    def __enter__(self):
        self.fd = sys.stdin.fileno()
        self.saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)
        return self

    def __exit__(self, *exc):
        termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
        return False

    def quit_within(self, seconds):
        """Wait up to seconds for q; True if it came (or stdin ended)."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return False
            key = os.read(self.fd, 32)
            if not key or b"q" in key.lower():
                return True
