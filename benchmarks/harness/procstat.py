"""What the kernel says a process has cost: wake-ups, CPU time, memory."""

import os


def sched(pid):
    """(voluntary switches, involuntary switches, CPU ns), summed over threads."""
    voluntary = involuntary = cpu = 0
    base = "/proc/%d/task" % pid
    for tid in os.listdir(base):
        with open("%s/%s/status" % (base, tid), "rb") as f:
            for line in f:
                if line.startswith(b"voluntary_ctxt_switches:"):
                    voluntary += int(line.split()[1])
                elif line.startswith(b"nonvoluntary_ctxt_switches:"):
                    involuntary += int(line.split()[1])
        with open("%s/%s/schedstat" % (base, tid), "rb") as f:
            cpu += int(f.read().split()[0])
    return voluntary, involuntary, cpu


def memory(pid):
    """{"rss", "pss", "uss"} in KiB, from /proc/PID/smaps_rollup. USS is the
    memory only this process maps (private clean + private dirty)."""
    fields = {}
    with open("/proc/%d/smaps_rollup" % pid, "rb") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(b":"):
                fields[parts[0][:-1].decode()] = int(parts[1])
    return {
        "rss": fields["Rss"],
        "pss": fields["Pss"],
        "uss": fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0),
    }
