"""One sensor's detectors, the verdict that counts, and its accumulated anomaly ratio."""
from __future__ import annotations

from typing import Any, Iterable, Mapping, NamedTuple, Optional, Protocol

from helpers.core.anomaly_ratio import AnomalyRatio
from helpers.core.zscore import Verdict, ZScoreDetector


class ShapeVerdict(NamedTuple):
    """A second detector's verdict (the LSTM's): an error, None until it can judge, and its flag."""

    error: Optional[float]
    anomaly: bool


class ShapeScorer(Protocol):
    threshold: float

    def update(self, x: float) -> ShapeVerdict: ...


class Observation(NamedTuple):
    verdict: Verdict
    shape: Optional[ShapeVerdict]
    shape_threshold: Optional[float]
    anomaly: bool
    ratio: float


def combine(source: str, z: Verdict, shape: Optional[ShapeVerdict]) -> Optional[bool]:
    """The verdict that counts under ``source``; a detector that cannot judge yet abstains.

    None when neither can judge (the reading then leaves the ratio alone).

    >>> z = Verdict(1.0, 1.0, 4.0, True, "excluding", 100.0, True, False)
    >>> combine("both", z, ShapeVerdict(0.1, False)), combine("either", z, ShapeVerdict(0.1, False))
    (False, True)
    >>> combine("lstm", z, None)
    True
    """
    votes = []
    if source in ("zscore", "either", "both") or shape is None or shape.error is None:
        if z.judged:
            votes.append(z.anomaly)
    if source != "zscore" and shape is not None and shape.error is not None:
        votes.append(shape.anomaly)
    if not votes:
        return None
    return all(votes) if source == "both" else any(votes)


class SensorMonitor:
    """Turns readings into verdicts plus the share of anomalies among recent verdicts.

    >>> m = SensorMonitor({"model_size": 3, "z_threshold": 3.0, "relearn_after": 5, "anomaly_list_size": 10})
    >>> [m.observe(x).ratio for x in (1.0, 2.0, 3.0, 2.0, 50.0)]
    [0.0, 0.0, 0.0, 0.0, 0.5]
    """

    def __init__(self, settings: Mapping[str, Any]):
        self.detector = ZScoreDetector(settings["model_size"], settings["z_threshold"], settings["relearn_after"])
        self.ratio = AnomalyRatio(settings["anomaly_list_size"])
        self.settings = dict(settings)
        self.shape: Optional[ShapeScorer] = None

    def configure(self, settings: Mapping[str, Any]) -> None:
        """Apply changed settings without losing the model."""
        if dict(settings) == self.settings:
            return
        self.detector.configure(settings["model_size"], settings["z_threshold"], settings["relearn_after"])
        if settings["anomaly_list_size"] != self.ratio.size:
            self.ratio.resize(settings["anomaly_list_size"])
        self.settings = dict(settings)

    def observe(self, x: float) -> Observation:
        """Every detector's verdict on ``x``, the one that counts, and the anomaly ratio after it."""
        verdict = self.detector.update(x)
        shape = self.shape.update(x) if self.shape is not None else None
        anomaly = combine(self.settings.get("verdict_source", "zscore"), verdict, shape)
        ratio = self.ratio.ratio if anomaly is None else self.ratio.add(anomaly)
        return Observation(verdict, shape, self.shape.threshold if self.shape is not None else None,
                           bool(anomaly), ratio)

    def restore(self, history: Iterable[tuple[float, Optional[float], bool, bool]]) -> None:
        """Rebuild from stored ``(value, z, z-score anomaly, final anomaly)``, oldest first.

        ``z`` None means no verdict was given; the model follows the z-score's
        own verdicts, the ratio the final ones.
        """
        history = list(history)
        self.detector.restore((value, z_anomaly) for value, _z, z_anomaly, _anomaly in history)
        for _value, z, _z_anomaly, anomaly in history:
            if z is not None:
                self.ratio.add(anomaly)

    def rebaseline(self) -> None:
        self.detector.rebaseline()

    def reset(self) -> None:
        """Forget the model and the verdicts: a new session starts from nothing."""
        self.detector.rebaseline()
        self.ratio = AnomalyRatio(self.ratio.size)
