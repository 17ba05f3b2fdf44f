"""One row of the stress report: what was done how many times, what went
wrong (the counts the quick test holds at zero) and what it measured."""

PROBLEMS = ("hangs", "wrong", "left", "tracebacks", "growth")


class Row:
    """`hangs`: runs that did not end by their deadline; `wrong`: wrong exit
    codes and wrong outcomes (the scenario's notes say which); `left`:
    processes still running after luasup exited; `tracebacks`: Python
    tracebacks, aborts or crashes on luasup's stderr; `growth`: resources
    that grew past the scenario's bound. `figures` are measurements, never
    judged here."""

    def __init__(self, scenario, case):
        self.scenario = scenario
        self.case = case
        self.runs = 0
        self.hangs = self.wrong = self.left = self.tracebacks = self.growth = 0
        self.figures = []  # (label, value, format)
        self.notes = []
        self.error = None

    def figure(self, label, value, fmt="%.2f"):
        self.figures.append((label, value, fmt))

    @property
    def problems(self):
        return sum(getattr(self, k) for k in PROBLEMS) + (1 if self.error else 0)

    def figures_text(self):
        parts = []
        for label, value, fmt in self.figures:
            parts.append("%s %s" % (label, "—" if value is None else fmt % value))
        if self.error:
            parts.append("failed: " + self.error)
        return ", ".join(parts)

    def data(self):
        out = {"scenario": self.scenario, "case": self.case, "runs": self.runs,
               "problems": self.problems, "figures": {l: v for l, v, _ in self.figures},
               "figures_text": self.figures_text(), "notes": self.notes, "error": self.error}
        out.update({k: getattr(self, k) for k in PROBLEMS})
        return out


def _table(headers, lines):
    widths = [max([len(h)] + [len(l[i]) for l in lines]) for i, h in enumerate(headers)]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |",
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for line in lines:
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths)) + " |")
    return "\n".join(out)


def table(rows, before=None):
    """Markdown, from data() rows. `before` is an earlier run's rows: a
    column then shows what that run found for the same scenario and case."""
    headers = ["scenario", "case", "runs"] + list(PROBLEMS) + ["figures"]
    earlier = {(r["scenario"], r["case"]): r for r in before or ()}
    if before is not None:
        headers.append("before")
    lines = []
    for row in rows:
        line = [row["scenario"], row["case"], str(row["runs"])]
        line += [str(row[k]) for k in PROBLEMS] + [row["figures_text"]]
        if before is not None:
            old = earlier.get((row["scenario"], row["case"]))
            line.append("—" if old is None else _before_text(old))
        lines.append(line)
    return _table(headers, lines)


def _before_text(old):
    found = ", ".join("%d %s" % (old[k], k) for k in PROBLEMS if old.get(k))
    return "%s; %s" % (found or "no problems", old["figures_text"])
