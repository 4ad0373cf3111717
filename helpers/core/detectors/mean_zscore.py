"""The rolling mean/std z-score (:mod:`helpers.core.detectors.zscore`, the live sampler's) behind the detector contract.

Its |z| is mapped with :func:`~helpers.core.detectors.robust_zscore.z_to_unit`
instead of ``erf``, which rounds every |z| beyond about 8 to exactly 1 — a
threshold sweep then cannot tell a large spike from a huge one, and a short
average of the scores cannot either.
"""
from __future__ import annotations

from typing import Optional

from helpers.core.detectors.contract import Timestamp
from helpers.core.detectors.robust_zscore import z_to_unit
from helpers.core.detectors.zscore import LEARNING, Verdict, ZScoreDetector


class MeanZScore:
    """Scores ``|x - mean| / std`` of the recent normal readings, mapped to [0, 1).

    Parameters:
        model_size, threshold, relearn_after: as :class:`helpers.core.detectors.zscore.ZScoreDetector`
            (readings beyond ``threshold`` are kept out of the model).
        z_half: the |z| that scores 0.5.

    >>> import random
    >>> rng = random.Random(7)
    >>> det = MeanZScore(model_size=50)
    >>> scores = [det.update(10 + rng.gauss(0, 1)) for _ in range(60)]
    >>> scores[0] is None, det.ready
    (True, True)
    >>> round(det.update(25.0), 2), round(det.last.z, 1)
    (0.46, 16.8)
    """

    def __init__(self, model_size: int = 100, threshold: float = 3.0, relearn_after: int = 30,
                 z_half: float = 20.0):
        self._detector = ZScoreDetector(model_size, threshold, relearn_after)
        self.z_half = float(z_half)
        self.last: Optional[Verdict] = None

    @property
    def ready(self) -> bool:
        """Judging: past the first fill of the model (it keeps judging while it relearns after a shift)."""
        return self._detector.state != LEARNING

    def update(self, x: float, t: Timestamp = None) -> Optional[float]:
        verdict = self._detector.update(x)
        self.last = verdict
        return None if verdict.z is None else z_to_unit(verdict.z, self.z_half)
