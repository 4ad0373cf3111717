"""The robust z-score: a reading against the median and MAD of the recent ones.

The median and the median absolute deviation (MAD) ignore the few extreme
readings in their window, so unlike the mean/std z-score this one needs no rule
to keep anomalies out of its model: a spike cannot drag the baseline towards
itself or widen the spread that judges the next one.

With ``seasonal=True`` and timestamps, a reading is first compared with the
median of the readings at the same time of day over the last ``days`` days, and
the robust z-score is taken over those residuals instead — but only while the
seasonal residuals are tighter than the plain readings (a series with a daily
cycle), so a series without one is judged as without the option.
"""
from __future__ import annotations

import math
from collections import deque
from datetime import datetime
from typing import NamedTuple, Optional, Union

from helpers.core.stats.rolling_quantiles import RollingMedianMAD

#: MAD × this estimates the standard deviation of Gaussian noise.
MAD_TO_STD = 1.4826
#: Mean absolute deviation × this estimates it too (the fallback when the MAD is 0).
MEAN_AD_TO_STD = 1.2533

Timestamp = Union[str, datetime, None]


def z_to_unit(z: float, z_half: float) -> float:
    """Map ``|z|`` to [0, 1): ``|z| / (|z| + z_half)``, 0.5 at ``z_half``.

    Nearly linear up to ``z_half``, so a reading twice as far out scores
    about twice as high (a threshold sweep and a short average both see it).

    >>> z_to_unit(0.0, 20.0), z_to_unit(20.0, 20.0), round(z_to_unit(-60.0, 20.0), 2)
    (0.0, 0.5, 0.75)
    """
    a = abs(z)
    if math.isinf(a):
        return 1.0
    return a / (a + z_half)


def robust_scale(window: RollingMedianMAD, centre: float) -> float:
    """The noise scale around ``centre``: MAD × 1.4826, else mean absolute deviation × 1.2533, else a floor.

    The MAD is 0 when more than half the window holds one value (a quantised or
    mostly idle signal); the mean absolute deviation still sees the rest.
    """
    scale = window.mad(centre) * MAD_TO_STD
    if scale > 0.0:
        return scale
    scale = window.mean_abs_deviation(centre) * MEAN_AD_TO_STD
    if scale > 0.0:
        return scale
    return 1e-9 * max(abs(centre), 1.0)


class Explanation(NamedTuple):
    """Why a reading scored what it did: ``baseline`` ± ``scale`` (robust std), its ``z``, which baseline."""

    value: float
    baseline: float
    scale: float
    z: float
    seasonal: bool

    def __str__(self) -> str:
        kind = "time-of-day median" if self.seasonal else "median"
        return f"{kind} {self.baseline:.4g} ± {self.scale:.3g}, got {self.value:.4g} (z {self.z:+.1f})"


def _day_and_second(t: Timestamp) -> tuple[int, int]:
    """The day number and the second of the day of a ``datetime`` or a ``YYYY-MM-DD HH:MM:SS`` text."""
    if t is None:
        raise ValueError("the seasonal baseline needs a timestamp with every reading")
    if not isinstance(t, datetime):
        t = datetime.fromisoformat(str(t).strip()[:19])
    return t.toordinal(), t.hour * 3600 + t.minute * 60 + t.second


class SlotBaseline:
    """The median, over the last ``horizon`` periods, of a slot's mean in each period (a day's 14:05 slot, say).

    One mean per slot and period, so memory and cost stay bounded however fast the
    readings come (a 1 Hz line puts 300 readings in a 5-minute slot each day); with one
    reading per slot and period (NAB's 5-minute series) it is the plain median.

    >>> base = SlotBaseline(horizon=2)
    >>> [base.residual_then_learn(x, period, "14:05") for x, period in ((1, 0), (3, 0), (10, 1), (7, 2), (9, 3))]
    [None, None, 8.0, 1.0, 0.5]
    """

    def __init__(self, horizon: int):
        self.horizon = int(horizon)
        self._slots: dict[object, deque[list]] = {}  # slot -> [[period, sum, count], ...], oldest first

    def residual_then_learn(self, x: float, period: int, slot: object) -> Optional[float]:
        """``x`` minus the slot's median over earlier periods within the horizon (None with none); learns x."""
        entries = self._slots.setdefault(slot, deque())
        while entries and entries[0][0] < period - self.horizon:
            entries.popleft()
        past = sorted(total / n for p, total, n in entries if p != period)
        residual = None
        if past:
            h = len(past) // 2
            residual = x - (past[h] if len(past) % 2 else 0.5 * (past[h - 1] + past[h]))
        if entries and entries[-1][0] == period:
            entries[-1][1] += x
            entries[-1][2] += 1
        else:
            entries.append([period, x, 1])
        return residual


