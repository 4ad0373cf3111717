"""Supervised kNN classifier: past incidents labelled by experts, recognised again when they recur.

A reading's point is the last ``window`` readings of every column, each column
standardised with the median and MAD of the training data (so only the past
is used: the point is causal). Its score is the distance-weighted share of
anomalous labels among its ``k`` nearest training points, in [0, 1]; it is
flagged at :data:`ALARM`. A training point takes the label of its last reading.
A trained :class:`Model` is saved as ``model.npz`` and ``meta.json`` (the
parameters, the columns and the arrays' checksum) and refused when either is
corrupt or they do not match.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Optional, Sequence, Union

import numpy as np

from helpers.core.detectors.contract import Timestamp
from helpers.core.detectors.robust_zscore import MAD_TO_STD, MEAN_AD_TO_STD

#: The score at or above which a reading is flagged.
ALARM = 0.5
#: What a label cell may say (any case), and the class it stands for.
LABELS = {"0": 0, "1": 1, "false": 0, "true": 1, "normal": 0, "anomaly": 1}
FORMAT = "linewatch-knn-classifier"
VERSION = 1
ARRAYS, META = "model.npz", "meta.json"
# Added to every distance before weighting, so an exact twin weighs much, not infinitely.
_EPSILON = 1e-3


class ModelError(ValueError):
    """A saved model that cannot be used: missing, corrupt, or not matching its own description."""


def parse_label(raw: str) -> Optional[int]:
    """0 or 1 for a label cell, None when it is none of :data:`LABELS`.

    >>> parse_label("Anomaly"), parse_label(" 0 "), parse_label("TRUE"), parse_label("2")
    (1, 0, 1, None)
    """
    return LABELS.get(raw.strip().lower())


def robust_centre_scale(column: np.ndarray) -> tuple[float, float]:
    """The median and robust std (MAD-based; mean-AD-based when the MAD is 0; 1 for a constant column)."""
    centre = float(np.median(column))
    deviations = np.abs(column - centre)
    scale = MAD_TO_STD * float(np.median(deviations))
    if scale <= 0:
        scale = MEAN_AD_TO_STD * float(np.mean(deviations))
    return centre, scale if scale > 0 else 1.0


def windows(rows: np.ndarray, window: int) -> np.ndarray:
    """Every complete window of standardised ``rows`` (n × columns), one flattened window per row.

    The result is (n - window + 1) × (window · columns), oldest reading first.
    """
    n, width = rows.shape
    if n < window:
        return np.zeros((0, window * width))
    view = np.lib.stride_tricks.sliding_window_view(rows, (window, width))[:, 0]
    return view.reshape(n - window + 1, window * width).copy()


@dataclass(frozen=True)
class Model:
    """A trained classifier: parameters, columns, the training data's centre and scale, its points and labels."""

    window: int
    k: int
    columns: tuple[str, ...]
    centre: np.ndarray
    scale: np.ndarray
    points: np.ndarray
    labels: np.ndarray

    def standardise(self, rows: np.ndarray) -> np.ndarray:
        return (rows - self.centre) / self.scale

    def score_point(self, point: np.ndarray) -> tuple[float, int]:
        """The distance-weighted anomalous share among the ``k`` nearest points, and how many of them are anomalous."""
        gaps = self.points - point
        squared = np.einsum("ij,ij->i", gaps, gaps)
        k = min(self.k, len(squared))
        nearest = np.argpartition(squared, k - 1)[:k] if k < len(squared) else np.arange(k)
        weights = 1.0 / (np.sqrt(squared[nearest]) + _EPSILON)
        votes = self.labels[nearest]
        return float(np.dot(weights, votes) / weights.sum()), int(votes.sum())

    def score_rows(self, rows: Sequence[Sequence[float]]) -> list[Optional[float]]:
        """Each row's score (None for the first ``window`` - 1); each sees only itself and the rows before it."""
        table = self.standardise(np.asarray(rows, dtype=np.float64).reshape(len(rows), len(self.columns)))
        points = windows(table, self.window)
        return [None] * min(len(rows), self.window - 1) + [self.score_point(p)[0] for p in points]


def train(rows: Sequence[Sequence[float]], labels: Sequence[int], columns: Sequence[str],
          window: int = 10, k: int = 5) -> Model:
    """A model of ``rows`` (one list of numbers per reading, one number per column) and their 0/1 ``labels``.

    Raises ValueError when there are fewer than ``k`` complete windows or when
    the windows are all of one class.
    """
    if window < 1 or k < 1:
        raise ValueError("window and k must be at least 1")
    table = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(columns))
    if len(labels) != len(table):
        raise ValueError(f"{len(labels)} labels for {len(table)} rows")
    if len(table) < window + k - 1:
        raise ValueError(f"{len(table)} rows are too few for window {window} and k {k}: "
                         f"at least {window + k - 1} are needed")
    kept = np.asarray(labels, dtype=np.int8)[window - 1:]
    if not kept.any():
        raise ValueError("no anomalous row to learn from" + (f" after the first {window - 1}" if window > 1 else ""))
    if kept.all():
        raise ValueError("no normal row to learn from")
    centre, scale = map(np.array, zip(*(robust_centre_scale(table[:, i]) for i in range(table.shape[1]))))
    return Model(int(window), int(k), tuple(columns), centre, scale, windows((table - centre) / scale, window), kept)


class Metrics(NamedTuple):
    """How a model trained on the first rows did on the last ones (None where a share is undefined)."""

    train_rows: int
    test_rows: int
    accuracy: float
    precision: Optional[float]
    recall: Optional[float]


