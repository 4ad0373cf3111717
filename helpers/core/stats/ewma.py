"""The exponentially weighted moving average, causal: what a detector smooths a noisy statistic with."""
from __future__ import annotations

from typing import Optional

import numpy as np


def ewma(values, weight: float, level: Optional[float] = None) -> np.ndarray:
    """Each value replaced by the ``weight``-weighted mean of itself and the smoothed value before it
    (``level``; none at the start). ``weight`` 1 leaves them as they are.

    >>> ewma(np.array([1.0, 3.0, 3.0]), 0.5).tolist()
    [1.0, 2.0, 2.5]
    >>> ewma([4.0], 0.5, level=2.0).tolist()
    [3.0]
    """
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        level = float(v) if level is None else weight * float(v) + (1.0 - weight) * level
        out[i] = level
    return out
