"""kNN distance: how far the last few readings are from every similar stretch seen before.

The last ``dim`` readings form a point; a bounded memory keeps the points of the
past (those that do not overlap the current one). The raw nonconformity of a
reading is the distance from its point to the k-th nearest point in memory,
divided by the robust running scale of the readings (so a level that drifts
slowly keeps its meaning). As in CAD / KNN-CAD (Burnaev & Ishimtsev, 2016), the
distance is turned into [0, 1] by its own recent history: the score is the share
of the last ``calibration`` distances below it (a conformal p-value). A pattern
that repeats scores low even when it swings widely; a break in it scores high
even when every reading stays within the usual range, which a z-score misses.
"""
from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from typing import NamedTuple, Optional

import numpy as np

from helpers.core.detectors.contract import Timestamp
from helpers.core.detectors.robust_zscore import robust_scale
from helpers.core.stats.rolling_quantiles import RollingMedianMAD


class Explanation(NamedTuple):
    """Why a reading scored what it did: its k-th neighbour ``distance`` (in robust stds) and its rank."""

    value: float
    distance: float
    rank: float

    def __str__(self) -> str:
        return (f"last readings {self.distance:.3g} robust stds from their k-th nearest past stretch, "
                f"farther than {100 * self.rank:.0f} % of recent ones (got {self.value:.4g})")


class KNNDistance:
    """Scores the distance from the last ``dim`` readings to their ``k``-th nearest past window, as a p-value.

    Score before learn: the point ending at ``x`` is judged against the memory and the
    calibration distances before it, then joins them.

    Parameters:
        dim: readings per point (the window that is compared).
        k: which nearest neighbour's distance is the raw score (k > 1 ignores a single past twin,
            such as an earlier anomaly of the same shape).
        memory: past points kept (the oldest leave first).
        stride: keep every ``stride``-th point in memory (a longer history for the same cost).
        scale_window: readings whose median and MAD give the robust scale.
        calibration: recent raw distances the p-value is taken against.
        warmup: readings before the first score; at least 2 · ``dim`` + ``k`` · ``stride``, so that
            the memory holds ``k`` points by then.

    >>> import math, random
    >>> rng = random.Random(4)
    >>> det = KNNDistance(dim=8, memory=500, calibration=200, warmup=300)
    >>> wave = [math.sin(2 * math.pi * i / 25) + rng.gauss(0, 0.05) for i in range(800)]
    >>> scores = [det.update(x) for x in wave]
    >>> scores[299] is None, det.ready, sum(s > 0.99 for s in scores[300:]) <= 6
    (True, True, True)
    >>> stuck = [det.update(0.5) for _ in range(3)]   # the wave stops mid-swing, inside its range
    >>> [s > 0.99 for s in stuck]
    [True, True, True]
    >>> str(det.last).startswith("last readings")
    True
    """

    def __init__(self, dim: int = 10, k: int = 3, memory: int = 2000, stride: int = 1, scale_window: int = 1000,
                 calibration: int = 1000, warmup: int = 300):
        if dim < 1 or k < 1 or memory < k or stride < 1 or scale_window < 2 or calibration < 1:
            raise ValueError("dim, k, stride, calibration >= 1; memory >= k; scale_window >= 2")
        if warmup < 2 * dim + k * stride:
            raise ValueError("warmup must leave room for k points in memory: at least 2 * dim + k * stride")
        self.dim, self.k, self.memory, self.stride = int(dim), int(k), int(memory), int(stride)
        self.calibration, self.warmup = int(calibration), int(warmup)
        self._recent: deque[float] = deque(maxlen=self.dim)
        self._pending: deque[np.ndarray] = deque()     # points still overlapping the current one
        self._points = np.zeros((self.memory, self.dim))
        self._stored = 0                               # points ever stored; the ring position is this % memory
        self._scale = RollingMedianMAD(int(scale_window))
        self._history: deque[float] = deque()          # calibration distances, oldest first
        self._sorted: list[float] = []                 # the same, sorted
        self._seen = 0
        self.last: Optional[Explanation] = None

    @property
    def ready(self) -> bool:
        return self._seen >= self.warmup

    def update(self, x: float, t: Timestamp = None) -> Optional[float]:
        """The score of ``x`` (None while warming up), then learn ``x``."""
        x = float(x)
        ready = self.ready
        self._recent.append(x)
        score, explanation = None, None
        if len(self._recent) == self.dim:
            point = np.fromiter(self._recent, dtype=np.float64, count=self.dim)
            filled = min(self._stored, self.memory)
            if filled >= self.k:
                centre = self._scale.median()
                scale = robust_scale(self._scale, centre)
                gaps = self._points[:filled] - point
                squared = np.einsum("ij,ij->i", gaps, gaps)
                kth = float(np.partition(squared, self.k - 1)[self.k - 1]) if filled > self.k else float(squared.max())
                distance = (kth / self.dim) ** 0.5 / scale
                if ready:
                    rank = bisect_left(self._sorted, distance) / len(self._sorted) if self._sorted else 0.0
                    score, explanation = rank, Explanation(x, distance, rank)
                self._calibrate(distance)
            self._remember(point)
        self._scale.push(x)
        self._seen += 1
        self.last = explanation
        return score if ready else None

    def _calibrate(self, distance: float) -> None:
        """Add a raw distance to the calibration set, dropping the oldest beyond ``calibration``."""
        self._history.append(distance)
        insort(self._sorted, distance)
        if len(self._history) > self.calibration:
            old = self._history.popleft()
            del self._sorted[bisect_left(self._sorted, old)]

    def _remember(self, point: np.ndarray) -> None:
        """Queue ``point``; the one that no longer overlaps the next point joins memory (every ``stride``-th)."""
        self._pending.append(point)
        if len(self._pending) >= self.dim:
            old = self._pending.popleft()
            if self._seen % self.stride == 0:
                self._points[self._stored % self.memory] = old
                self._stored += 1
