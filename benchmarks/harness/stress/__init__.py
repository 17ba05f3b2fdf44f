"""The stress scenarios: the floods, races and abuse that found the core's
defects, kept runnable. Each module has NAME and run(ctx) -> [Row]."""

from . import early_signal, fd_table, flood, orphans, output, pid_reuse, restarts, stalled

ALL = [flood, early_signal, orphans, output, restarts, pid_reuse, stalled, fd_table]
BY_NAME = {m.__name__.rsplit(".", 1)[1]: m for m in ALL}
