"""One module per metric; each has NAME and run(ctx) -> Result."""

from . import (ctl_idle, ctl_latency, ctl_logs, exit_codes, idle, live, log_memory,
               log_throughput, memory, reaping, reexec, relay, restart_latency, scale, services,
               signal_latency, spawn_rate, startup)

ALL = [signal_latency, reaping, exit_codes, relay, idle, memory, startup, spawn_rate, scale,
       restart_latency, services, log_throughput, log_memory, live, ctl_latency, ctl_logs,
       ctl_idle, reexec]
BY_NAME = {m.NAME: m for m in ALL}
