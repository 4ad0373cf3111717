"""Score readings causally with a trained model: each reading by the window that ends at it."""
from __future__ import annotations

from collections import deque
from typing import NamedTuple, Optional

import numpy as np

from helpers.core.lstm.model import feature_errors, reconstruction_errors
from helpers.core.stats.ewma import ewma
from helpers.core.lstm.trained import TrainedModel
from helpers.core.lstm.windows import as_table, sliding_windows


class LSTMVerdict(NamedTuple):
    """The reconstruction error of the window ending at a reading (None until a window is full) and the flag.

    With a model trained with ``smoothing`` below 1 the error is the smoothed one, as judged.
    """

    error: Optional[float]
    anomaly: bool


def error_to_score(error: Optional[float], threshold: float) -> float:
    """Map a reconstruction error to [0, 1): ``error / (error + threshold)``.

    0.5 is exactly the threshold, so ``score > 0.5`` is the anomaly flag; the
    score keeps growing with the error (no cap at the largest validation
    error, as a percentile rank would have). No verdict scores 0.
    """
    if error is None or error <= 0.0:
        return 0.0
    return error / (error + threshold)


class LSTMScorer:
    """Judges each reading by how badly the model rebuilds the last ``time_steps`` readings.

    Only readings up to and including the current one are used, so a score
    never changes when later readings arrive. ``update`` takes one reading (a
    number, or one number per feature); ``score_series`` takes many at once in
    batched windows and gives exactly what ``update`` one by one would, leaving
    the scorer in the same state. For live use, call
    ``compute.use_one_scoring_thread()`` once in the scoring process.

    Parameters:
        trained: the model, its standardisation and its threshold rule.
        threshold: an error threshold to use instead of the model's rule.

    >>> import numpy as np
    >>> from helpers.core.lstm.trainer import train
    >>> readings = np.sin(np.arange(400) * 2 * np.pi / 20)
    >>> trained = train(readings, time_steps=5, epochs=3, hidden=8, seed=1, device="cpu")
    >>> scorer = LSTMScorer(trained)
    >>> [scorer.update(x).error for x in readings[:4]]
    [None, None, None, None]
    >>> normal = scorer.update(readings[4])
    >>> normal.anomaly, normal.error < scorer.threshold
    (False, True)
    >>> scorer.update(5.0).anomaly
    True
    """

    def __init__(self, trained: TrainedModel, threshold: Optional[float] = None):
        self.trained = trained
        self.threshold = trained.threshold() if threshold is None else float(threshold)
        self._window: deque[np.ndarray] = deque(maxlen=trained.time_steps)
        self._level: Optional[float] = None  # the smoothed error so far

    def update(self, x) -> LSTMVerdict:
        """Add reading ``x`` and judge the window that ends at it."""
        row = self._scaled(as_table(np.reshape(x, (1, -1)), "the reading"))[0]
        self._window.append(row)
        if len(self._window) < self.trained.time_steps:
            return LSTMVerdict(None, False)
        raw = reconstruction_errors(self.trained.module, np.stack(self._window)[np.newaxis])
        error = float(self._smooth(raw)[0])
        return LSTMVerdict(error, error > self.threshold)

    def score_series(self, values) -> list[LSTMVerdict]:
        """``update`` for each of ``values`` in order, computed over batched windows."""
        scaled = self._scaled(as_table(values))
        steps = self.trained.time_steps
        history = list(self._window)[-(steps - 1):]
        combined = np.concatenate([np.array(history).reshape(-1, scaled.shape[1]), scaled])
        errors = self._smooth(reconstruction_errors(self.trained.module, sliding_windows(combined, steps)))
        self._window.extend(scaled)
        waiting = [LSTMVerdict(None, False)] * (len(scaled) - len(errors))
        return waiting + [LSTMVerdict(float(e), bool(e > self.threshold)) for e in errors]

    def _smooth(self, errors: np.ndarray) -> np.ndarray:
        weight = self.trained.smoothing
        if weight >= 1.0 or not len(errors):
            return errors
        smoothed = ewma(errors, weight, self._level)
        self._level = float(smoothed[-1])
        return smoothed

    def sensor_shares(self, window_rows) -> np.ndarray:
        """Each sensor's share of the reconstruction error of the window of ``window_rows`` (raw readings,
        ``time_steps`` of them): which sensors the model could not rebuild."""
        scaled = self._scaled(as_table(window_rows))[np.newaxis]
        parts = feature_errors(self.trained.module, scaled)[0]
        total = float(parts.sum())
        return parts / total if total > 0 else parts

    def _scaled(self, table: np.ndarray) -> np.ndarray:
        if table.shape[1] != self.trained.n_features:
            raise ValueError(f"the model expects {self.trained.n_features} value(s) per reading, "
                             f"got {table.shape[1]}")
        return self.trained.standardiser.apply(table)
