"""Median and spread of repeated measurements.

Absolute times drift by 2x on a shared machine, so every number is reported
with its p10-p90 spread and, where there is one, as a ratio to a reference
measured in the same run."""


def percentile(values, q):
    """The q-th percentile (0..100) with linear interpolation."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summary(values, scale=1.0):
    """{"median", "p10", "p90", "n"} of values, each multiplied by scale."""
    return {
        "median": percentile(values, 50) * scale,
        "p10": percentile(values, 10) * scale,
        "p90": percentile(values, 90) * scale,
        "n": len(values),
    }


def ratio(value, reference):
    if value is None or not reference:
        return None
    return value / reference
