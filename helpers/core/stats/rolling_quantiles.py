"""Median and median absolute deviation (MAD) of a sliding window, kept sorted.

The window is a deque (for the order values leave in) beside a sorted list
(for order statistics). A push is two binary searches and two C-level list
moves — O(log n) comparisons plus an O(n) ``memmove`` that stays cheap up to
tens of thousands of values. The MAD is the k-th smallest distance from the
median: the distances to the values below the median and to those above it are
two sorted runs, so it is found by a binary search over how many come from each
run, in O(log n), without touching the window.
"""
from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque


class RollingMedianMAD:
    """Median and MAD of the last ``size`` values.

    >>> w = RollingMedianMAD(5)
    >>> for x in (1.0, 2.0, 3.0, 4.0, 100.0):
    ...     w.push(x)
    >>> w.median(), w.mad()
    (3.0, 1.0)
    >>> w.push(5.0)                 # 1.0 leaves the window
    >>> w.median(), w.mad()
    (4.0, 1.0)
    """

    __slots__ = ("size", "_order", "_sorted")

    def __init__(self, size: int):
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = int(size)
        self._order: deque[float] = deque()
        self._sorted: list[float] = []

    def __len__(self) -> int:
        return len(self._order)

    @property
    def full(self) -> bool:
        return len(self._order) == self.size

    def push(self, x: float) -> None:
        """Add ``x``; when full, the oldest value leaves the window."""
        s = self._sorted
        if len(self._order) == self.size:
            del s[bisect_left(s, self._order.popleft())]
        self._order.append(x)
        insort(s, x)

    def median(self) -> float:
        """The median (the mean of the two middle values for an even count); nan when empty."""
        s = self._sorted
        n = len(s)
        if n == 0:
            return math.nan
        h = n // 2
        return s[h] if n % 2 else 0.5 * (s[h - 1] + s[h])

    def mad(self, centre: float | None = None) -> float:
        """The median of ``|x - centre|`` over the window (``centre`` defaults to the median)."""
        s = self._sorted
        n = len(s)
        if n == 0:
            return math.nan
        m = self.median() if centre is None else centre
        h = n // 2
        if n % 2:
            return _kth_distance(s, m, h)
        return 0.5 * (_kth_distance(s, m, h - 1) + _kth_distance(s, m, h))

    def mean_abs_deviation(self, centre: float) -> float:
        """The mean of ``|x - centre|``: the fallback scale when more than half the window is one value."""
        n = len(self._sorted)
        return sum(abs(x - centre) for x in self._sorted) / n if n else math.nan


def _kth_distance(s: list[float], m: float, k: int) -> float:
    """The k-th smallest (0-based) of ``|x - m|`` over the sorted list ``s``.

    Left run: ``m - s[p-1], m - s[p-2], …`` (values below ``m``), right run:
    ``s[p] - m, s[p+1] - m, …``; both are non-decreasing. Take ``i`` from the left
    and ``k + 1 - i`` from the right, the largest taken being the answer when the
    split is consistent.
    """
    p = bisect_left(s, m)
    n_left, n_right = p, len(s) - p
    lo, hi = max(0, k + 1 - n_right), min(k + 1, n_left)
    while lo < hi:
        i = (lo + hi) // 2          # candidates taken from the left
        j = k + 1 - i               # from the right (j >= 1 since i <= k)
        # Left item i (0-based, the next one not taken) vs right item j - 1 (the last taken).
        if m - s[p - 1 - i] < s[p + j - 1] - m:
            lo = i + 1              # the left has a smaller one to give: take more from it
        else:
            hi = i
    i, j = lo, k + 1 - lo
    best = -math.inf
    if i > 0:
        best = m - s[p - i]
    if j > 0:
        best = max(best, s[p + j - 1] - m)
    return best
