"""exec{...} options, already type-checked in Lua, -> process.Options:
the environment, user and group lookups, listeners, readiness socket."""

import os

from .process import Options


class SpawnRefused(Exception):
    """The options cannot be honoured (unknown user, not root, ...)."""


def _text(value):
    return os.fsdecode(value) if isinstance(value, bytes) else value


def _env_value(value):
    if isinstance(value, bytes):
        return os.fsdecode(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _environment(env, clear):
    result = {} if clear else dict(os.environ)
    if env is not None:
        for key, value in env.items():
            key = _text(key)
            if value is False:
                result.pop(key, None)
            else:
                result[key] = _env_value(value)
    return result


def _ids(user, group):
    """(uid, gid, supplementary groups) for user= and group=."""
    if os.geteuid() != 0:
        raise SpawnRefused("user= and group= need luasup to run as root")
    import grp  # only scripts that set user= or group= pay for these imports
    import pwd
    uid = gid = groups = None
    if user is not None:
        try:
            entry = pwd.getpwnam(_text(user)) if isinstance(user, bytes) else pwd.getpwuid(int(user))
        except KeyError:
            if isinstance(user, bytes):
                raise SpawnRefused("unknown user '%s'" % _text(user)) from None
            entry = None  # a bare uid with no passwd entry is fine
        uid = entry.pw_uid if entry else int(user)
        gid = entry.pw_gid if entry else uid
        groups = os.getgrouplist(entry.pw_name, gid) if entry else [gid]
    if group is not None:
        if isinstance(group, bytes):
            try:
                gid = grp.getgrnam(_text(group)).gr_gid
            except KeyError:
                raise SpawnRefused("unknown group '%s'" % _text(group)) from None
        else:
            gid = int(group)
        groups = [gid]
    return uid, gid, groups


def options_from_lua(loop, lua, capture_limit):
    """(Options, name or None, NotifySocket or None) from exec's option table."""
    opts = Options(capture_limit=capture_limit)
    if lua is None:
        return opts, None, None
    get = lambda key: lua[key.encode()]
    if get("env") is not None or get("clear_env"):
        opts.env = _environment(get("env"), bool(get("clear_env")))
    opts.prefix = get("prefix")
    if opts.prefix is not None:  # prefixed output is relayed unless said otherwise
        opts.stdout = opts.stderr = "inherit"
    for key in ("stdin", "stdout", "stderr"):
        if get(key) is not None:
            setattr(opts, key, _text(get(key)))
    if get("cwd") is not None:
        opts.cwd = get("cwd")
    if get("user") is not None or get("group") is not None:
        opts.uid, opts.gid, opts.groups = _ids(get("user"), get("group"))
    opts.setsid = bool(get("setsid"))
    if get("umask") is not None:
        opts.umask = int(get("umask"))
    fds = get("fds")
    if fds is not None:
        pairs = [fds[i] for i in range(1, len(fds) + 1)]
        opts.fds = [(int(p[1]), _text(p[2])) for p in pairs]
        if opts.fds:
            opts.env = dict(opts.env if opts.env is not None else os.environ)
            opts.env["LISTEN_FDS"] = str(len(opts.fds))
            opts.env["LISTEN_FDNAMES"] = ":".join(name for _, name in opts.fds)
            opts.env.pop("LISTEN_PID", None)  # set in the child, to its own pid
    notify = None
    if get("notify"):
        from .notify import NotifySocket  # a socket module only some scripts use
        notify = NotifySocket(loop)
        opts.env = dict(opts.env if opts.env is not None else os.environ)
        opts.env["NOTIFY_SOCKET"] = notify.address
    name = get("name")
    if get("log_name") is not None:
        opts.log_name = _text(get("log_name"))
    return opts, _text(name) if name is not None else None, notify
