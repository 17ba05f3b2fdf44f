"""What /proc says about processes (this kernel has no
/proc/PID/task/TID/children, so parents are found by scanning)."""

import os


def parent_of(pid):
    """The ppid of `pid`, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # the command name may contain spaces and parentheses: split after the last ')'
    return int(stat[stat.rindex(b")") + 2:].split(None, 2)[1])


def children_of(ppid):
    """Pids whose parent is `ppid` (direct children, orphans adopted included)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and parent_of(int(entry)) == ppid:
            found.append(int(entry))
    return found
