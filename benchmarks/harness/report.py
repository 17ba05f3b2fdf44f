"""The table printed at the end of a run (Markdown, so RESULTS.md can quote
it as it is) and the targets' verdicts."""


def header(meta):
    keys = ["date", "revision", "cpu", "cpus", "kernel", "python", "uvloop", "lupa",
            "tini", "dumb-init", "catatonit", "supervisord", "s6", "runit", "loadavg"]
    lines = ["## luasup benchmarks%s" % (" (quick smoke run)" if meta["quick"] else ""), ""]
    for key in keys:
        value = meta.get(key)
        if isinstance(value, list):
            value = " ".join(value)
        lines.append("- %s: %s" % (key, value))
    return "\n".join(lines)


def _table(headers, lines):
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h)
              for i, h in enumerate(headers)]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |",
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for line in lines:
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths)) + " |")
    return "\n".join(out)


def metric_table(result):
    headers = ["subject"] + [c.header for c in result.columns]
    lines = []
    for row in result.rows:
        if "error" in row:
            lines.append([row["subject"], "failed: " + row["error"]]
                         + [""] * (len(result.columns) - 1))
        else:
            lines.append([row["subject"]] + [c.cell(row) for c in result.columns])
    text = ["### %s (%s)" % (result.title, result.unit), "", _table(headers, lines)]
    if result.notes:
        text += [""] + ["- " + n for n in result.notes]
    return "\n".join(text)


def _number(value):
    if value is None:
        return "—"
    if isinstance(value, float):  # two decimals: 1.102 must not read as 1.1
        return "%.2f" % value if abs(value) < 100 else "%.0f" % value
    return str(value)


def targets_table(results):
    lines = []
    for result in results:
        for t in result.targets:
            lines.append([result.title, t["what"], _number(t["value"]),
                          "met" if t["met"] else "NOT met"])
    return "### targets\n\n" + _table(["metric", "target", "measured", "verdict"], lines)
