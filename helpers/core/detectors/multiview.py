"""Streaming detection for NAB-like streams: views of the stream, each with its own anomaly likelihood.

:class:`MultiView` judges a stream through one or more "views":

- ``level``: the reading itself, against the tightest of three baselines — the recent
  readings, the same time of day over the last 7 days, and (``weeks``) the same time
  of the week over the last few weeks (:class:`WeeklyRobustZScore`), so a daily or a
  weekly cycle is learnt rather than flagged;
- ``diff``: the first difference ``x - previous x`` (a sudden step or spike);
- ``mean``: the mean of the last few readings against the readings' median, in
  units of the readings' spread shrunk by ``sqrt(k)`` (a small but lasting shift);
- ``spread``: the log of the recent readings' mean absolute difference against
  its own history (a change of the noise, not of the level).

Each view turns its robust z into a raw score, and its own
:class:`~.likelihood.AnomalyLikelihood` turns the raw scores into a
log-likelihood. The detector's score is the largest of them; a reading beyond the
whole range seen so far scores 1 (NAB's new-extreme rule) — from the ``early``-th
reading on, long before the likelihood has learnt enough to speak (short streams
otherwise go unwatched for their first 700 readings). After a score at or above
``hold_level``, the scores of the next ``hold`` readings are multiplied by
``hold_damp`` unless they beat it: a change raises one alarm, not a burst of them.

The defaults are the configuration that scored best on the NAB dev half (one
configuration for every stream): the ``level`` view alone with the weekly baseline
(8 weeks), the early new-extreme rule after 50 readings, a hold-off of 800 readings
at 0.75, and likelihood skip/estimation 200/200. Adding the ``diff``, ``mean`` or
``spread`` views scored lower there; they stay available.

Everything is causal (each baseline scores a reading, then learns it) and nothing
is set per stream.
"""
from __future__ import annotations

import math
from collections import deque
from typing import NamedTuple, Optional, Sequence

from helpers.core.detectors.contract import Timestamp
from helpers.core.detectors.likelihood import AnomalyLikelihood, SeenRange, log_likelihood
from helpers.core.detectors.robust_zscore import RobustZScore, SlotBaseline, z_to_unit
from helpers.core.stats.rolling_quantiles import RollingMedianMAD
from helpers.core.detectors.robust_zscore import Explanation as _RZExplanation
from helpers.core.detectors.robust_zscore import _day_and_second, robust_scale

VIEWS = ("level", "diff", "mean", "spread")
#: Each view's anomaly-likelihood settings (NAB's are 300 / 300; 200 / 200 learns sooner on short streams).
LIKELIHOOD = {"skip": 200, "estimation": 200}


class ViewVerdict(NamedTuple):
    view: str
    z: float
    score: float

    def __str__(self) -> str:
        return f"{self.view} z {self.z:+.1f} → {self.score:.3f}"


class Explanation(NamedTuple):
    """Why the last reading scored what it did: the loudest view, the other views, and the rules."""

    value: float
    score: float
    loudest: Optional[ViewVerdict]
    views: tuple
    extreme: bool
    held: bool
    level: object = None

    def __str__(self) -> str:
        if self.extreme:
            head = f"{self.value:.4g} is beyond every reading seen so far: score 1"
        elif self.loudest is None:
            head = f"{self.value:.4g}: views still learning"
        else:
            names = {"level": "the level", "diff": "the step from the previous reading",
                     "mean": "the mean of the last readings", "spread": "the recent jitter"}
            head = (f"{self.value:.4g}: loudest view is {names.get(self.loudest.view, self.loudest.view)} "
                    f"(z {self.loudest.z:+.1f}, likelihood score {self.loudest.score:.3f})")
        if self.held:
            head += "; damped: an alarm was raised a moment ago"
        others = ", ".join(str(v) for v in self.views if v is not self.loudest)
        if self.level is not None:
            head += f"; level: {self.level}"
        return head + (f"; other views: {others}" if others else "")


