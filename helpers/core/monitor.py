"""One sensor's detector and accumulated anomaly ratio, kept in step with its settings."""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

from helpers.core.anomaly_ratio import AnomalyRatio
from helpers.core.zscore import Verdict, ZScoreDetector


class SensorMonitor:
    """Turns readings into verdicts plus the share of anomalies among recent verdicts.

    >>> m = SensorMonitor({"model_size": 3, "z_threshold": 3.0, "relearn_after": 5, "anomaly_list_size": 10})
    >>> [m.observe(x)[1] for x in (1.0, 2.0, 3.0, 2.0, 50.0)]
    [0.0, 0.0, 0.0, 0.0, 0.5]
    """

    def __init__(self, settings: Mapping[str, Any]):
        self.detector = ZScoreDetector(settings["model_size"], settings["z_threshold"], settings["relearn_after"])
        self.ratio = AnomalyRatio(settings["anomaly_list_size"])
        self.settings = dict(settings)

    def configure(self, settings: Mapping[str, Any]) -> None:
        """Apply changed settings without losing the model."""
        if dict(settings) == self.settings:
            return
        self.detector.configure(settings["model_size"], settings["z_threshold"], settings["relearn_after"])
        if settings["anomaly_list_size"] != self.ratio.size:
            self.ratio.resize(settings["anomaly_list_size"])
        self.settings = dict(settings)

    def observe(self, x: float) -> tuple[Verdict, float]:
        """The verdict on ``x`` and the anomaly ratio after it; unjudged readings leave the ratio alone."""
        verdict = self.detector.update(x)
        if verdict.judged:
            return verdict, self.ratio.add(verdict.anomaly)
        return verdict, self.ratio.ratio

    def restore(self, history: Iterable[tuple[float, Optional[float], bool]]) -> None:
        """Rebuild from stored ``(value, z, anomaly)``, oldest first; ``z`` None means no verdict was given."""
        history = list(history)
        self.detector.restore((value, anomaly) for value, _z, anomaly in history)
        for _value, z, anomaly in history:
            if z is not None:
                self.ratio.add(anomaly)

    def rebaseline(self) -> None:
        self.detector.rebaseline()

    def reset(self) -> None:
        """Forget the model and the verdicts: a new session starts from nothing."""
        self.detector.rebaseline()
        self.ratio = AnomalyRatio(self.ratio.size)
