"""The one contract every detector keeps, and running one over a whole series.

A detector is a small object with ``update(x, t=None)``: it scores the value
``x`` (read at time ``t``) against what it has learnt so far, then learns from
it, and returns the score — a float in [0, 1], higher meaning more anomalous —
or None while it warms up ("not ready"). Thresholding is a separate step, so a
threshold changes without relearning. ``ready`` says whether the next reading
will be scored.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, Iterator, Optional, Protocol, Sequence, Union

Timestamp = Union[str, datetime, None]


class Detector(Protocol):
    @property
    def ready(self) -> bool: ...

    def update(self, x: float, t: Timestamp = None) -> Optional[float]: ...


def run(detector: Detector, values: Iterable[float],
        timestamps: Optional[Sequence[Timestamp]] = None) -> Iterator[Optional[float]]:
    """Each value's score in order (None while not ready); each sees only the values before it.

    >>> from helpers.core.detectors.robust_zscore import RobustZScore
    >>> scores = run(RobustZScore(window=5, warmup=3), [1.0, 2.0, 3.0, 2.0, 9.0])
    >>> [None if s is None else round(s, 2) for s in scores]
    [None, None, None, 0.0, 0.32]
    """
    if timestamps is None:
        for x in values:
            yield detector.update(x)
    else:
        for x, t in zip(values, timestamps, strict=True):
            yield detector.update(x, t)
