"""Anomaly likelihood: how unusual a detector's recent scores are, given their own history.

The NAB/HTM post-processing step (Ahmad et al., 2017), usable on any detector's
score in [0, 1]. A short moving average of the raw scores is compared with the
distribution (mean and spread) of that average over a long window of the past:
the Gaussian tail beyond it is the chance that the recent scores are this high
by chance, and one minus it is the likelihood. A noisy detector's routine highs
then stop counting; a run of high scores, or one far beyond the usual, stands
out. Only the first of consecutive "red" likelihoods stays red (later ones are
lowered to "yellow"), and :func:`log_likelihood` spreads the tail near 1 over
[0, 1] — so a sustained change raises one early alarm, not a long run of them.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Optional

from helpers.core.detectors.contract import Detector, Timestamp
from helpers.core.stats.rolling_moments import RollingMoments

#: A log-likelihood at or above this (a likelihood of 0.99999, NAB's "red") is an alarm.
ALARM = 0.5

_LOG_FLOOR = math.log(1.0 - 0.9999999999)
_SQRT2 = math.sqrt(2.0)


def log_likelihood(likelihood: float) -> float:
    """NAB's ``computeLogLikelihood``: 0.5 at a likelihood of 0.99999, 1 at 0.9999999999.

    >>> round(log_likelihood(0.5), 3), round(log_likelihood(0.99999), 3), round(log_likelihood(1.0), 3)
    (0.03, 0.5, 1.0)
    """
    return min(1.0, max(0.0, math.log(1.0000000001 - likelihood) / _LOG_FLOOR))


class AnomalyLikelihood:
    """Turns a stream of raw scores into likelihoods in [0, 1].

    Parameters:
        short_window: raw scores in the moving average that is judged.
        history: averages in the long-run distribution.
        skip: raw scores left out of the distribution at the start (the detector settling).
        estimation: averages collected before the first likelihood (``update`` returns None until then).
        reestimate_every: how often (in readings) the distribution's mean and spread are refreshed.
        min_mean, min_var: floors of the distribution, so a detector that is almost always 0
            does not make every small score look impossible.
        red, yellow: a likelihood at or above ``red`` that follows one is lowered to ``yellow``.

    >>> import random
    >>> rng = random.Random(3)
    >>> lik = AnomalyLikelihood(skip=0, estimation=200)
    >>> quiet = [lik.update(abs(rng.gauss(0, 0.05))) for _ in range(400)]
    >>> quiet[0] is None, max(quiet[200:]) < 0.999
    (True, True)
    >>> shifted = [lik.update(0.4) for _ in range(5)]
    >>> [round(p, 5) for p in shifted]   # red (>= 0.99999) once, then held at yellow
    [0.97888, 0.99999, 0.999, 0.999, 0.999]
    """

    def __init__(self, short_window: int = 10, history: int = 8640, skip: int = 300, estimation: int = 300,
                 reestimate_every: int = 100, min_mean: float = 0.03, min_var: float = 0.0003,
                 red: float = 0.99999, yellow: float = 0.999):
        if short_window < 1 or history < 2 or estimation < 2 or skip < 0 or reestimate_every < 1:
            raise ValueError("short_window >= 1, history >= 2, estimation >= 2, skip >= 0, reestimate_every >= 1")
        self.skip, self.estimation, self.reestimate_every = int(skip), int(estimation), int(reestimate_every)
        self.min_mean, self.min_var, self.red, self.yellow = float(min_mean), float(min_var), red, yellow
        self._short: deque[float] = deque(maxlen=int(short_window))
        self._sum = 0.0
        self._averages = RollingMoments(int(history))
        self._seen = 0
        self._distribution: Optional[tuple[float, float]] = None
        self._was_red = False

    @property
    def ready(self) -> bool:
        return self._seen >= self.skip + self.estimation

    def update(self, raw: float) -> Optional[float]:
        """The likelihood of the moving average ending at ``raw`` (None while collecting), then learn it."""
        short = self._short
        if len(short) == short.maxlen:
            self._sum -= short[0]
        short.append(raw)
        self._sum += raw
        average = self._sum / len(short)
        likelihood = None
        if self.ready:
            if self._distribution is None or self._seen % self.reestimate_every == 0:
                mean, std = self._averages.mean_std()
                self._distribution = (max(mean, self.min_mean), math.sqrt(max(std * std, self.min_var)))
            mean, std = self._distribution
            tail = 0.5 * math.erfc((average - mean) / std / _SQRT2)
            likelihood = 1.0 - tail
            red = likelihood >= self.red
            if red and self._was_red:
                likelihood = self.yellow
            self._was_red = red
        if self._seen >= self.skip:
            self._averages.push(average)
        self._seen += 1
        return likelihood


class SeenRange:
    """The range of the readings so far, and whether a reading passes it by more than ``tolerance`` of it.

    NAB's new-extreme rule: a value the stream has never come near is news, whatever the scores say.

    >>> seen = SeenRange(0.05)
    >>> [seen.beyond(x) for x in (10.0, 20.0, 20.4, 21.0, 0.0)]
    [False, False, False, True, True]
    """

    def __init__(self, tolerance: Optional[float]):
        self.tolerance = tolerance
        self.low = self.high = math.nan

    def beyond(self, x: float) -> bool:
        """Whether ``x`` passes the range seen before it by the tolerance; then widen the range."""
        low, high = self.low, self.high
        extreme = False
        if self.tolerance is not None and high > low:
            margin = (high - low) * self.tolerance
            extreme = x > high + margin or x < low - margin
        if not x >= low:          # also true while low is nan
            self.low = x
        if not x <= high:
            self.high = x
        return extreme


class WithLikelihood:
    """A detector whose score is the log-likelihood of another detector's scores.

    As NAB's Numenta detector, a reading beyond the whole range seen so far by more
    than ``extreme_tolerance`` of that range scores 1 outright: a new extreme is
    worth an alarm even when the inner detector's window has drifted with it.

    Parameters:
        detector: any detector of the contract (its scores in [0, 1] are the raw scores).
        likelihood: the post-processing state (an :class:`AnomalyLikelihood`).
        extreme_tolerance: share of the range seen that a new extreme must pass (None: no such rule).

    Not ready while the inner detector warms up and the likelihood collects its history.

    >>> import random
    >>> from helpers.core.detectors.robust_zscore import RobustZScore
    >>> rng = random.Random(5)
    >>> det = WithLikelihood(RobustZScore(window=100, warmup=50), AnomalyLikelihood(skip=50, estimation=100),
    ...                      extreme_tolerance=None)
    >>> quiet = [det.update(rng.gauss(10, 1)) for _ in range(600)]
    >>> quiet[199] is None, quiet[200] is not None, max(quiet[200:]) < ALARM
    (True, True, True)
    >>> shifted = [det.update(rng.gauss(16, 1)) for _ in range(5)]
    >>> [round(s, 2) for s in shifted]   # one alarm, then held low while the shift lasts
    [0.2, 0.44, 0.65, 0.3, 0.3]
    >>> det = WithLikelihood(RobustZScore(window=100, warmup=50), AnomalyLikelihood(skip=50, estimation=100))
    >>> quiet = [det.update(rng.uniform(9, 11)) for _ in range(600)]
    >>> max(quiet[200:]) < ALARM, det.update(12.0)    # 12 passes the range 9..11 by more than 5 %
    (True, 1.0)
    """

    def __init__(self, detector: Detector, likelihood: AnomalyLikelihood,
                 extreme_tolerance: Optional[float] = 0.05):
        self.detector, self.likelihood, self.extreme_tolerance = detector, likelihood, extreme_tolerance
        self._range = SeenRange(extreme_tolerance)

    @property
    def ready(self) -> bool:
        return self.likelihood.ready

    @property
    def last(self):
        """The inner detector's explanation of the last reading, when it gives one."""
        return getattr(self.detector, "last", None)

    def update(self, x: float, t: Timestamp = None) -> Optional[float]:
        extreme = self._range.beyond(x)
        raw = self.detector.update(x, t)
        if raw is None:
            return None
        probability = self.likelihood.update(raw)
        if probability is None:
            return None
        return 1.0 if extreme else log_likelihood(probability)
