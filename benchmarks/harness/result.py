"""A metric's outcome: rows (one per subject and setting), the targets it
was held to, and how to show it as a table. `data()` is what goes into the
JSON file; every measured number in a row is a plain int or float."""


class Column:
    def __init__(self, header, key, fmt="%.1f"):
        self.header = header
        self.key = key
        self.fmt = fmt

    def cell(self, row):
        if self.key == "spread":
            if row.get("p10") is None:
                return "—"
            return (self.fmt + "–" + self.fmt) % (row["p10"], row["p90"])
        value = row.get(self.key)
        if value is None:
            return "—"
        if isinstance(value, bool):
            return "yes" if value else "NO"
        if isinstance(value, (int, float)):
            return self.fmt % value
        return str(value)


class Result:
    def __init__(self, name, title, unit, columns, description):
        self.name = name
        self.title = title
        self.unit = unit
        self.columns = columns
        self.description = description
        self.rows = []
        self.targets = []
        self.notes = []

    def add(self, subject, **fields):
        row = {"subject": subject}
        row.update(fields)
        self.rows.append(row)
        return row

    def failed(self, subject, error, **fields):
        """A subject that could not be measured: the row says why."""
        return self.add(subject, error=str(error), **fields)

    def target(self, what, value, met, limit=None):
        self.targets.append({"what": what, "value": value, "limit": limit,
                             "met": bool(met) if value is not None else False})

    def data(self):
        return {"title": self.title, "unit": self.unit, "description": self.description,
                "rows": self.rows, "targets": self.targets, "notes": self.notes}