class WeeklyRobustZScore(RobustZScore):
    """:class:`RobustZScore` with a third baseline: the same time of the week over the last ``weeks`` weeks.

    A reading is judged on whichever of the plain readings, the time-of-day residuals and the
    time-of-week residuals has the tightest robust spread (a weekly cycle, such as weekday
    traffic against weekend traffic, is then learnt rather than flagged).
    """

    def __init__(self, weeks: int = 4, **kw):
        kw.setdefault("seasonal", True)
        super().__init__(**kw)
        self.weeks = int(weeks)
        self._weekly = SlotBaseline(self.weeks)
        self._week_residuals = RollingMedianMAD(self.window)

    def _weekly_residual(self, x: float, t: Timestamp) -> Optional[float]:
        day, second = _day_and_second(t)
        week, weekday = divmod(day, 7)
        return self._weekly.residual_then_learn(x, week, (weekday, second // self.slot_seconds))

    def update(self, x: float, t: Timestamp = None) -> Optional[float]:
        x = float(x)
        weekly = self._weekly_residual(x, t)
        score = super().update(x, t)
        if score is not None and weekly is not None and len(self._week_residuals) >= self.warmup:
            centre = self._week_residuals.median()
            w_scale = robust_scale(self._week_residuals, centre)
            if w_scale < self.last.scale:
                self.last = _RZExplanation(x, x - weekly + centre, w_scale, (weekly - centre) / w_scale, True)
                score = z_to_unit(self.last.z, self.z_half)
        if weekly is not None:
            self._week_residuals.push(weekly)
        return score


class _ZView:
    """A robust z of a derived value against that value's own recent median and MAD."""

    def __init__(self, window: int, warmup: int):
        self.window = RollingMedianMAD(window)
        self.warmup = warmup

    def update(self, v: float) -> Optional[float]:
        z = None
        if len(self.window) >= self.warmup:
            m = self.window.median()
            z = (v - m) / robust_scale(self.window, m)
        self.window.push(v)
        return z


class MultiView:
    """Max of per-view anomaly likelihoods, the new-extreme rule and a hold-off after alarms.

    Parameters:
        views: which views to use (see the module doc; ``level`` needs timestamps when ``seasonal``).
        window, warmup: the robust z-scores' window and warm-up (readings).
        z_half: the |z| that maps to a raw score of 0.5 (:func:`~.robust_zscore.z_to_unit`).
        mean_k: readings in the ``mean`` view's average.
        spread_k: differences in the ``spread`` view's jitter estimate.
        seasonal: the ``level`` view compares with the same time of day when that helps.
        weeks: past weeks of the time-of-week baseline of the ``level`` view (None: no weekly baseline).
        extreme_tolerance: share of the range seen that a new extreme must pass (None: no rule).
        early: from this many readings on, a new extreme scores 1 (and anything else 0) while the
            views still learn (None: no score until every view's likelihood is ready).
        hold, hold_level, hold_damp: after a score at or above ``hold_level``, the next ``hold``
            readings' scores are multiplied by ``hold_damp`` unless they beat the alarm's score.
        view_weights: a factor per view on its log-likelihood (default 1).
        likelihood: keyword arguments of each view's :class:`~.likelihood.AnomalyLikelihood`
            (over :data:`LIKELIHOOD`).

    >>> import random
    >>> rng = random.Random(4)
    >>> det = MultiView()
    >>> stamps = [f"2024-01-{1 + i // 288:02d} {i % 288 // 12:02d}:{i % 12 * 5:02d}:00" for i in range(1200)]
    >>> quiet = [det.update(10 + rng.gauss(0, 1), t) for t in stamps[:1000]]
    >>> quiet[49] is None, quiet[50], max(quiet[500:]) < 0.5   # (early on, the range itself still grows)
    (True, 0.0, True)
    >>> det.update(30.0, stamps[1000])        # far beyond everything seen so far
    1.0
    >>> str(det.last)[:48]
    '30 is beyond every reading seen so far: score 1;'
    """

    def __init__(self, views: Sequence[str] = ("level",), window: int = 300, warmup: int = 100,
                 z_half: float = 20.0, mean_k: int = 6, spread_k: int = 12, seasonal: bool = True,
                 weeks: Optional[int] = 8, extreme_tolerance: Optional[float] = 0.05, early: Optional[int] = 50,
                 hold: int = 800, hold_level: float = 0.5, hold_damp: float = 0.75,
                 view_weights: Optional[dict] = None, likelihood: Optional[dict] = None):
        for v in views:
            if v not in VIEWS:
                raise ValueError(f"unknown view {v!r}; choose from {VIEWS}")
        self.views = tuple(views)
        self.z_half, self.mean_k, self.spread_k = float(z_half), int(mean_k), int(spread_k)
        self.extreme_tolerance = extreme_tolerance
        self.hold, self.hold_level, self.hold_damp = int(hold), float(hold_level), float(hold_damp)
        self.view_weights = dict(view_weights or {})
        kw = {**LIKELIHOOD, **(likelihood or {})}
        self._lik = {v: AnomalyLikelihood(**kw) for v in self.views}
        if "level" not in self.views:
            self._level = None
        elif weeks:
            self._level = WeeklyRobustZScore(weeks=weeks, window=window, warmup=warmup, z_half=z_half)
        else:
            self._level = RobustZScore(window=window, warmup=warmup, z_half=z_half, seasonal=seasonal)
        self._z = {v: _ZView(window, warmup) for v in self.views if v in ("diff", "spread")}
        self._plain = RollingMedianMAD(window) if "mean" in self.views else None
        self._warmup = warmup
        self._recent: deque[float] = deque(maxlen=max(self.mean_k, self.spread_k + 1))
        self._prev: Optional[float] = None
        self._range = SeenRange(extreme_tolerance)
        self._since_alarm = 10 ** 9
        self._alarm_score = 0.0
        self._ready = False
        self.early = early
        self._seen = 0
        self.last: Optional[Explanation] = None

    @property
    def ready(self) -> bool:
        return self._ready or (self.early is not None and self._seen >= self.early)

    # -- the views' robust z of this reading (None while a view warms up) --------------------------
    def _view_z(self, x: float, t: Timestamp) -> dict:
        out = {}
        if self._level is not None:
            s = self._level.update(x, t)
            out["level"] = None if s is None else self._level.last.z
        recent = self._recent
        recent.append(x)
        if "diff" in self._z:
            out["diff"] = None if self._prev is None else self._z["diff"].update(x - self._prev)
        if "spread" in self._z:
            if len(recent) > self.spread_k:
                r = list(recent)[-(self.spread_k + 1):]
                jitter = sum(abs(b - a) for a, b in zip(r, r[1:])) / self.spread_k
                out["spread"] = self._z["spread"].update(math.log(jitter + 1e-9 * (abs(x) + 1.0)))
            else:
                out["spread"] = None
        if self._plain is not None:
            z = None
            if len(self._plain) >= self._warmup and len(recent) >= self.mean_k:
                m = self._plain.median()
                mean = sum(list(recent)[-self.mean_k:]) / self.mean_k
                z = (mean - m) / robust_scale(self._plain, m) * math.sqrt(self.mean_k) / 3.0
            self._plain.push(x)
            out["mean"] = z
        self._prev = x
        return out

    def update(self, x: float, t: Timestamp = None) -> Optional[float]:
        x = float(x)
        extreme = self._range.beyond(x)
        zs = self._view_z(x, t)
        verdicts = []
        for view in self.views:
            z = zs.get(view)
            if z is None:
                continue
            raw = z_to_unit(z, self.z_half)
            if view == "spread" and z < 0:
                raw = 0.0          # calmer than usual is not an anomaly
            p = self._lik[view].update(raw)
            if p is None:
                continue
            verdicts.append(ViewVerdict(view, z, log_likelihood(p) * self.view_weights.get(view, 1.0)))
        ready = len(verdicts) == len(self.views)
        self._seen += 1
        if not ready and not self._ready:
            if self.early is not None and self._seen > self.early:
                # the views are still learning, but a new extreme is already worth an alarm
                score = 1.0 if extreme else 0.0
                self.last = Explanation(x, score, None, tuple(verdicts), extreme, False)
                return score
            self.last = Explanation(x, 0.0, None, tuple(verdicts), False, False)
            return None
        self._ready = True
        loudest = max(verdicts, key=lambda v: v.score) if verdicts else None
        score = 1.0 if extreme else (loudest.score if loudest else 0.0)
        held = False
        self._since_alarm += 1
        if self.hold and self._since_alarm <= self.hold and score <= self._alarm_score:
            score *= self.hold_damp
            held = True
        elif score >= self.hold_level:
            self._since_alarm = 0
            self._alarm_score = score
        level = self._level.last if self._level is not None else None
        self.last = Explanation(x, score, loudest, tuple(verdicts), extreme, held, level)
        return score

