"""The script's say in luasup's life, Python side: signal policies set with
init.on, exit hooks, the grace period, init.wait, init.log."""

import asyncio
import collections

from . import log, signals


class Lifecycle:
    def __init__(self, loop, supervisor):
        self.loop = loop
        self.sup = supervisor
        self.policy = {}  # signo -> "script" | "ignore"
        # After a re-exec, until the policy has set them again (or sup.run
        # has taken the services over): signo -> how many arrived, of the
        # signals the policy before took. They are its, not the children's.
        self.carried = {}
        self.exit_hooks = []
        self.hook_code = None  # while on_exit hooks run: the code luasup will exit with
        self._pending = collections.Counter()
        self._arrived = {}  # signo -> asyncio.Event
        self.waiting = set()  # tasks in init.wait()

    def core(self):
        return {
            b"set_signal_policy": self.set_signal_policy,
            b"add_exit_hook": self.exit_hooks.append,
            b"request_exit": self.request_exit,
            b"grace": self.grace,
            b"log": lambda level, text: log.script(level.decode(), text.decode("utf-8", "replace")),
        }

    def ops(self):
        return {
            b"next_signal": self.next_signal,
            b"shutdown": self.shutdown,
        }

    def set_signal_policy(self, signo, policy):
        signo, policy = int(signo), policy.decode()
        if policy == "default":
            self.policy.pop(signo, None)
        else:
            self.policy[signo] = policy
        self._pending.pop(signo, None)
        for _ in range(self.carried.pop(signo, 0)):
            self.sup.on_signal(signo)

    def carry(self, signos):
        """A re-exec handed over: hold these signals for the policy."""
        self.carried = {int(s): 0 for s in signos}

    def held(self, signo):
        """Whether signo, which no policy takes now, is held for the policy
        (carry). A stop signal waits at most a grace period: a policy that
        never gets to take it again must not keep luasup from stopping."""
        if signo in self.carried:
            self.carried[signo] += 1
            if signo in signals.STOPPING:
                self.loop.call_later(self.sup.grace, self.release)
            return True
        return False

    def release(self):
        """The policy has taken the services over: what it did not take
        again gets the default."""
        carried, self.carried = self.carried, {}
        for signo, n in carried.items():
            for _ in range(n):
                self.sup.on_signal(signo)

    def deliver(self, signo):
        """A signal the script took: queue it for its handler task."""
        self._pending[signo] += 1
        self._arrived.setdefault(signo, asyncio.Event()).set()

    async def next_signal(self, signo):
        signo = int(signo)
        event = self._arrived.setdefault(signo, asyncio.Event())
        while not self._pending[signo]:
            event.clear()
            await event.wait()
        self._pending[signo] -= 1
        return (signals.name(signo).encode(),)

    def request_exit(self, code):
        """init.exit / os.exit (code already checked to be an integer): begin
        shutdown; in an on_exit hook, change the exit code and end the hook."""
        code = int(code) & 0xFF
        if self.hook_code is None:
            self.sup.request_exit(code)
        else:
            self.hook_code = code
            asyncio.current_task().cancel()  # init.exit never returns

    def grace(self, seconds=None):
        previous = self.sup.grace
        if seconds is not None:
            self.sup.grace = float(seconds)
        return previous

    async def shutdown(self):
        self.waiting.add(asyncio.current_task())
        return (await asyncio.shield(self.sup.exit_code),)
