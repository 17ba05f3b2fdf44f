"""Re-exec for init: hand the running luasup over to the one installed now
(lua/supervise.lua's sup.reexec decides when, and checks the new one
first), and, in the new luasup, take over what was handed over. The
mechanics of the exec itself are handover.py's."""

import time

from . import __version__, child_signals, console, handover, log
from .ctl.control import from_lua
from .intake import INTAKE

SETTLE = 2.0  # seconds the log sinks and control clients get before the exec


class Reexec:
    def __init__(self, loop, sup, bridge, probes, control, logs, lifecycle, children, handles):
        self.loop = loop
        self.sup = sup
        self.bridge = bridge
        self.probes = probes
        self.control = control
        self.logs = logs
        self.lifecycle = lifecycle
        self._children = children  # Api's handle -> Child
        self._handles = handles  # Api's handle counter
        self.services = None  # what a re-exec handed over of the services, until sup.run takes it
        self.adopted = {}  # pid -> Child handed over, until the policy claims it
        self.adopting = False  # handed over, and the policy has not taken it yet
        self._held = []  # the captures handed over, not read until then

    def core(self):
        return {
            b"handover_format": handover.FORMAT,
            b"reexec_command": lambda: self.bridge.runtime.table(
                {i: a.encode() for i, a in enumerate(handover.command(), 1)}),
            b"carried_services": lambda: _to_lua(self.bridge.runtime, self.services),
            b"adopt_child": self.adopt_child,
            b"adoption_done": self.adoption_done,
            b"reexec_busy": lambda: self.sup.holding or self.adopting,
        }

    def ops(self):
        return {b"reexec": self.reexec}

    # -- the luasup handing over -------------------------------------------

    async def reexec(self, snapshot):
        """Exec the luasup installed now in this process's place, handing it
        the children, their pipes, the listeners, the control socket and
        `snapshot()` (the services' state, from Lua; or nil and why not).
        Returns only when that did not happen: (None, why)."""
        if self.sup.holding:
            return (None, b"a re-exec is under way")
        self.sup.hold_output()  # from here on the pipes keep what children write
        try:
            late = await self.logs.flush(time.monotonic() + SETTLE)
            if late:
                log.warn("logs: %s did not deliver what it held within %g s: dropped at the re-exec"
                         % (", ".join(late), SETTLE))
            await self.control.hold(self.loop.time() + SETTLE)
            if not INTAKE.park():  # from here on, signals wait for the new luasup
                services, why = None, "a signal came as the hand-over began: it is handled first"
            else:
                services, why = _pair(snapshot())
            if services is None:
                why = why.decode("utf-8", "replace") if isinstance(why, bytes) else str(why)
            else:
                why = self._exec(from_lua(services, text=_text))
        finally:  # only when it failed: the process is gone otherwise
            INTAKE.unpark()
            self.control.release()
            self.sup.hold_output(False)
        self.control.reexec_failed(why)
        return (None, why.encode())

    def _exec(self, services):
        sup = self.sup
        state = {
            "format": handover.FORMAT,
            "version": __version__,
            "generation": self.control.generation + 1,
            "signals": {"mask": sorted(child_signals.MASK), "ignored": sorted(child_signals.IGNORED),
                        # the policy's: held for it while the new luasup starts (a
                        # SIGTERM then gets sup.run's ordered stop, not the default one)
                        "taken": sorted(self.lifecycle.policy)},
            "children": sup.handover(),
            "listeners": self.probes.handover(),
            "control": self.control.handover(),
            "rings": self.logs.handover(),
            "services": services,
        }
        keep = [d["fd"] for d in state["listeners"]]
        for child in state["children"]:
            keep += [how["fd"] for how in child["streams"].values()]
            if child["stdin"] >= 0:
                keep.append(child["stdin"])
            if child["notify"]:
                keep.append(child["notify"]["fd"])
        if state["control"]:
            keep.append(state["control"]["fd"])
            keep += [conn["fd"] for conn in state["control"]["connections"]]
        command = " ".join(handover.command())
        # the sinks were flushed already and are not read again before the
        # exec: a route taking luasup's own lines would lose this one
        tap, log.tap = log.tap, None
        log.info("re-exec: handing %s over to %s" % (_children(len(state["children"])), command))
        log.tap = tap
        console.flush_c_stdio()
        console.flush(SETTLE)
        try:
            handover.exec_new(state, keep)
        except OSError as e:
            return "cannot exec %s: %s" % (command, e.strerror or e)

    # -- the luasup taking over --------------------------------------------

    def take(self, state):
        """Adopt what a re-exec handed over (handover.take's state). Call
        before the reaper's first reap and before the script runs."""
        child_signals.adopt(state["signals"]["mask"], state["signals"]["ignored"])
        self.lifecycle.carry(state["signals"]["taken"])
        self.adopting = True
        self._held = self.sup.adopt(state["children"])
        self.adopted = {d["pid"]: self.sup.children[d["pid"]] for d in state["children"] if not d["exited"]}
        self.probes.adopt(state["listeners"])
        self.control.carried = state["control"]
        self.control.generation = state["generation"]
        self.services = state["services"]
        self.logs.carried_rings = state["rings"]
        # a policy that fails before sup.run: the children's last output is still read
        self.sup.exit_code.add_done_callback(lambda _: self.adoption_done())
        log.info("re-exec: luasup %s took over %s from luasup %s"
                 % (__version__, _children(len(state["children"])), state["version"]))

    def adopt_child(self, pid):
        """A handle for the child with that pid that was handed over (the
        policy's service takes it), or None."""
        child = self.adopted.pop(int(pid), None)
        if child is None:
            return None
        handle = next(self._handles)
        self._children[handle] = child
        return handle

    def adoption_done(self):
        """The policy has taken what it wants: read the pipes again, and
        close the listeners and control socket it did not ask for. The
        children nobody claimed stay luasup's: reaped, and stopped at exit."""
        if not self.adopting:
            return
        self.adopting, self.services = False, None
        for capture in self._held:
            capture.release()
        self._held = []
        self.lifecycle.release()
        self.probes.close_unclaimed()
        self.control.drop_carried()


def _text(b):
    """A Lua string for the hand-over's JSON: any bytes come back the same
    (names of services may be any bytes but spaces and controls)."""
    return b.decode("utf-8", "surrogateescape")


def _children(n):
    return "1 child" if n == 1 else "%d children" % n


def _pair(result):
    """A Lua call's (first, second) results."""
    if isinstance(result, tuple):
        return (result + (None, None))[:2]
    return result, None


def _to_lua(runtime, value):
    def plain(v):
        if isinstance(v, str):
            return v.encode("utf-8", "surrogateescape")
        if isinstance(v, dict):
            return {k.encode("utf-8", "surrogateescape"): plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return {i: plain(x) for i, x in enumerate(v, 1)}
        return v
    return None if value is None else runtime.table(plain(value))

