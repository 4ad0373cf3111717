"""The accumulated anomaly ratio: the share of anomalies among the last N verdicts."""
from __future__ import annotations

from collections import deque
from typing import Iterable


class AnomalyRatio:
    """Share of anomalies among the last ``size`` verdicts, in O(1) per verdict.

    >>> r = AnomalyRatio(4)
    >>> for flag in (True, False, False, False, False):
    ...     _ = r.add(flag)
    >>> r.ratio
    0.0
    """

    __slots__ = ("_flags", "_count")

    def __init__(self, size: int, flags: Iterable[bool] = ()):
        if size < 1:
            raise ValueError("size must be at least 1")
        self._flags: deque[bool] = deque(maxlen=size)
        self._count = 0
        for flag in flags:
            self.add(flag)

    @property
    def size(self) -> int:
        return self._flags.maxlen

    def add(self, anomaly: bool) -> float:
        flags = self._flags
        if len(flags) == flags.maxlen and flags[0]:
            self._count -= 1
        flags.append(anomaly)
        if anomaly:
            self._count += 1
        return self._count / len(flags)

    @property
    def ratio(self) -> float:
        """0.0 before any verdict."""
        return self._count / len(self._flags) if self._flags else 0.0

    def resize(self, size: int) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self._flags = deque(self._flags, maxlen=size)
        self._count = sum(self._flags)
