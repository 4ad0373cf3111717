"""NAB's scaled sigmoid: the weight of a detection by its position relative to a label window."""
from __future__ import annotations

import numpy as np


def scaled_sigmoid(position):
    """``2 * sigmoid(-5 * x) - 1``, and exactly -1 beyond ``x > 3`` (NAB v1.1 ``scaledSigmoid``).

    ``x = -1`` is a window's first row (0.98661), ``x = 0`` just past its last row (0),
    ``x > 0`` a false positive that distance (in window widths) after the window.
    Accepts a scalar or an array.

    >>> round(float(scaled_sigmoid(-1.0)), 5), float(scaled_sigmoid(0.0)), float(scaled_sigmoid(4.0))
    (0.98661, 0.0, -1.0)
    """
    x = np.asarray(position, dtype=float)
    value = 2.0 / (1.0 + np.exp(5.0 * x)) - 1.0
    return np.where(x > 3.0, -1.0, value)