def held_out(rows: Sequence[Sequence[float]], labels: Sequence[int], columns: Sequence[str],
             window: int, k: int, share: float = 0.2) -> Metrics:
    """Train on all but the last ``share`` of the rows, flag the rest at :data:`ALARM`, compare with the labels.

    The held-out rows' points may reach back into the training rows (as they would live).
    Raises ValueError when the training part cannot make a model.
    """
    split = len(rows) - max(1, math.floor(share * len(rows)))
    model = train(rows[:split], labels[:split], columns, window, k)
    start = max(0, split - window + 1)
    scores = model.score_rows(rows[start:])[split - start:]
    flagged = np.array([s is not None and s >= ALARM for s in scores])
    truth = np.asarray(labels[split:], dtype=bool)
    hits = int((flagged & truth).sum())
    precision = hits / int(flagged.sum()) if flagged.any() else None
    recall = hits / int(truth.sum()) if truth.any() else None
    return Metrics(split, len(truth), float((flagged == truth).mean()), precision, recall)


def _checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save(model: Model, directory: Union[str, Path]) -> Path:
    """Write ``model.npz`` and ``meta.json`` into ``directory`` (created if missing); returns it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = directory / ARRAYS
    with arrays.open("wb") as handle:
        np.savez(handle, centre=model.centre, scale=model.scale, points=model.points, labels=model.labels)
    meta = {"format": FORMAT, "version": VERSION, "window": model.window, "k": model.k,
            "columns": list(model.columns), "points": len(model.points), "anomalies": int(model.labels.sum()),
            "sha256": _checksum(arrays)}
    (directory / META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return directory


def load(directory: Union[str, Path]) -> Model:
    """The model saved in ``directory``; ModelError says what is wrong with a missing, corrupt or mismatched one."""
    directory = Path(directory)
    arrays, meta_path = directory / ARRAYS, directory / META
    for path in (meta_path, arrays):
        if not path.is_file():
            raise ModelError(f"{directory}: no {path.name} (is this a directory written by flask train-knn?)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ModelError(f"{meta_path}: not valid JSON ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelError(f"{meta_path}: not a kNN classifier model")
    if meta.get("version") != VERSION:
        raise ModelError(f"{meta_path}: model version {meta.get('version')!r}; this Linewatch reads {VERSION}")
    if meta.get("sha256") != _checksum(arrays):
        raise ModelError(f"{arrays}: checksum does not match {META} (corrupt, or from another model)")
    try:
        window, k, columns = int(meta["window"]), int(meta["k"]), [str(c) for c in meta["columns"]]
        with np.load(arrays, allow_pickle=False) as data:
            centre, scale, points, labels = (data[name] for name in ("centre", "scale", "points", "labels"))
    except (KeyError, TypeError, ValueError, OSError) as error:
        raise ModelError(f"{directory}: unreadable model ({error})") from None
    width = window * len(columns)
    if (window < 1 or k < 1 or not columns or centre.shape != (len(columns),) or scale.shape != (len(columns),)
            or points.ndim != 2 or points.shape[1] != width or labels.shape != (len(points),)
            or len(points) != meta.get("points") or not (scale > 0).all()):
        raise ModelError(f"{directory}: the arrays do not match {META} (window {window}, columns {columns})")
    return Model(window, k, tuple(columns), centre, scale, points, labels.astype(np.int8))


class Explanation(NamedTuple):
    """Why a reading scored what it did: how many of its ``k`` nearest labelled stretches were incidents."""

    score: float
    anomalous: int
    k: int

    def __str__(self) -> str:
        return f"{self.anomalous} of the {self.k} most similar labelled stretches were incidents"


class KNNClassifier:
    """A trained :class:`Model` under the detector contract: each reading scored as it arrives.

    ``update(x)`` takes one number per model column (a plain number for one
    column) and returns the score of the window ending at ``x``, or None while
    the first ``window`` - 1 readings fill it. It learns nothing: the labels do
    the teaching.

    Parameters:
        model: a trained model, or the directory :func:`save` wrote.

    >>> import math, random
    >>> rng = random.Random(3)
    >>> values = [math.sin(i / 4) + rng.gauss(0, 0.05) for i in range(600)]
    >>> labels = [0] * 600
    >>> for start in range(40, 600, 60):
    ...     values[start] += 5; labels[start] = 1
    >>> det = KNNClassifier(train([[v] for v in values], labels, ["value"], window=4, k=3))
    >>> scores = [det.update(x) for x in [math.sin(i / 4) for i in range(30)]]
    >>> scores[2], max(scores[3:]) < ALARM, det.update(math.sin(30 / 4) + 5) >= ALARM
    (None, True, True)
    >>> str(det.last)
    '3 of the 3 most similar labelled stretches were incidents'
    """

    def __init__(self, model: Union[Model, str, Path]):
        self.model = model if isinstance(model, Model) else load(model)
        self._recent: deque[np.ndarray] = deque(maxlen=self.model.window)
        self.last: Optional[Explanation] = None

    @property
    def ready(self) -> bool:
        return len(self._recent) >= self.model.window - 1

    def update(self, x: Union[float, Sequence[float]], t: Timestamp = None) -> Optional[float]:
        """The score of the window ending at ``x`` (None while it fills)."""
        row = np.asarray(x, dtype=np.float64).reshape(-1)
        if len(row) != len(self.model.columns):
            raise ValueError(f"{len(row)} values for the model's {len(self.model.columns)} columns "
                             f"({', '.join(self.model.columns)})")
        self._recent.append(self.model.standardise(row))
        self.last = None
        if len(self._recent) < self.model.window:
            return None
        score, anomalous = self.model.score_point(np.concatenate(self._recent))
        self.last = Explanation(score, anomalous, min(self.model.k, len(self.model.points)))
        return score
