"""NAB v1.1's threshold sweep: the corpus score at every distinct anomaly score, in O(n log n)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: NAB's sweep starts above every score: the "never detect" threshold.
START_THRESHOLD = 1.1


@dataclass(frozen=True)
class Sweep:
    """Raw corpus score for each candidate threshold, highest threshold first.

    A row is a detection at threshold ``t`` when its anomaly score is ``>= t``.
    """
    thresholds: np.ndarray
    scores: np.ndarray

    def best(self) -> tuple[float, float]:
        """The threshold with the highest score; on an exact tie the higher threshold (NAB's stable sort)."""
        k = int(np.argmax(self.scores))
        return float(self.thresholds[k]), float(self.scores[k])


def sweep(anomaly: np.ndarray, window: np.ndarray, tp: np.ndarray, fp: np.ndarray,
          fn_weight: float) -> Sweep:
    """Sweep thresholds from high to low over all rows at once (NAB ``calcScoreByThreshold``).

    ``window``: a corpus-wide window id per row (>= 0), or negative for rows that score
    as false positives (-1) or not at all (-2, probationary); ``tp``/``fp``: the row's
    *weighted* score as a detection inside / outside a window. Every window with at least one
    scored row starts at ``-fn_weight``; each detection outside windows adds its ``fp``; a
    window is worth the best ``tp`` among its detections (its earliest one).
    """
    order = np.argsort(-anomaly, kind="stable")
    ranked = anomaly[order]
    win = window[order]
    delta = np.where(win == -1, fp[order], 0.0)
    inside = np.flatnonzero(win >= 0)
    counted = np.unique(win[inside])
    base = -fn_weight * counted.size
    if inside.size:
        # Group each window's rows, keeping their sweep order, and take a running maximum.
        grouped = inside[np.argsort(win[inside], kind="stable")]
        bounds = np.flatnonzero(np.diff(win[grouped])) + 1
        for part in np.split(grouped, bounds):
            best = np.maximum.accumulate(np.concatenate(([-fn_weight], tp[order[part]])))
            delta[part] = np.diff(best)
    running = base + np.cumsum(delta)
    # The score for threshold t is the state after the last row whose score equals t.
    last = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True))
    thresholds, scores = ranked[last], running[last]
    if ranked.size == 0 or ranked[0] != START_THRESHOLD:
        thresholds = np.concatenate(([START_THRESHOLD], thresholds))
        scores = np.concatenate(([base], scores))
    return Sweep(thresholds=thresholds, scores=scores)
