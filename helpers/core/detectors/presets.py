"""The named detectors of the z-score family, each with the one configuration it uses on every series.

The configuration is the constructors' defaults; nothing here is set per series.
Names with ``_seasonal`` judge each reading against the same time of day and
need its timestamp; names with ``+likelihood`` post-process the detector's
score into its log-likelihood (:mod:`.likelihood`). ``forecast`` is the
SARIMA + LSTM forecast residual (:mod:`.forecast`), which uses timestamps when
it has them (for its seasonal period) and runs without. ``knn`` is the kNN distance
detector (:mod:`.knn`); ``ensemble_*`` names stand for ensemble specs
(:mod:`.ensemble`), and :func:`make` builds any spec such as ``max:a,b`` too.
"""
from __future__ import annotations

from typing import Callable

from helpers.core.detectors import ensemble
from helpers.core.detectors.contract import Detector
from helpers.core.detectors.forecast import ForecastResidual
from helpers.core.detectors.knn import KNNDistance
from helpers.core.detectors.likelihood import ALARM, AnomalyLikelihood, WithLikelihood
from helpers.core.detectors.mean_zscore import MeanZScore
from helpers.core.detectors.multiview import MultiView
from helpers.core.detectors.robust_zscore import RobustZScore, z_to_unit

PRESETS: dict[str, Callable[[], Detector]] = {
    "robust_zscore": RobustZScore,
    "robust_zscore_seasonal": lambda: RobustZScore(seasonal=True),
    "zscore+likelihood": lambda: WithLikelihood(MeanZScore(), AnomalyLikelihood()),
    "robust_zscore+likelihood": lambda: WithLikelihood(RobustZScore(), AnomalyLikelihood()),
    "robust_zscore_seasonal+likelihood": lambda: WithLikelihood(RobustZScore(seasonal=True), AnomalyLikelihood()),
    "knn": KNNDistance,
    "knn+likelihood": lambda: WithLikelihood(KNNDistance(), AnomalyLikelihood()),
    "multiview_seasonal+likelihood": MultiView,
    "forecast": ForecastResidual,
    "forecast+likelihood": lambda: WithLikelihood(ForecastResidual(), AnomalyLikelihood()),
}

#: Named ensembles and the spec each stands for (registered as presets too).
ENSEMBLES: dict[str, str] = {
    "ensemble_max": "max:robust_zscore_seasonal+likelihood,knn+likelihood",
    "ensemble_vote2": "vote2:robust_zscore_seasonal+likelihood,robust_zscore+likelihood,knn+likelihood",
}
PRESETS.update({name: (lambda spec=spec: make(spec)) for name, spec in ENSEMBLES.items()})

#: The raw kNN p-value at or above which ``knn`` flags a reading.
KNN_ALARM = 0.99


def needs_timestamps(name: str) -> bool:
    """Whether the named preset or ensemble spec judges readings by time of day (and so needs timestamps)."""
    return "_seasonal" in ENSEMBLES.get(name, name)


def uses_timestamps(name: str) -> bool:
    """Whether the named preset or spec reads timestamps when it has them (``forecast`` takes its seasonal period from them)."""
    return needs_timestamps(name) or "forecast" in ENSEMBLES.get(name, name)


#: Presets that need a timestamp with every reading.
NEEDS_TIMESTAMPS = frozenset(name for name in PRESETS if needs_timestamps(name))


def alarm(name: str, z_threshold: float = 3.0) -> float:
    """The score at or above which the named preset or ensemble spec flags a reading.

    An ensemble flags at the highest of its members' levels (so a vote flags only when k members would).

    >>> alarm("knn+likelihood"), alarm("knn"), alarm("max:knn,knn+likelihood")
    (0.5, 0.99, 0.99)
    """
    spec = ENSEMBLES.get(name, name)
    if ensemble.is_spec(spec):
        return max(alarm(member, z_threshold) for member in ensemble.parse(spec)[1])
    if spec.endswith("+likelihood"):
        return ALARM
    if spec == "knn":
        return KNN_ALARM
    if spec == "forecast":
        return z_to_unit(z_threshold, ForecastResidual.z_half)
    return z_to_unit(z_threshold, RobustZScore().z_half)


def make(name: str) -> Detector:
    """A fresh detector of the named preset, or of an ensemble spec (``max:a,b``, ``voteK:a,b,c``).

    >>> det = make("robust_zscore+likelihood")
    >>> det.ready, type(det.detector).__name__
    (False, 'RobustZScore')
    >>> vote = make("vote2:robust_zscore,knn,robust_zscore+likelihood")
    >>> vote.k, [type(m).__name__ for m in vote.members]
    (2, ['RobustZScore', 'KNNDistance', 'WithLikelihood'])
    """
    if name in PRESETS:
        return PRESETS[name]()
    if ensemble.is_spec(name):
        return ensemble.build(name, make)
    raise KeyError(f"no detector named {name!r}")
