"""Each init holding K idle children (`sleep`), as PID 1 of its own PID
namespace: the set-up that the idle, memory and scale metrics look at.

Inits that run one command get a shell that starts the K sleeps and waits;
luasup's script mode and supervisord start the K sleeps themselves."""

from . import procs, subjects

SLEEP = ["sleep", "3600"]  # outlived by nothing: each set-up is killed at the end


def _tree(count):
    if count == 1:
        return SLEEP
    return ["sh", "-c", "i=0; while [ $i -lt %d ]; do %s & i=$((i+1)); done; wait"
            % (count, " ".join(SLEEP))]


def script_source(count):
    return ("local init = require('init')\n"
            "local children = {}\n"
            "for i = 1, %d do children[i] = init.exec(%s) end\n"
            "print('ready')\n"
            "for i = 1, #children do children[i]:status() end\n"
            % (count, ", ".join(map(subjects.lua_string, SLEEP))))


def setups(ctx, count):
    """(name, argv, env) of every subject holding `count` sleeps."""
    for init in subjects.wrappers(ctx):
        yield init.name, init.argv(_tree(count)), init.env
    for loop in subjects.LOOPS:
        yield subjects.luasup_script(ctx, loop, script_source(count))
    yield subjects.supervisord(ctx, SLEEP, numprocs=count)


class Running:
    """A set-up launched in its PID namespace; `pid` is the init's host pid."""

    def __init__(self, ctx, name, argv, env, count):
        self.name = name
        self.count = count
        self.launch = procs.Launch(procs.in_pidns(argv), ctx.path("err"), env=env)
        self.pid = None

    def sleeping(self):
        table = procs.table()
        return sum(1 for p in procs.descendants(self.pid, table) if table[p][2] == "sleep")

    def wait_ready(self, timeout):
        try:
            self.pid = procs.pidns_init(self.launch.proc, timeout)
            procs.wait_until(lambda: self.sleeping() >= self.count, timeout,
                             "%d sleeping children" % self.count, interval=0.02)
        except procs.Timeout as e:
            raise procs.Timeout("%s %s" % (e, self.launch.stderr_tail())) from None

    def close(self):
        self.launch.close()
