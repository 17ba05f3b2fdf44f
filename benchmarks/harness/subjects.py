"""The inits under test and the argv that runs a command under each.

Every init that wraps one command (`INIT CMD ARGS`) is an `Init`; luasup's
script mode and supervisord need files written first, so they have their own
builders. Each returns (name, argv, env)."""

import os
import shlex

LOOPS = ("uvloop", "asyncio")


def luasup_env(loop):
    env = dict(os.environ)
    env["LUASUP_LOOP"] = loop
    env.pop("LUASUP_LOG_LEVEL", None)
    return env


class Init:
    """`prefix + CMD` runs CMD under this init. `subreaper` is the prefix
    when the init is not PID 1, or None when it then cannot reap orphans."""

    def __init__(self, name, prefix, subreaper, env=None):
        self.name = name
        self.prefix = list(prefix)
        self.subreaper = None if subreaper is None else list(subreaper)
        self.env = env

    def argv(self, cmd, pid1=True):
        prefix = self.prefix if pid1 else self.subreaper
        return prefix + list(cmd)

    def outside(self, cmd):
        """argv when not PID 1 and no orphans are expected: as a subreaper
        if the init can be one (tini warns otherwise), else plain."""
        return (self.subreaper or self.prefix) + list(cmd)


def wrappers(ctx):
    """tini, dumb-init, catatonit and luasup `--` under both loops."""
    inits = [
        # tini only reaps orphans as PID 1 or with -s
        Init("tini", ["tini", "--"], ["tini", "-s", "--"]),
        # dumb-init never asks to be a subreaper
        Init("dumb-init", ["dumb-init"], None),
        Init("catatonit", ["catatonit", "--"], ["catatonit", "--"]),
    ]
    for loop in LOOPS:
        inits.append(Init("luasup -- (%s)" % loop, [ctx.luasup, "--"], [ctx.luasup, "--"],
                          luasup_env(loop)))
    return inits


def mininit(ctx):
    return Init("minimal C init", [ctx.bins["mininit"]], [ctx.bins["mininit"]])


def luasup_script(ctx, loop, source, args=()):
    """luasup running a script file with this source."""
    path = ctx.path("script") + ".lua"
    with open(path, "w") as f:
        f.write(source)
    return ("luasup script (%s)" % loop, [ctx.luasup, path] + [str(a) for a in args],
            luasup_env(loop))


def lua_string(text):
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def supervisord(ctx, cmd, numprocs=1, stdout="/dev/null", restart=False, rotate=(0, 0),
                control=None):
    """supervisord in the foreground running `cmd` numprocs times, its
    output logged to `stdout`; once each, or restarted whenever it exits.
    rotate: (bytes per file, backups kept), (0, 0) for no rotation.
    control: a unix socket path where it serves supervisorctl (its XML-RPC
    interface), or None for no control at all."""
    scratch = ctx.path("supervisord")
    os.mkdir(scratch)
    conf = os.path.join(scratch, "supervisord.conf")
    # Enough descriptors for 1,000 programs' pipes; supervisord refuses to
    # start below minfds.
    with open(conf, "w") as f:
        f.write("""\
[supervisord]
nodaemon=true
logfile=/dev/null
logfile_maxbytes=0
loglevel=error
pidfile={scratch}/supervisord.pid
childlogdir={scratch}
user=root
minfds={minfds}

[program:bench]
command={command}
process_name=%(program_name)s_%(process_num)d
numprocs={numprocs}
autostart=true
autorestart={autorestart}
startsecs=0
stdout_logfile={stdout}
stdout_logfile_maxbytes={maxbytes}
stdout_logfile_backups={backups}
redirect_stderr=true
{control}""".format(scratch=scratch, command=shlex.join(cmd).replace("%", "%%"), numprocs=numprocs,
           stdout=stdout, autorestart="true" if restart else "false",
           maxbytes=rotate[0], backups=rotate[1],
           minfds=max(1024, 4 * numprocs + 64), control=control and _SUPERVISORCTL.format(
               socket=control) or ""))
    return "supervisord", ["supervisord", "-c", conf], None


# what supervisorctl needs: the server on a unix socket, the interface it
# calls, and where supervisorctl finds the server (it reads the same file)
_SUPERVISORCTL = """
[unix_http_server]
file={socket}
chmod=0700

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{socket}
"""


def service_dir(path, program=None, script=None):
    """A service directory for s6-supervise or runsv: `run` is a symlink to
    `program` (which then runs with no shell in between) or a shell script."""
    os.makedirs(path)
    run = os.path.join(path, "run")
    if program is not None:
        os.symlink(program, run)
    else:
        with open(run, "w") as f:
            f.write("#!/bin/sh\n" + script)
        os.chmod(run, 0o755)
    return path
