"""Score a detector on a labelled corpus the NAB v1.1 way: optimise the threshold, normalise, count events.

The entry point is :func:`score_corpus`; :func:`best_threshold` and :func:`normalised` are its parts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping, Optional, Sequence

import numpy as np

from helpers.core.evaluation.nab.threshold import sweep
from helpers.core.evaluation.nab.windows import (PROBATIONARY_PERCENT, sweep_parts, window_indices)


@dataclass(frozen=True)
class FileScores:
    """One file's per-row anomaly scores, in file order; ``name`` is its path relative to ``data/``."""
    name: str
    timestamps: Sequence[str]
    scores: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class CorpusResult:
    """The outcome of one detector under one profile at one threshold.

    ``score`` is normalised (0 = never detects, 100 = every window detected at its start, no FP);
    ``raw``, ``null`` and ``perfect`` are the sums it is computed from. Event-level figures count a
    window as caught when any scored row in it is a detection; ``false_positives`` counts detected
    rows outside every window after the probationary period; delays are from a window's first row
    to its first detection.
    """
    threshold: float
    score: float
    raw: float
    null: float
    perfect: float
    windows: int
    windows_detected: int
    false_positives: int
    precision: float
    recall: float
    f1: float
    mean_delay_rows: Optional[float]
    mean_delay_s: Optional[float]


def cost_matrix(profile: Mapping) -> dict:
    """The profile's weights, from either a ``profiles.json`` entry or a bare cost matrix."""
    costs = profile.get("CostMatrix", profile)
    return {k: float(costs[k]) for k in ("tpWeight", "fpWeight", "fnWeight")}


def normalised(raw: float, null: float, perfect: float) -> float:
    """NAB's normalisation: ``100 * (raw - null) / (perfect - null)``.

    >>> normalised(-59.0, -59.0, 59.0), normalised(0.0, -59.0, 59.0)
    (0.0, 50.0)
    """
    return 100.0 * (raw - null) / (perfect - null)


@dataclass(frozen=True)
class _Corpus:
    """All files' rows concatenated with their unweighted sweep parts and file-local windows."""
    anomaly: np.ndarray
    window: np.ndarray        # corpus-wide window id, -1 outside, -2 probationary
    tp: np.ndarray
    fp: np.ndarray
    starts: list              # (global row of window start, start timestamp) per window id
    offsets: np.ndarray
    timestamps: list
    label_count: int


def _prepare(files: Sequence[FileScores], windows: Mapping[str, Sequence[tuple]],
             percent: float) -> _Corpus:
    parts, starts, offsets, stamps = [], [], [0], []
    next_id, label_count = 0, 0
    for f in files:
        scores = np.asarray(f.scores, dtype=float)
        if scores.size != len(f.timestamps):
            raise ValueError(f"{f.name}: {scores.size} scores for {len(f.timestamps)} rows")
        labels = windows.get(f.name, [])
        spans = sorted(window_indices(f.timestamps, labels))
        label_count += len(labels)
        rows = sweep_parts(scores.size, spans, percent)
        ids = np.where(rows.window >= 0, rows.window + next_id, rows.window)
        parts.append((scores, ids, rows.tp, rows.fp))
        starts += [(offsets[-1] + left, f.timestamps[left]) for left, _ in spans]
        next_id += len(spans)
        offsets.append(offsets[-1] + scores.size)
        stamps.extend(f.timestamps)
    cat = [np.concatenate(col) if col else np.zeros(0) for col in zip(*parts)] or [np.zeros(0)] * 4
    return _Corpus(cat[0], cat[1].astype(np.int64), cat[2], cat[3], starts,
                   np.asarray(offsets), stamps, label_count)


def best_threshold(files: Sequence[FileScores], windows: Mapping[str, Sequence[tuple]],
                   profile: Mapping, probationary_percent: float = PROBATIONARY_PERCENT
                   ) -> tuple[float, float]:
    """The threshold that maximises the corpus's raw score under ``profile``, and that raw score."""
    corpus = _prepare(files, windows, probationary_percent)
    return _sweep(corpus, cost_matrix(profile)).best()


def _sweep(corpus: _Corpus, costs: dict):
    return sweep(corpus.anomaly, corpus.window, costs["tpWeight"] * corpus.tp,
                 costs["fpWeight"] * corpus.fp, costs["fnWeight"])


def score_corpus(files: Sequence[FileScores], windows: Mapping[str, Sequence[tuple]],
                 profile: Mapping, threshold: Optional[float] = None,
                 probationary_percent: float = PROBATIONARY_PERCENT) -> CorpusResult:
    """Score a detector over a set of files; the threshold is optimised over them unless given.

    ``windows`` maps each file's ``name`` to its ``(start, end)`` label windows (timestamps).

    >>> ts = [f"2020-01-01 00:{m:02d}:00" for m in range(40)]
    >>> scores = np.zeros(40); scores[22] = 0.9          # a detection early in the window
    >>> result = score_corpus([FileScores("f.csv", ts, scores)],
    ...                       {"f.csv": [("2020-01-01 00:20:00.000000", "2020-01-01 00:29:00.000000")]},
    ...                       {"tpWeight": 1.0, "fpWeight": 0.11, "fnWeight": 1.0})
    >>> result.threshold, result.windows_detected, round(result.score, 2), result.mean_delay_s
    (0.9, 1, 98.86, 120.0)
    """
    corpus = _prepare(files, windows, probationary_percent)
    costs = cost_matrix(profile)
    if threshold is None:
        threshold, _ = _sweep(corpus, costs).best()
    detected = corpus.anomaly >= threshold
    outside = detected & (corpus.window == -1)
    raw = costs["fpWeight"] * float(corpus.fp[outside].sum())
    counted = np.unique(corpus.window[corpus.window >= 0])
    hits = detected & (corpus.window >= 0)
    # Per window, the first detected row (rows are in file order, so the smallest index).
    first = {}
    for row in np.flatnonzero(hits):
        first.setdefault(int(corpus.window[row]), int(row))
    raw += sum(costs["tpWeight"] * float(corpus.tp[first[w]]) if w in first
               else -costs["fnWeight"] for w in counted.tolist())
    null = -costs["fnWeight"] * counted.size
    perfect = costs["tpWeight"] * corpus.label_count
    caught, fps = len(first), int(outside.sum())
    recall = caught / counted.size if counted.size else 0.0
    precision = caught / (caught + fps) if caught + fps else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    delays_rows = [row - corpus.starts[w][0] for w, row in first.items()]
    delays_s = [(_time(corpus.timestamps[row]) - _time(corpus.starts[w][1])).total_seconds()
                for w, row in first.items()]
    return CorpusResult(
        threshold=float(threshold), score=normalised(raw, null, perfect), raw=raw, null=null,
        perfect=perfect, windows=int(counted.size), windows_detected=caught,
        false_positives=fps, precision=precision, recall=recall, f1=f1,
        mean_delay_rows=float(np.mean(delays_rows)) if delays_rows else None,
        mean_delay_s=float(np.mean(delays_s)) if delays_s else None)


def _time(ts: str) -> datetime:
    return datetime.fromisoformat(str(ts).strip()[:19])
