"""What /proc says about processes (this kernel has no
/proc/PID/task/TID/children, so parents are found by scanning)."""

import errno
import os

# Kept open so that /proc can still be listed when the fd table is full
# (a script that opened files until EMFILE): closed just for the scan.
_RESERVE = 2
_reserved = [os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC) for _ in range(_RESERVE)]


def _with_reserve(scan, *args):
    """scan(*args), retried once with the reserved fds released on EMFILE."""
    try:
        return scan(*args)
    except OSError as e:
        if e.errno != errno.EMFILE or not _reserved:
            raise
    while _reserved:
        os.close(_reserved.pop())
    try:
        return scan(*args)
    finally:
        for _ in range(_RESERVE):
            try:
                _reserved.append(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
            except OSError:
                break


def _stat(pid):
    """(state, ppid, pgid) of `pid`, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except OSError as e:
        if e.errno == errno.EMFILE:
            raise
        return None
    # the command name may contain spaces and parentheses: split after the last ')'
    fields = stat[stat.rindex(b")") + 2:].split(None, 3)
    return fields[0].decode(), int(fields[1]), int(fields[2])


def table():
    """{pid: (state, ppid, pgid)} of every process, from one pass over /proc."""
    return _with_reserve(_table)


def _table():
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                found[int(entry)] = stat
    return found


def children_of(ppid):
    """Pids whose parent is `ppid` (direct children, orphans adopted included)."""
    return [pid for pid, (_, parent, _) in table().items() if parent == ppid]


def _by_parent():
    by_parent = {}
    for pid, (_, ppid, _) in table().items():
        by_parent.setdefault(ppid, []).append(pid)
    return by_parent


def _tree(root, by_parent=None):
    """root and all its descendants, from one scan of /proc."""
    by_parent = _by_parent() if by_parent is None else by_parent
    tree, todo = [root], [root]
    while todo:
        for child in by_parent.get(todo.pop(), []):
            tree.append(child)
            todo.append(child)
    return tree


_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICK = os.sysconf("SC_CLK_TCK")


def tree_stats(root):
    """Resident memory (bytes), CPU time (s), threads and processes of root
    and its descendants; processes that vanish meanwhile are skipped."""
    return _sum(_tree(root))


def forest_stats(roots, descendants=True):
    """{root: tree_stats(root)} for several roots, from one scan of /proc
    (or of each root alone)."""
    by_parent = _by_parent() if descendants else {}
    return {root: _sum(_tree(root, by_parent)) for root in roots}


def _sum(pids):
    rss = cpu = threads = processes = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid, "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            with open("/proc/%d/statm" % pid, "rb") as f:
                resident = int(f.read().split()[1])
        except (OSError, IndexError):
            continue
        # fields[0] is field 3 of stat: utime is 14, stime 15, threads 20
        cpu += (int(fields[11]) + int(fields[12])) / _TICK
        threads += int(fields[17])
        rss += resident * _PAGE
        processes += 1
    return {"rss": rss, "cpu": cpu, "threads": threads, "processes": processes}
