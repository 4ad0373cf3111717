"""Mean and standard deviation of a sliding window in O(1) per update.

The window keeps sums of deviations from an anchor ``K`` (shifted sums), so a
large offset (readings around 1e9) does not cancel catastrophically. A running
bound on the rounding error decides when the sums are no longer trustworthy;
then they are recomputed exactly and re-anchored at the current mean. The
recompute is O(n) but rare, so the amortised cost stays O(1), and the result
stays within 1e-9 relative of a naive recompute over the window.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Iterable

_EPS = 2.0 ** -52
# Relative rounding error we accept in the variance before recomputing.
_VAR_TOLERANCE = 1e-11


class RollingMoments:
    """Mean and sample std of the last ``size`` values.

    >>> m = RollingMoments(3)
    >>> for x in (1.0, 2.0, 3.0, 4.0):
    ...     m.push(x)
    >>> m.mean_std()
    (3.0, 1.0)
    """

    __slots__ = ("size", "values", "_anchor", "_s1", "_s2", "_err", "_run")

    def __init__(self, size: int, values: Iterable[float] = ()):
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        self.values: deque[float] = deque(maxlen=size)
        self.values.extend(values)
        self._recompute()

    def __len__(self) -> int:
        return len(self.values)

    @property
    def full(self) -> bool:
        return len(self.values) == self.size

    def push(self, x: float) -> None:
        """Add ``x``; when full, the oldest value leaves the window."""
        values = self.values
        d = x - self._anchor
        s2 = self._s2 + d * d
        self._s1 += d
        if len(values) == self.size:
            old = values[0] - self._anchor
            self._s1 -= old
            # The error bound grows by the ulp of every operand we touch.
            self._err += _EPS * (s2 + 2.0 * d * d + 2.0 * old * old)
            s2 -= old * old
        else:
            self._err += _EPS * (s2 + 2.0 * d * d)
        self._s2 = s2
        # Length of the run of identical values ending here: a constant window
        # must give exactly std 0, which no sum of floats guarantees.
        self._run = self._run + 1 if values and values[-1] == x else 1
        values.append(x)

    def clear(self) -> None:
        self.values.clear()
        self._recompute()

    def resize(self, size: int) -> None:
        """Keep the most recent ``size`` values under a new window size."""
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        self.values = deque(self.values, maxlen=size)
        self._recompute()

    def mean_std(self) -> tuple[float, float]:
        """Mean and sample standard deviation (n - 1), as ``statistics.stdev``.

        An empty window gives ``(nan, nan)``; one value gives std 0.
        """
        n = len(self.values)
        if n == 0:
            return math.nan, math.nan
        if self._run >= n:
            return self.values[-1], 0.0
        m = self._s1 / n
        ss = self._s2 - self._s1 * m
        # Cancellation in s2 - s1*m costs about eps * s2 of accuracy and the
        # accumulated bound adds err: recompute when they threaten the tolerance.
        if ss <= 0.0 or self._err + _EPS * self._s2 > _VAR_TOLERANCE * ss:
            self._recompute()
            m = self._s1 / n
            ss = max(self._s2 - self._s1 * m, 0.0)
        return self._anchor + m, math.sqrt(ss / (n - 1)) if n > 1 else 0.0

    def _recompute(self) -> None:
        values = self.values
        n = len(values)
        self._anchor = math.fsum(values) / n if n else 0.0
        deviations = [x - self._anchor for x in values]
        self._s1 = math.fsum(deviations)
        self._s2 = math.fsum(d * d for d in deviations)
        self._err = _EPS * self._s2 * 4.0
        run = 0
        if n:
            last = values[-1]
            for x in reversed(values):
                if x != last:
                    break
                run += 1
        self._run = run
