"""Thinning without losing what matters: old readings as minute rollups, long series cut down for a chart.

Old readings are kept as one row per sensor-minute: count, min, mean, max and anomalies.

Thinning runs in batches, so one minute's readings may arrive in two batches;
:func:`merge` folds a batch's summary into what an earlier batch stored.
"""
from __future__ import annotations

from typing import Any, Iterable, NamedTuple, Sequence

MINUTE = 60.0


class Minute(NamedTuple):
    n: int
    low: float
    mean: float
    high: float
    anomalies: int


def minute_of(t: float) -> float:
    """The start of the minute ``t`` falls in (epoch seconds)."""
    return (t // MINUTE) * MINUTE


def summarise(readings: Iterable[tuple[int, float, float, bool]]) -> dict[tuple[int, float], Minute]:
    """``(sensor_id, t, value, anomaly)`` rows → a summary per (sensor id, minute start).

    >>> summarise([(1, 0.0, 2.0, False), (1, 30.0, 4.0, True), (1, 61.0, 5.0, False)])[(1, 0.0)]
    Minute(n=2, low=2.0, mean=3.0, high=4.0, anomalies=1)
    """
    sums: dict[tuple[int, float], list] = {}
    for sensor_id, t, value, anomaly in readings:
        key = (sensor_id, minute_of(t))
        acc = sums.get(key)
        if acc is None:
            sums[key] = [1, value, value, value, int(bool(anomaly))]
        else:
            acc[0] += 1
            acc[1] = min(acc[1], value)
            acc[2] += value
            acc[3] = max(acc[3], value)
            acc[4] += int(bool(anomaly))
    return {key: Minute(n, low, total / n, high, anomalies) for key, (n, low, total, high, anomalies) in sums.items()}


def merge(old: Minute, new: Minute) -> Minute:
    """Two summaries of the same minute as one (the mean weighted by counts).

    >>> merge(Minute(2, 2.0, 3.0, 4.0, 1), Minute(1, 5.0, 5.0, 5.0, 0))
    Minute(n=3, low=2.0, mean=3.6666666666666665, high=5.0, anomalies=1)
    """
    n = old.n + new.n
    return Minute(n, min(old.low, new.low), (old.mean * old.n + new.mean * new.n) / n, max(old.high, new.high),
                  old.anomalies + new.anomalies)


def keep_anomalies_and_every_kth(rows: Sequence[dict[str, Any]], max_points: int) -> list[dict[str, Any]]:
    """At most about ``max_points`` rows, in order: all anomalies, evenly spaced others, and the last row.

    >>> rows = [{"anomaly": i == 7} for i in range(100)]
    >>> thin = keep_anomalies_and_every_kth(rows, 10)
    >>> len(thin), sum(r["anomaly"] for r in thin)
    (11, 1)
    """
    if len(rows) <= max_points:
        return list(rows)
    anomalies = sum(1 for r in rows if r["anomaly"])
    step = max(1, -(-len(rows) // max(max_points - anomalies, 1)))
    last = len(rows) - 1
    return [r for i, r in enumerate(rows) if r["anomaly"] or i % step == 0 or i == last]
