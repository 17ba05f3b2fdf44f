"""A ring sink: the last lines of each name (service) in memory, for
`ring:tail()` and the control socket's `logs`. It has no queue: keeping a
line is a deque append, and the oldest go as new ones come. It keeps the
rings of at most MAX_NAMES names: a policy that names its jobs by date or
counter would otherwise grow it for ever; the name written to longest ago
goes first."""

import collections
import heapq
import itertools

MAX_NAMES = 256
RECORD_COST = 64  # bytes a kept record costs beside its line (its tuple, time, pid), counted in `bytes`

from .sink import Sink


def _named(records, name):
    return (r + (name,) for r in records)


class RingSink(Sink):
    kind = "ring"

    def __init__(self, loop, lines, size, **queue):
        super().__init__(loop, "ring", max_bytes=max(size, 1), full="drop-oldest",
                         batch_bytes=1, batch_time=0)
        self._max_lines = lines
        self._max_size = size
        self._rings = collections.OrderedDict()  # name -> [deque of (wall, stream, pid, line), bytes]
        # callables told of each batch kept: f(name, wall, stream, pid, lines) (ctl logs -f)
        self.followers = set()

    def put(self, batch, can_wait=True):
        lines = batch.lines
        if not lines:
            return
        size = self._keep(batch.name, (batch.wall, batch.stream, batch.pid), lines)
        self.delivered += len(lines)
        self.delivered_bytes += size
        if self.followers:  # every batch comes here: no copy when none follows
            for follower in tuple(self.followers):
                follower(batch.name, batch.wall, batch.stream, batch.pid, lines)

    def _keep(self, name, stamp, lines):
        """Keep lines under name, the oldest going past the limits; their cost."""
        ring = self._rings.get(name)
        if ring is None:
            ring = self._rings[name] = [collections.deque(), 0]
            if len(self._rings) > MAX_NAMES:
                self._rings.popitem(last=False)
        else:
            self._rings.move_to_end(name)
        keep = ring[0]
        keep.extend(stamp + (line,) for line in lines)
        size = sum(map(len, lines)) + RECORD_COST * len(lines)  # as popping counts them
        ring[1] += size
        while len(keep) > self._max_lines or (ring[1] > self._max_size and len(keep) > 1):
            ring[1] -= len(keep.popleft()[3]) + RECORD_COST
        return size

    def handover(self):
        """The records kept, for a re-exec: {name: [[wall, stream, pid, line], ...]}."""
        return {name: [[w, st, pid, line.decode("latin-1")] for w, st, pid, line in ring[0]]
                for name, ring in self._rings.items()}

    def adopt(self, carried):
        """Keep what a re-exec handed over (see handover), within this ring's limits."""
        for name, records in carried.items():
            for wall, stream, pid, line in records:
                self._keep(name, (wall, stream, pid), [line.encode("latin-1")])

    def tail(self, name=None, n=None):
        """The last n records of name (all names: merged by time), oldest first."""
        if name is not None:
            ring = self._rings.get(name)
            records = [r + (name,) for r in ring[0]] if ring else []
            return records if n is None else records[max(0, len(records) - n):]
        # each ring is in time order: merge them from the newest back, n deep
        newest = heapq.merge(*(_named(reversed(ring[0]), nm) for nm, ring in self._rings.items()),
                             key=lambda r: -r[0])
        records = list(newest if n is None else itertools.islice(newest, n))
        records.reverse()
        return records

    def names(self):
        return sorted(self._rings)

    def wake(self):
        pass  # nothing is ever queued

    async def drain(self, deadline, final=True):
        return True
