"""Line vectors: one value per sensor at each reading of a reference sensor, for the line's model.

Sensors may read at different rates; at each reading of the reference sensor
the line vector takes every sensor's latest value at or before that moment
(causal). Live and training data go through the same class.
"""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

import numpy as np


class LineAligner:
    """Feed readings in time order; a reading of the reference sensor yields the line vector.

    >>> a = LineAligner(["speed", "load"], reference="speed")
    >>> a.push("load", 0.9, 5.0), a.push("speed", 1.0, 2.0), a.push("speed", 2.0, 3.0, ok=False)
    (None, (1.0, [2.0, 5.0], True), (2.0, [3.0, 5.0], False))
    """

    def __init__(self, names: Sequence[str], reference: str):
        self.names = list(names)
        self.reference = reference
        self._latest: dict[str, tuple[float, bool]] = {}

    def push(self, name: str, t: float, value: float, ok: bool = True) -> Optional[tuple[float, list[float], bool]]:
        """``(t, vector, every value ok)`` when ``name`` is the reference and every sensor has a value."""
        self._latest[name] = (value, ok)
        if name != self.reference or len(self._latest) < len(self.names):
            return None
        values = [self._latest[n] for n in self.names]
        return t, [v for v, _ in values], all(flag for _, flag in values)


def align(names: Sequence[str], reference: str,
          readings: Iterable[tuple[float, str, float, bool]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Line vectors of ``(t, sensor, value, ok)`` readings: times, table ``[n, sensors]``, ok mask.

    Readings are taken in time order; at equal times the reference comes last,
    so the vector holds the other sensors' readings of that same moment.
    """
    aligner = LineAligner(names, reference)
    times, rows, oks = [], [], []
    for t, name, value, ok in sorted(readings, key=lambda r: (r[0], r[1] == reference)):
        out = aligner.push(name, t, value, ok)
        if out is not None:
            times.append(out[0])
            rows.append(out[1])
            oks.append(out[2])
    return (np.asarray(times, dtype=np.float64), np.asarray(rows, dtype=np.float64).reshape(-1, len(names)),
            np.asarray(oks, dtype=bool))
