"""The rolling z-score detector: one reading against the recent normal ones.

Rules, in the order a reading meets them:

* **learning** — until the model holds ``model_size`` values, readings only
  build it; they get no verdict.
* **score before learn** — a reading is judged against the model as it was
  before the reading, so a spike cannot hide itself.
* **excluding** — an anomalous reading is kept out of the model.
* **relearning** — after ``relearn_after`` anomalies in a row the line has
  most likely changed level for good (a new product, a recalibration). The
  model restarts from those readings and refills with normal ones; while it
  refills, readings are still judged (against the partial model), so a spike
  right after a shift is still caught. Without this rule a permanent shift
  would keep the detector in alarm forever.
* **zero spread** — a constant model (std 0) has nothing to scale by: a
  reading equal to it is normal, any other is an anomaly whose z is taken
  against a tiny floor so it stays finite. The relearn rule then bounds the
  flags after a stuck sensor recovers to ``relearn_after``.
* **alarm** — a reading beyond the threshold is *out of band* (the rules
  above, the anomaly ratio); a run of them raises at most one *alarm*, at its
  first reading that is unusual for this sensor or a new extreme
  (:mod:`helpers.core.detectors.zscore_alarm`): what to tell someone about.

The detector works on the signed value: taking ``abs()`` (as the first
version did) folds a drop below zero onto a rise, so a sensor whose reading
falls through zero looks normal.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Iterable, NamedTuple, Optional

from helpers.core.stats.rolling_moments import RollingMoments
from helpers.core.detectors.zscore_alarm import ExcursionAlarm

LEARNING = "learning"
TRACKING = "tracking"
EXCLUDING = "excluding"
RELEARNING = "relearning"
BASELINE_STATES = (LEARNING, TRACKING, EXCLUDING, RELEARNING)

_SQRT2 = math.sqrt(2.0)


def z_to_score(z: Optional[float]) -> float:
    """Map |z| to [0, 1]: the chance that Gaussian noise lands closer to the mean.

    erf(|z|/√2): 0 at the mean, 0.6827 at one std, 0.9973 at three. It grows
    with |z| and does not depend on the threshold, so a score threshold can be
    chosen afterwards. No verdict (learning) scores 0.
    """
    if z is None:
        return 0.0
    return math.erf(abs(z) / _SQRT2)


class Verdict(NamedTuple):
    """What the detector says about one reading; mean/std/z are None while learning.

    ``anomaly`` is out of band (|z| > threshold); ``alarm`` the excursion alarm, with the
    likelihood it weighed (None while that collects history) and its reason
    (:mod:`helpers.core.detectors.zscore_alarm`).
    """

    mean: Optional[float]
    std: Optional[float]
    z: Optional[float]
    anomaly: bool
    state: str
    completeness: float
    judged: bool
    relearned: bool
    alarm: bool = False
    likelihood: Optional[float] = None
    alarm_reason: Optional[str] = None


class ZScoreDetector:
    """Flags readings more than ``threshold`` stds from the mean of the recent normal ones.

    Parameters:
        model_size: how many recent normal readings form the model.
        threshold: |z| above which a reading is an anomaly.
        relearn_after: this many anomalies in a row restart the model from them.

    >>> import random
    >>> rng = random.Random(7)
    >>> det = ZScoreDetector(model_size=50, threshold=3.0, relearn_after=10)
    >>> verdicts = [det.update(10 + rng.gauss(0, 1)) for _ in range(60)]
    >>> verdicts[0].state, verdicts[-1].state
    ('learning', 'tracking')
    >>> spike = det.update(25.0)
    >>> spike.anomaly, spike.state, round(spike.z, 1), spike.alarm, spike.alarm_reason
    (True, 'excluding', 16.8, True, 'extreme')
    """

    __slots__ = ("threshold", "relearn_after", "_model", "_phase", "_run", "_last_anomaly", "_alarm")

    def __init__(self, model_size: int = 100, threshold: float = 3.0, relearn_after: int = 30):
        if relearn_after < 1:
            raise ValueError("relearn_after must be at least 1")
        self.threshold = float(threshold)
        self.relearn_after = int(relearn_after)
        self._model = RollingMoments(int(model_size))
        self._phase = LEARNING
        self._run: deque[float] = deque()
        self._last_anomaly = False
        self._alarm = ExcursionAlarm()

    @property
    def model_size(self) -> int:
        return self._model.size

    @property
    def completeness(self) -> float:
        """How full the model is, in percent."""
        return 100.0 * len(self._model) / self._model.size

    @property
    def state(self) -> str:
        if self._last_anomaly:
            return EXCLUDING
        return self._phase

    def update(self, x: float) -> Verdict:
        """Judge ``x`` against the model, then learn from it."""
        model = self._model
        if self._phase == LEARNING:
            self._learn(x, False)
            self._alarm.observe(x, None, False)
            return Verdict(None, None, None, False, self._phase,
                           100.0 * len(model) / model.size, False, False)
        mean, std = model.mean_std()
        spread = std if std > 0.0 else 1e-9 * max(abs(mean), 1.0)
        z = (x - mean) / spread
        if x == mean:
            z = 0.0
        anomaly = abs(z) > self.threshold
        relearned = self._learn(x, anomaly)
        alarm = self._alarm.observe(x, z, anomaly)
        return Verdict(mean, std, z, anomaly, self.state,
                       100.0 * len(model) / model.size, True, relearned, *alarm)

    def _learn(self, x: float, anomaly: bool) -> bool:
        """Apply the model rules to a judged reading; True when it triggered a relearn."""
        model = self._model
        self._last_anomaly = anomaly
        if not anomaly:
            if self._run:
                self._run.clear()
            model.push(x)
            if self._phase != TRACKING and len(model.values) == model.size:
                self._phase = TRACKING
            return False
        run = self._run
        run.append(x)
        if len(run) < self.relearn_after:
            return False
        self._model = RollingMoments(model.size, list(run)[-model.size:])
        run.clear()
        self._last_anomaly = False
        self._phase = TRACKING if self._model.full else RELEARNING
        return True

    def restore(self, history: Iterable[tuple[float, bool, Optional[float]]]) -> None:
        """Rebuild the model and the alarm rule from stored ``(value, was_anomaly, z)``, oldest first.

        The readings replay through the same rules as live ones, without
        judging again, so a restart picks up exactly where the model was; the
        stored z-scores (None: no verdict) refill the alarm rule's history.
        """
        for x, anomaly, z in history:
            self._learn(x, bool(anomaly))
            self._alarm.observe(x, z, bool(anomaly))

    def rebaseline(self) -> None:
        """Forget the model; the next readings build it anew."""
        self._model.clear()
        self._run.clear()
        self._phase = LEARNING
        self._last_anomaly = False
        self._alarm.reset()

    def configure(self, model_size: Optional[int] = None, threshold: Optional[float] = None,
                  relearn_after: Optional[int] = None) -> None:
        """Apply new settings, keeping as much of the model as still fits."""
        if threshold is not None:
            self.threshold = float(threshold)
        if relearn_after is not None:
            self.relearn_after = int(relearn_after)
        if model_size is not None and model_size != self._model.size:
            self._model.resize(int(model_size))
            if self._phase == TRACKING and not self._model.full:
                self._phase = RELEARNING
            elif self._phase != TRACKING and self._model.full:
                self._phase = TRACKING
