"""The named detectors of the z-score family, each with the one configuration it uses on every series.

The configuration is the constructors' defaults; nothing here is set per series.
Names with ``_seasonal`` judge each reading against the same time of day and
need its timestamp; names with ``+likelihood`` post-process the detector's
score into its log-likelihood (:mod:`.likelihood`).
"""
from __future__ import annotations

from typing import Callable

from helpers.core.detectors.contract import Detector
from helpers.core.detectors.likelihood import AnomalyLikelihood, WithLikelihood
from helpers.core.detectors.mean_zscore import MeanZScore
from helpers.core.detectors.robust_zscore import RobustZScore

PRESETS: dict[str, Callable[[], Detector]] = {
    "robust_zscore": RobustZScore,
    "robust_zscore_seasonal": lambda: RobustZScore(seasonal=True),
    "zscore+likelihood": lambda: WithLikelihood(MeanZScore(), AnomalyLikelihood()),
    "robust_zscore+likelihood": lambda: WithLikelihood(RobustZScore(), AnomalyLikelihood()),
    "robust_zscore_seasonal+likelihood": lambda: WithLikelihood(RobustZScore(seasonal=True), AnomalyLikelihood()),
}

#: Presets that need a timestamp with every reading.
NEEDS_TIMESTAMPS = frozenset(name for name in PRESETS if "_seasonal" in name)


def make(name: str) -> Detector:
    """A fresh detector of the named preset.

    >>> det = make("robust_zscore+likelihood")
    >>> det.ready, type(det.detector).__name__
    (False, 'RobustZScore')
    """
    return PRESETS[name]()