class RobustZScore:
    """Scores ``|x - median| / (1.4826 · MAD)`` over the last ``window`` readings, mapped to [0, 1).

    Score before learn: a reading is judged against the window before it.

    Parameters:
        window: how many recent readings form the baseline.
        warmup: readings before the first score (``update`` returns None until then).
        z_half: the |z| that scores 0.5 (see :func:`z_to_unit`). 20 keeps the score nearly linear in
            |z| where it matters, and puts Gaussian noise's typical |z| (0.67) at about 0.03 — the
            floor of the anomaly likelihood's mean, which was tuned for scores of that size.
        seasonal: compare with the same time of day first (``update`` then needs timestamps).
        slot_seconds: width of a time-of-day slot for the seasonal baseline.
        days: how many past days of a slot its median takes.

    >>> import random
    >>> rng = random.Random(7)
    >>> det = RobustZScore(window=100, warmup=20)
    >>> scores = [det.update(10 + rng.gauss(0, 1)) for _ in range(100)]
    >>> scores[19] is None, det.ready, round(max(scores[20:]), 3)
    (True, True, 0.128)
    >>> round(det.update(25.0), 2)                   # a spike 15 stds out
    0.42
    >>> str(det.last)
    'median 10.17 ± 1, got 25 (z +14.8)'
    """

    def __init__(self, window: int = 300, warmup: int = 100, z_half: float = 20.0, seasonal: bool = False,
                 slot_seconds: int = 300, days: int = 7):
        if not 1 <= warmup <= window:
            raise ValueError("warmup must be between 1 and window")
        self.window, self.warmup, self.z_half = int(window), int(warmup), float(z_half)
        self.seasonal, self.slot_seconds, self.days = seasonal, int(slot_seconds), int(days)
        self._plain = RollingMedianMAD(self.window)
        self._residuals = RollingMedianMAD(self.window)
        self._daily = SlotBaseline(self.days)
        self.last: Optional[Explanation] = None

    @property
    def ready(self) -> bool:
        return len(self._plain) >= self.warmup

    def update(self, x: float, t: Timestamp = None) -> Optional[float]:
        """The score of ``x`` (None while warming up), then learn ``x``."""
        x = float(x)
        residual = self._seasonal_residual(x, t) if self.seasonal else None
        explanation = None
        if self.ready:
            median = self._plain.median()
            scale = robust_scale(self._plain, median)
            explanation = Explanation(x, median, scale, (x - median) / scale, False)
            if residual is not None and len(self._residuals) >= self.warmup:
                centre = self._residuals.median()
                r_scale = robust_scale(self._residuals, centre)
                if r_scale < scale:   # the daily cycle explains part of the spread: judge the residual
                    baseline = x - residual + centre
                    explanation = Explanation(x, baseline, r_scale, (residual - centre) / r_scale, True)
        self._plain.push(x)
        if residual is not None:
            self._residuals.push(residual)
        self.last = explanation
        return None if explanation is None else z_to_unit(explanation.z, self.z_half)

    def _seasonal_residual(self, x: float, t: Timestamp) -> Optional[float]:
        """``x`` minus the median of its time-of-day slot over the past ``days`` days (None with no past); learns x."""
        day, second = _day_and_second(t)
        return self._daily.residual_then_learn(x, day, second // self.slot_seconds)
