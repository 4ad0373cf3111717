"""Thinning a long series for a chart without losing what matters: every anomaly stays."""
from __future__ import annotations

from typing import Any, Sequence


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
