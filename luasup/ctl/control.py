"""The control socket's side of the core: who may do what, and the methods
that are the core's own (logs from a ring sink, events, process statistics,
hello); every other method is answered in Lua by the supervision library
(lua/supervise/control.lua), in a task of its own per request.

`sup.run()` calls core.ctl_serve; for a script that does not, nothing is
started and the server's modules are never imported."""

import asyncio
import itertools
import os
import time

from .. import log

# What a uid given 'read' access may call.
READ = {"hello", "list", "status", "why", "tree", "events", "logs", "health", "ready", "stats"}
LUA = {"list", "status", "start", "stop", "restart", "kill", "why", "tree", "health", "ready", "eval",
       "reload", "reexec"}
METHODS = READ | LUA
MAX_LINES = 100000  # records one `logs` answer may hold
MAX_NAMES = 256  # names one `logs` request may ask for (a ring keeps no more)
_EXACT = 1 << 53  # integers in params beyond this are refused (Lua numbers are doubles)
MAX_ANSWER = 2 << 20  # bytes of lines one `logs` answer may hold: the newest are kept
RECORD_COST = 100  # bytes a record's JSON adds to its line
# The parameters methods take, with their types: anything else a client
# sends is ignored, and nothing deeper than a list of names reaches Lua.
_PARAMS = {"name": str, "names": list, "wait": bool, "timeout": (int, float), "signal": (str, int),
           "code": str, "n": int, "follow": bool, "dry_run": bool, "dependents": bool}


def _step_age():
    """Seconds the Lua step running now has run (eval's runaway guard)."""
    from .. import intake
    busy = intake.busy
    return time.monotonic() - busy[1] if busy else 0.0


def _text(value):
    return value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value


