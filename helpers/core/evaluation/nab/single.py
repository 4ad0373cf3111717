"""NAB scores of one series at one threshold: what the Evaluate page shows a student as they move a slider."""
from __future__ import annotations

from typing import Mapping, Optional, Sequence, Union

import numpy as np

from helpers.core.evaluation.nab.scorer import FileScores, best_threshold, score_corpus
from helpers.core.evaluation.nab.windows import probationary_length

# Row indices of detections sent back at most; enough to mark every one on a chart.
MAX_DETECTIONS = 5000

Threshold = Union[float, str]  # a number, or "best" (the standard profile's best on this series)


def score_one(timestamps: Sequence[str], scores: Sequence[Optional[float]], windows: Sequence[tuple],
              threshold: Threshold, profiles: Mapping[str, Mapping]) -> dict:
    """Per-profile normalised scores and event counts of one detector on one series.

    A missing score (None) is no detection. With no label windows there is nothing to
    normalise against, so the scores are None; detections and false positives still count.

    >>> ts = [f"2020-01-01 00:{m:02d}:00" for m in range(40)]
    >>> s = [0.0] * 40; s[22] = 0.9; s[35] = 0.8
    >>> out = score_one(ts, s, [(ts[20], ts[29])], 0.85, {"standard": {"tpWeight": 1, "fpWeight": 0.11, "fnWeight": 1}})
    >>> round(out["scores"]["standard"], 2), out["detections"], out["false_positives"]
    (98.86, [22], 0)
    """
    values = np.array([0.0 if s is None else float(s) for s in scores], dtype=np.float64)
    file = FileScores("series", list(timestamps), values)
    labels = {"series": list(windows)}
    standard = profiles.get("standard") or next(iter(profiles.values()))
    if threshold == "best":
        threshold = best_threshold([file], labels, standard)[0] if windows else float(values.max(initial=0.0))
    threshold = float(threshold)
    detected = np.flatnonzero(values >= threshold)
    out = {"threshold": threshold, "detections": detected[:MAX_DETECTIONS].tolist(),
           "detections_truncated": bool(detected.size > MAX_DETECTIONS)}
    if not windows:
        scored = detected[detected >= probationary_length(len(values))]
        return {**out, "scores": {p: None for p in profiles}, "precision": None, "recall": None, "f1": None,
                "windows": 0, "windows_detected": 0, "false_positives": int(scored.size), "mean_delay_s": None}
    results = {p: score_corpus([file], labels, weights, threshold=threshold) for p, weights in profiles.items()}
    first = results.get("standard") or next(iter(results.values()))
    return {**out, "scores": {p: r.score for p, r in results.items()}, "precision": first.precision,
            "recall": first.recall, "f1": first.f1, "windows": first.windows,
            "windows_detected": first.windows_detected, "false_positives": first.false_positives,
            "mean_delay_s": first.mean_delay_s}
