"""One sensor's detectors, the verdict that counts, and its accumulated anomaly ratio."""
from __future__ import annotations

from typing import Any, Iterable, Mapping, NamedTuple, Optional, Protocol

from helpers.core.stats.anomaly_ratio import AnomalyRatio
from helpers.core.detectors.live import DetectorBank, LiveVerdict, ModelLoader, parse_names
from helpers.core.detectors.zscore import Verdict, ZScoreDetector
from helpers.core.verdict import VERDICT_SOURCES, Decision, decide


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
    # The other chosen detectors' verdicts, by name (empty when only the z-score and LSTM run).
    others: dict[str, LiveVerdict] = {}
    # Whose verdicts counted (``anomaly`` is its verdict) and whether the detectors that judged split.
    decision: Decision = Decision(None, (), False)


def combine(source: str, z: Verdict, shape: Optional[ShapeVerdict],
            others: Optional[Mapping[str, LiveVerdict]] = None) -> Decision:
    """The decision under ``source`` (helpers.core.verdict.decide); a detector that cannot judge yet abstains.

    Its ``anomaly`` is None when no counted detector can judge (the reading then
    leaves the ratio alone). A ``source`` naming one of ``others`` takes its flag;
    while it warms up the z-score's counts.

    >>> z = Verdict(1.0, 1.0, 4.0, True, "excluding", 100.0, True, False)
    >>> combine("both", z, ShapeVerdict(0.1, False)).anomaly, combine("either", z, ShapeVerdict(0.1, False)).anomaly
    (False, True)
    >>> combine("lstm", z, None)
    Decision(anomaly=True, counted=('zscore',), disagree=False)
    >>> combine("knn", z, None, {"knn": LiveVerdict(0.2, False, "")}), combine("knn", z, None, {})
    (Decision(anomaly=False, counted=('knn',), disagree=True), Decision(anomaly=True, counted=('zscore',), disagree=False))
    """
    return decide(source, z.anomaly if z.judged else None,
                  shape.anomaly if shape is not None and shape.error is not None else None,
                  {name: v.anomaly for name, v in (others or {}).items()})


class SensorMonitor:
    """Turns readings into verdicts plus the share of anomalies among recent verdicts.

    >>> m = SensorMonitor({"model_size": 3, "z_threshold": 3.0, "relearn_after": 5, "anomaly_list_size": 10})
    >>> [m.observe(x).ratio for x in (1.0, 2.0, 3.0, 2.0, 50.0)]
    [0.0, 0.0, 0.0, 0.0, 0.5]
    """

    def __init__(self, settings: Mapping[str, Any], load_model: Optional[ModelLoader] = None):
        self.detector = ZScoreDetector(settings["model_size"], settings["z_threshold"], settings["relearn_after"])
        self.ratio = AnomalyRatio(settings["anomaly_list_size"])
        self.settings = dict(settings)
        self.shape: Optional[ShapeScorer] = None
        self.others = DetectorBank(self.other_names(settings), settings["z_threshold"], load_model)

    @staticmethod
    def other_names(settings: Mapping[str, Any]) -> list[str]:
        """The chosen detectors besides the z-score and the LSTM, and the verdict source if it is one of them."""
        names = parse_names(settings.get("detectors", ""))
        source = settings.get("verdict_source", "zscore")
        if source not in VERDICT_SOURCES and source not in names:
            names.append(source)
        return names

    def configure(self, settings: Mapping[str, Any]) -> list[str]:
        """Apply changed settings without losing the model; returns the other detectors that start fresh."""
        if dict(settings) == self.settings:
            return []
        fresh = self.others.configure(self.other_names(settings), settings["z_threshold"])
        self.detector.configure(settings["model_size"], settings["z_threshold"], settings["relearn_after"])
        if settings["anomaly_list_size"] != self.ratio.size:
            self.ratio.resize(settings["anomaly_list_size"])
        self.settings = dict(settings)
        return fresh

    def observe(self, x: float, t: Optional[float] = None) -> Observation:
        """Every detector's verdict on ``x`` (read at epoch second ``t``), the one that counts, and the ratio after it."""
        verdict = self.detector.update(x)
        shape = self.shape.update(x) if self.shape is not None else None
        others = self.others.update(x, t) if self.others.detectors else {}
        decision = combine(self.settings.get("verdict_source", "zscore"), verdict, shape, others)
        anomaly = decision.anomaly
        ratio = self.ratio.ratio if anomaly is None else self.ratio.add(anomaly)
        return Observation(verdict, shape, self.shape.threshold if self.shape is not None else None,
                           bool(anomaly), ratio, others, decision)

    def restore(self, history: Iterable[tuple[float, Optional[float], bool, bool]]) -> None:
        """Rebuild from stored ``(value, z, z-score anomaly, final anomaly)``, oldest first.

        ``z`` None means no verdict was given; the model and its alarm rule follow
        the z-score's own verdicts, the ratio the final ones.
        """
        history = list(history)
        self.detector.restore((value, z_anomaly, z) for value, z, z_anomaly, _anomaly in history)
        for _value, z, _z_anomaly, anomaly in history:
            if z is not None:
                self.ratio.add(anomaly)

    def rebaseline(self) -> None:
        self.detector.rebaseline()
        self.others = DetectorBank(self.others.names, self.settings["z_threshold"], self.others.load_model)

    def reset(self) -> None:
        """Forget the model and the verdicts: a new session starts from nothing."""
        self.rebaseline()
        self.ratio = AnomalyRatio(self.ratio.size)
