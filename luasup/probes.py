"""Probes and plumbing for init: (being written)."""


class Probes:
    def __init__(self, loop, supervisor):
        self.loop = loop
        self.sup = supervisor

    def core(self):
        return {}

    def ops(self):
        return {}