def from_lua(value, depth=0, text=_text):
    """A Lua value -> JSON-able Python; a table with keys 1..n is a list (an
    empty table too: every result is an object with fields). `text` makes
    a Lua string a str."""
    if isinstance(value, bytes):
        return text(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    from lupa.luajit21 import lua_type
    if lua_type(value) != "table" or depth > 16:
        return str(value)
    items = list(value.items())
    if all(isinstance(k, int) for k, _ in items) and sorted(k for k, _ in items) == list(
            range(1, len(items) + 1)):
        return [from_lua(value[i], depth + 1, text) for i in range(1, len(items) + 1)]
    return {text(k) if isinstance(k, bytes) else str(k): from_lua(v, depth + 1, text) for k, v in items}


def _checked(params):
    """params -> the known ones, strings as bytes for Lua; or Failure."""
    from .protocol import INVALID_PARAMS, Failure
    out = {}
    for key, want in _PARAMS.items():
        if key not in params or params[key] is None:
            continue
        value = params[key]
        if want is int and isinstance(value, float) and value.is_integer():
            value = int(value) if abs(value) <= _EXACT else _EXACT + 1  # 2.0 is 2; 1e300 is out of range
        if not isinstance(value, want) or isinstance(value, bool) and want is not bool:
            raise Failure(INVALID_PARAMS, "invalid params: '%s' has the wrong type" % key)
        if isinstance(value, int) and not isinstance(value, bool) and not -_EXACT <= value <= _EXACT:
            raise Failure(INVALID_PARAMS, "invalid params: '%s' is out of range" % key)
        if key == "timeout" and not (0 < value < _EXACT):  # nan and inf fail too
            raise Failure(INVALID_PARAMS, "invalid params: 'timeout' must be a positive number of seconds")
        if key == "names":
            if not all(isinstance(n, str) for n in value):
                raise Failure(INVALID_PARAMS, "invalid params: 'names' must hold strings")
            # once each (a name repeated is one name), and no more than a ring keeps
            value = [n.encode("utf-8", "surrogatepass") for n in dict.fromkeys(value)]
            if len(value) > MAX_NAMES:
                raise Failure(INVALID_PARAMS, "invalid params: at most %d names" % MAX_NAMES)
        elif isinstance(value, str):
            value = value.encode("utf-8", "surrogatepass")
        out[key.encode()] = value
    return out


class Control:
    def __init__(self, loop, sup, bridge, logs):
        self.loop = loop
        self.sup = sup
        self.bridge = bridge
        self.logs = logs
        self.server = None
        self._allow = {}  # uid -> 'read' | 'full'
        self._eval = False
        self._ring = None
        self._dispatch = self._forget = None
        self._eval_limit = 5.0
        self._followers = set()  # _Followers of events
        self._sessions = set()  # numbers of the connections with eval globals in Lua
        self._numbers = itertools.count(1)
        self.carried = None  # the control socket a re-exec handed over: {path, fd, inode}
        self.generation = 0  # re-execs since luasup was started
        self.reexec_failures = 0  # re-execs that failed after they were answered (see hello)
        self.reexec_error = None  # why the last of those failed

    def core(self):
        return {b"ctl_serve": self.serve, b"ctl_event": self.event, b"ctl_step_age": _step_age}

    def ops(self):
        return {}

    # -- serving -------------------------------------------------------------

    def serve(self, path, allow, eval_, ring, metrics, dispatch, forget, eval_limit):
        """Bind the socket and serve it; True, or None once the reason is
        logged (supervision goes on without control)."""
        from . import paths
        from .server import Server, Unavailable, bind
        path = os.environ.get(paths.ENV) or (os.fsdecode(path) if path else paths.default())
        try:
            self._allow = self._uids(allow)
            sock, inode, connections = self._carried_socket(path) or (
                bind(path, shared=bool(self._allow)) + ([],))
        except Unavailable as e:
            log.error("ctl: %s: not serving control" % e)
            return None
        self._eval, self._ring = bool(eval_), ring
        self._dispatch, self._forget, self._eval_limit = dispatch, forget, float(eval_limit)
        self.server = Server(self.loop, path, self.handle, lambda uid: self.access(uid) is not None)
        self.loop.create_task(self.server.listen(sock, inode))
        if connections:
            self.loop.create_task(self.server.adopt(connections))
        self.sup.exit_code.add_done_callback(lambda _: self.close())
        log.debug("ctl: serving on %s" % path)
        if metrics:  # without them (the reason logged) control is still served
            from .metrics import serve as serve_metrics
            serve_metrics(self, os.fsdecode(metrics))
        return True

    def _carried_socket(self, path):
        """The socket a re-exec handed over and its connections, if it is at
        path (else they go)."""
        carried, self.carried = self.carried, None
        if carried is None:
            return None
        import socket
        from .server import remove_if_ours
        sock = socket.socket(fileno=carried["fd"])
        if carried["path"] == path:
            return sock, carried["inode"], carried["connections"]
        sock.close()
        for conn in carried["connections"]:
            os.close(conn["fd"])
        remove_if_ours(carried["path"], carried["inode"])
        return None

    def drop_carried(self):
        """A carried socket the policy did not serve (sup.control(false))."""
        if self.carried is not None:
            self._carried_socket(None)

    # -- re-exec (see server.Server.hold) -------------------------------------

    def reexec_failed(self, why):
        """A re-exec answered as begun did not happen: hello says why."""
        self.reexec_failures += 1
        self.reexec_error = why

    async def hold(self, deadline):
        """Accept and read no more; until the answers to what was read are
        written out (bounded by deadline, loop time)."""
        if self.server is None:
            return
        self.server.hold()
        # Polled: answers go out through transports with no event for an
        # empty buffer. A step first: the standard loop makes what it
        # accepted into connections in tasks.
        while True:
            await asyncio.sleep(0.005)
            if self.server.settled() or self.loop.time() >= deadline:
                return

    def release(self):
        if self.server is not None:
            self.server.release()

    def handover(self):
        """The control socket and its connections, for the new luasup; None
        when not serving."""
        return self.server and self.server.handover()

    @staticmethod
    def _uids(allow):
        import pwd
        from .server import Unavailable
        out = {}
        for who, access in (allow or {}).items():
            if isinstance(who, bytes):
                try:
                    who = pwd.getpwnam(os.fsdecode(who)).pw_uid
                except KeyError:
                    raise Unavailable("option 'allow': no user '%s'" % _text(who)) from None
            out[int(who)] = _text(access)
        return out

    def close(self):
        for follower in list(self._followers):
            follower.conn.drop()
        if self.server is not None:
            self.server.close()
            self.server = None

    def access(self, uid):
        if uid == 0 or uid == os.getuid():
            return "full"
        return self._allow.get(uid)

    # -- requests ------------------------------------------------------------

    async def handle(self, conn, method, params):
        from .protocol import METHOD_NOT_FOUND, PERMISSION_DENIED, Failure
        if method not in METHODS:
            raise Failure(METHOD_NOT_FOUND, "method not found: %s" % method)
        access = self.access(conn.uid)
        if access is None:
            raise Failure(PERMISSION_DENIED, "permission denied: uid %d may not use this socket" % conn.uid)
        if access != "full" and method not in READ:
            raise Failure(PERMISSION_DENIED, "permission denied: uid %d has read-only access" % conn.uid)
        params = _checked(params)
        if method == "eval":
            if not self._eval:
                raise Failure(PERMISSION_DENIED, "permission denied: the policy does not enable eval"
                              " (sup.control{eval = true})")
            if conn.uid != 0:
                raise Failure(PERMISSION_DENIED, "permission denied: eval is for root only")
        if method in LUA:
            return await self._lua(conn, method, params)
        return await getattr(self, "_" + method)(conn, params)

    async def _lua(self, conn, method, params):
        """The answer of lua/supervise/control.lua's method (conn: None for
        the core's own questions)."""
        from ..bridge import TaskError
        from .protocol import INTERNAL_ERROR, LUA_ERROR, Failure
        if conn is not None and conn.number is None:
            conn.number = next(self._numbers)
        if method == "eval" and conn.number not in self._sessions:
            self._sessions.add(conn.number)
            conn.on_close.append(lambda: self._end_session(conn.number))
        task = self.bridge.start("ctl " + method, self._dispatch, method.encode(),
                                 self.bridge.runtime.table(params), conn and conn.number)
        try:
            if method == "eval":  # its waits too are bounded, and end with its client
                try:
                    done, _ = await asyncio.wait({task}, timeout=self._eval_limit + 1)
                except asyncio.CancelledError:
                    task.cancel()
                    raise
                if not done:
                    task.cancel()
                    raise Failure(LUA_ERROR, "interrupted: ran for more than %g s" % self._eval_limit)
            # a client that leaves does not cancel a stop or start half done
            out = await asyncio.shield(task)
        except TaskError as e:
            raise Failure(INTERNAL_ERROR, "internal error: %s" % e.text) from None
        result, code, message = (tuple(out) + (None, None, None))[:3]
        if result is None:
            raise Failure(int(code or INTERNAL_ERROR), _text(message) or "failed")
        return from_lua(result)

    def _end_session(self, number):
        self._sessions.discard(number)
        self._forget(number)

    async def _hello(self, conn, params):
        from .. import __version__
        return {"version": __version__, "pid": os.getpid(), "uid": os.getuid(),
                "access": self.access(conn.uid), "eval": self._eval and conn.uid == 0,
                "generation": self.generation, "reexec_failures": self.reexec_failures,
                "reexec_error": self.reexec_error}

    # -- events --------------------------------------------------------------

    async def _events(self, conn, params):
        follower = _Follower(conn, "event")
        self._followers.add(follower)
        conn.on_writable.append(follower.resume)
        conn.follow(lambda: self._followers.discard(follower))
        return {"following": True}

    def event(self, event):
        """A state change from the supervision library."""
        if not self._followers:
            return
        from .protocol import notification
        params = {_text(k): _text(v) for k, v in event.items()}
        params["time"] = time.time()  # the library's is the monotonic clock
        data = notification("event", params)
        for follower in list(self._followers):
            follower.send(data, 1)

    # -- logs ----------------------------------------------------------------

    def _ring_sink(self):
        from .protocol import FAILED, Failure
        sink = self.logs.ring_sink(self._ring)
        if sink is None:
            raise Failure(FAILED, "no ring buffer: the policy declares no logs.ring (docs/logs.md)")
        return sink

    async def _logs(self, conn, params):
        from .protocol import INVALID_PARAMS, Failure
        ring = self._ring_sink()
        n = params.get(b"n", 100)
        if not 0 <= n <= MAX_LINES:
            raise Failure(INVALID_PARAMS, "invalid params: 'n' must be 0 to %d" % MAX_LINES)
        names = [_text(name) for name in params.get(b"names", [])] or None
        for name in set(names or ()) - set(ring.names()):  # a service that wrote nothing yet is fine
            await self._lua(conn, "status", {b"name": name.encode("utf-8", "surrogatepass")})
        if names is None:
            records = ring.tail(None, n)
        else:
            records = sorted((r for name in names for r in ring.tail(name, n)), key=lambda r: r[0])
            records = records[max(0, len(records) - n):]
        # the newest first, until the answer's JSON would pass MAX_ANSWER
        # (escaped, a byte of binary output takes up to 6)
        import json  # not at start-up: every script imports this module
        kept, size = [], 0
        for wall, stream, pid, line, name in reversed(records):
            record = _record(name, wall, stream, pid, line)
            size += len(json.dumps(record["line"])) + RECORD_COST
            if size > MAX_ANSWER:
                break
            kept.append(record)
        kept.reverse()
        first = len(records) - len(kept)
        answer = {"records": kept}
        if first:
            answer["truncated"] = first  # older records left out to keep the answer small
        if params.get(b"follow"):
            wanted = set(names) if names else None
            follower = _LogFollower(conn, wanted)
            ring.followers.add(follower)
            conn.on_writable.append(follower.resume)
            conn.follow(lambda: ring.followers.discard(follower))
        return answer

    # -- stats ---------------------------------------------------------------

    async def _stats(self, conn, params):
        return await self.stats()

    async def stats(self):
        """Each service's process tree and luasup's own: for `top` and the
        metrics (metrics.py)."""
        from .. import procfs
        services = (await self._lua(None, "list", {}))["services"]
        roots = [s["pid"] for s in services if s.get("pid")]
        usage = procfs.forest_stats(roots)
        out = []
        for s in services:
            u = usage.get(s.get("pid"), {})
            out.append({"name": s["name"], "state": s["state"], "pid": s.get("pid"),
                        "restarts": s["restarts"], "uptime": s.get("uptime"),
                        "cpu": u.get("cpu"), "rss": u.get("rss"), "processes": u.get("processes", 0)})
        times = os.times()
        me = procfs.forest_stats([os.getpid()], descendants=False).get(os.getpid(), {})
        return {"services": out, "luasup": {"pid": os.getpid(), "cpu": times.user + times.system,
                                            "rss": me.get("rss")}}


def _record(name, wall, stream, pid, line):
    return {"name": name, "stream": stream, "pid": pid, "time": wall, "line": _text(bytes(line))}


class _Follower:
    """A connection that follows events or logs. While the client is behind
    (its connection not writable) what it would get is skipped and counted,
    and it is told how many once it has caught up: a slow reader loses
    lines, never luasup's memory or its own connection."""

    def __init__(self, conn, method):
        self.conn = conn
        self.method = method
        self.skipped = 0

    def send(self, data, count):
        if not self.conn.writable:
            self.skipped += count
            return
        self.resume()
        self.conn.send(data)

    def resume(self):
        if self.skipped:
            from .protocol import notification
            skipped, self.skipped = self.skipped, 0
            params = {"records": [], "skipped": skipped} if self.method == "log" else {"skipped": skipped}
            self.conn.send(notification(self.method, params))


class _LogFollower(_Follower):
    """`logs -f`: told of each batch the ring keeps, of the names it asked for."""

    def __init__(self, conn, names):
        super().__init__(conn, "log")
        self.names = names

    def __call__(self, name, wall, stream, pid, lines):
        if self.names is not None and name not in self.names:
            return
        if not self.conn.writable:  # not even the cost of encoding
            self.skipped += len(lines)
            return
        from .protocol import notification
        self.send(notification("log", {"records": [_record(name, wall, stream, pid, line)
                                                   for line in lines]}), len(lines))
