"""A trained model with everything needed to score, explain and re-threshold it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from helpers.core.lstm.model import LSTMAutoencoder
from helpers.core.lstm.windows import Standardiser


def check_percentile(percentile: float) -> float:
    percentile = float(percentile)
    if not 0.0 < percentile <= 100.0:
        raise ValueError(f"percentile must be in (0, 100], not {percentile}")
    return percentile


def check_ratio(ratio: float) -> float:
    ratio = float(ratio)
    if not ratio > 0.0 or not np.isfinite(ratio):
        raise ValueError(f"ratio must be a finite number above 0, not {ratio}")
    return ratio


@dataclass
class TrainedModel:
    """The module, its standardisation, how it was trained, and its validation error distribution.

    The threshold is a rule, not a number: ``percentile`` of the reconstruction
    errors on held-out normal windows, times ``ratio``. The sorted errors are
    kept, so the rule can change without retraining and any threshold can be
    placed back on the distribution.

    Fields:
        module: the autoencoder, on the CPU, in eval mode.
        standardiser: per-feature mean/std of the training readings.
        parameters: the training settings, the seed actually used included.
        loss_curve: mean training loss of each epoch, standardised units.
        validation_errors: sorted reconstruction errors of the held-out windows.
        percentile, ratio: the threshold rule in force.
        created: when it was trained (UTC, ISO 8601).
        training_range: where the training data came from, as the caller describes it.
    """

    module: LSTMAutoencoder
    standardiser: Standardiser
    parameters: dict[str, Any]
    loss_curve: list[float]
    validation_errors: np.ndarray
    percentile: float = 99.0
    ratio: float = 1.0
    created: str = ""
    training_range: Optional[dict[str, Any]] = field(default=None)

    def __post_init__(self):
        self.percentile, self.ratio = check_percentile(self.percentile), check_ratio(self.ratio)
        self.validation_errors = np.sort(np.asarray(self.validation_errors, dtype=np.float64))

    @property
    def n_features(self) -> int:
        return self.module.n_features

    @property
    def time_steps(self) -> int:
        return self.module.time_steps

    @property
    def smoothing(self) -> float:
        """The weight of the newest error in the smoothed error that is judged (1: none; older models)."""
        return float(self.parameters.get("smoothing", 1.0))

    def threshold(self, percentile: Optional[float] = None, ratio: Optional[float] = None) -> float:
        """The error above which a window is an anomaly; the stored rule unless told otherwise."""
        percentile = self.percentile if percentile is None else check_percentile(percentile)
        ratio = self.ratio if ratio is None else check_ratio(ratio)
        return float(np.percentile(self.validation_errors, percentile)) * ratio

    def set_threshold_rule(self, percentile: float, ratio: float = 1.0) -> None:
        """Change the stored rule (no retraining); scorers made afterwards use it."""
        self.percentile, self.ratio = check_percentile(percentile), check_ratio(ratio)

    def percentile_of(self, threshold: float) -> float:
        """Where an error threshold stands on the validation errors, 0–100.

        The inverse of ``threshold(p, 1)`` (numpy's linear percentile), so a
        dashboard can show a hand-set threshold as "the 97.5th percentile".
        """
        errors = self.validation_errors
        ranks = np.linspace(0.0, 100.0, len(errors))
        return float(np.interp(threshold, errors, ranks))
