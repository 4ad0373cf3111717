"""Forecast residual: a reading against the one-step forecast of SARIMA plus an LSTM on SARIMA's errors.

A seasonal ARIMA carries level (one difference), short-term momentum (AR(2) on
the changes, one MA term) and, where the sampling allows, a daily cycle; a small
LSTM (:mod:`.residual_lstm`) predicts what is still predictable in SARIMA's
errors. The anomaly score is how far a reading lands from the combined forecast,
in units of the robust running scale of past forecast errors, mapped to [0, 1)
as the z-score family maps |z| (:func:`.robust_zscore.z_to_unit`), so a flag at
|z| > 3 means the same thing here as there.

Both models are refitted every ``refit_every`` readings on the last
``fit_window`` (past readings only, never the one being judged), so the cost is
amortised: between fits a reading costs two short dot products
(:class:`.sarima.Sarima`) and one LSTM pass over its last errors — statsmodels
is never called per reading.

Seasonality, one rule for every series: the seasonal period is the number of
readings per day, read off the median gap between the first timestamps, when
that is a whole number from 2 to ``max_season`` (288: one reading every 5
minutes or slower) and the fit window holds at least four of them; otherwise,
or without timestamps, none. A daily cycle is the one most series of a plant
(and NAB's) have; a faster rate has no day that a bounded window could see.
The seasonal term is one AR coefficient on the value a day back, fitted as a
regression (:func:`.sarima.fit`), so its cost does not grow with the period.
"""
from __future__ import annotations

import copy
import threading
from collections import deque
from datetime import datetime
from typing import NamedTuple, Optional, Sequence

import numpy as np

from helpers.core.detectors import sarima
from helpers.core.detectors.contract import Timestamp
from helpers.core.detectors.robust_zscore import robust_scale, z_to_unit
from helpers.core.stats.rolling_quantiles import RollingMedianMAD

#: The |z| that scores 0.5, as in the z-score family (so the anomaly likelihood sees scores of the same size).
Z_HALF = 20.0


class Explanation(NamedTuple):
    """Why a reading scored what it did: the forecast ``expected`` ± ``spread`` (1-σ equivalent), ``value``, ``z``."""

    value: float
    expected: float
    spread: float
    z: float

    def __str__(self) -> str:
        return f"forecast {self.expected:.4g} ± {self.spread:.3g}, got {self.value:.4g} ({self.z:.1f} σ)"


def _seconds(t: Timestamp) -> float:
    if not isinstance(t, datetime):
        t = datetime.fromisoformat(str(t).strip()[:19])
    return t.timestamp()


def season_from(timestamps: Sequence[Timestamp], max_season: int) -> int:
    """Readings per day when that is a whole number in 2..``max_season``, else 0 (no seasonal part).

    >>> season_from(["2014-01-01 00:00:00", "2014-01-01 01:00:00", "2014-01-01 02:00:00"], 48)
    24
    >>> season_from(["2014-01-01 00:00:00", "2014-01-01 00:05:00", "2014-01-01 00:10:00"], 48)
    0
    >>> season_from([], 48)
    0
    """
    if len(timestamps) < 2:
        return 0
    seconds = [_seconds(t) for t in timestamps]
    gaps = [b - a for a, b in zip(seconds, seconds[1:]) if b > a]
    if not gaps:
        return 0
    per_day = 86400.0 / float(np.median(gaps))
    season = round(per_day)
    return season if 2 <= season <= max_season and abs(per_day - season) < 0.01 * season else 0


class ForecastResidual:
    """Scores ``|x − forecast| / scale`` (SARIMA + residual LSTM), mapped to [0, 1); flags at |z| > ``threshold``.

    Score before learn: ``update(x, t)`` judges ``x`` against the forecast made from the
    readings before it, then learns it; every ``refit_every`` readings both models are
    refitted on the last ``fit_window`` readings.

    Parameters:
        order: SARIMA's (p, d, q); when a seasonal period s applies, a seasonal AR(1) at lag s joins it.
        max_season: the largest readings-per-day taken as a seasonal period (0: never seasonal).
        fit_window: readings a fit sees (about a week of 5-minute readings).
        refit_every: readings between fits once running (early on, fits at 2×, 4×, ... ``warmup``).
        warmup: readings before the first fit and the first score (``update`` returns None until then).
        scale_window: recent forecast errors whose robust spread (1.4826 × median |error|) is the scale.
        threshold: the |z| that flags; also the half-width, in scales, of :meth:`forecast`'s band.
        z_half: the |z| that scores 0.5 (:func:`.robust_zscore.z_to_unit`).
        lstm: whether to learn SARIMA's errors at all; lags, hidden, epochs, seed: the LSTM's.
        background: fit in a thread and adopt the result at the first reading after it is done, so a
            live loop never waits for a fit (the old model judges meanwhile). Off for batch runs, whose
            scores must not depend on timing.

    >>> import math, random
    >>> rng = random.Random(3)
    >>> det = ForecastResidual(warmup=200, refit_every=400)
    >>> wave = [50 + 10 * math.sin(2 * math.pi * i / 50) + rng.gauss(0, 1) for i in range(600)]
    >>> scores = [det.update(x) for x in wave]
    >>> scores[199] is None, det.ready, det.fits
    (True, True, 2)
    >>> det.update(det.forecast(1)[0][0] + 10) > 0.2     # 10 away from where it expected the next reading
    True
    >>> str(det.last).startswith("forecast "), bool(det.last.z > 5)
    (True, True)
    """

    z_half = Z_HALF

    def __init__(self, order: tuple[int, int, int] = (2, 1, 1), max_season: int = 288, fit_window: int = 2000,
                 refit_every: int = 2000, warmup: int = 300,
                 scale_window: int = 500, threshold: float = 3.0, z_half: float = Z_HALF, lstm: bool = True,
                 lags: int = 16, hidden: int = 16, epochs: int = 6, seed: int = 0, background: bool = False):
        if not 50 <= warmup <= fit_window or refit_every < 1 or scale_window < 1:
            raise ValueError("50 <= warmup <= fit_window; refit_every, scale_window >= 1")
        self.order, self.max_season = tuple(order), int(max_season)
        self.fit_window, self.refit_every, self.warmup = int(fit_window), int(refit_every), int(warmup)
        self.threshold, self.z_half = float(threshold), float(z_half)
        self.season: Optional[int] = None         # decided at the first fit
        self.fits = 0
        self._lstm = None
        if lstm:   # torch loads with the first forecast detector, not with the presets
            from helpers.core.detectors.residual_lstm import ResidualLSTM
            self._lstm = ResidualLSTM(lags=lags, hidden=hidden, epochs=epochs, seed=seed)
        self._values: deque[float] = deque(maxlen=self.fit_window)
        self._times: list[Timestamp] = []
        self._errors = RollingMedianMAD(int(scale_window))
        self._model: Optional[sarima.Sarima] = None
        self._params: Optional[np.ndarray] = None
        self._past_y = self._past_e = np.zeros(0)             # newest first
        self._recent_e: deque[float] = deque(maxlen=max(int(lags), 1))   # SARIMA's errors, oldest first
        self._next_sarima = self._next_residual = 0.0
        self._seen, self._next_fit = 0, self.warmup
        self.background = background
        self._pending: Optional[_BackgroundFit] = None
        self.last: Optional[Explanation] = None

    @property
    def ready(self) -> bool:
        return self._model is not None

    @property
    def spread(self) -> float:
        """The current 1-σ-equivalent scale of a one-step forecast error."""
        return robust_scale(self._errors, 0.0)

    def update(self, x: float, t: Timestamp = None) -> Optional[float]:
        """The score of ``x`` against the forecast from the past (None while warming up), then learn ``x``."""
        x = float(x)
        explanation = None
        if self._model is not None:
            expected = self._next_sarima + self._next_residual
            spread = self.spread
            error = x - expected
            explanation = Explanation(x, expected, spread, error / spread)
            self._errors.push(error)
            self._learn(x, x - self._next_sarima)
        elif t is not None and len(self._times) < 64:
            self._times.append(t)
        self._values.append(x)
        self._seen += 1
        if self._pending is not None and self._pending.done.is_set():
            if self._pending.result is not None:   # a fit that failed leaves the old model judging
                self._adopt(self._pending.result)
            self._pending = None
        elif self._seen >= self._next_fit and self._pending is None:
            self._start_fit()
        if self._model is not None:
            self._prepare_next()
        self.last = explanation
        return None if explanation is None else z_to_unit(explanation.z, self.z_half)

    def forecast(self, steps: int) -> list[tuple[float, float, float]]:
        """``(mean, low, high)`` for each of the next ``steps`` readings; [] while not ready.

        The mean runs the same recursion forward, future SARIMA errors taken as the LSTM
        expects them. The band is ± ``threshold`` forecast-error scales, widened with the
        horizon as a Box–Jenkins forecast error: the h-step error is Σ ψ_j e_{t+h−j}, so its
        spread is the one-step spread × sqrt(Σ_{j<h} ψ_j²) (ψ: the SARIMA's ψ-weights; with
        one difference they do not die out, and the band keeps widening like √h).
        """
        if self._model is None or steps < 1:
            return []
        model = self._model
        past_y, past_e, recent = self._past_y.copy(), self._past_e.copy(), list(self._recent_e)
        widths = self.threshold * self.spread * np.sqrt(np.cumsum(model.psi(steps) ** 2))
        out = []
        base, residual = self._next_sarima, self._next_residual
        for k in range(steps):
            if k:
                base = model.one_step(past_y, past_e)
                residual = self._lstm.predict(np.asarray(recent)) if self._lstm is not None else 0.0
            mean = base + residual
            out.append((mean, mean - float(widths[k]), mean + float(widths[k])))
            past_y, past_e = _push(past_y, mean), _push(past_e, residual)
            recent.append(residual)
        return out

    def _learn(self, x: float, sarima_error: float) -> None:
        self._past_y = _push(self._past_y, x)
        self._past_e = _push(self._past_e, sarima_error)
        self._recent_e.append(sarima_error)

    def _prepare_next(self) -> None:
        """The forecast of the next reading, made now so that scoring it is a subtraction."""
        self._next_sarima = self._model.one_step(self._past_y, self._past_e)
        self._next_residual = 0.0
        if self._lstm is not None and self._lstm.active:
            self._next_residual = self._lstm.predict(np.asarray(self._recent_e))

    def _start_fit(self) -> None:
        """Fit on the last ``fit_window`` readings, now or (``background``) in a thread."""
        window = np.asarray(self._values, dtype=float)
        if self.season is None:
            self.season = season_from(self._times, self.max_season)
        self._next_fit = self._seen + min(self._seen, self.refit_every)
        if self.background:
            self._pending = _BackgroundFit(self._fit, window)
        else:
            self._adopt(self._fit(window))

    def _fit(self, window: np.ndarray) -> tuple:
        """SARIMA and (a fresh copy of) the LSTM fitted on ``window``; touches nothing the readings use."""
        s = self.season if self.season and len(window) >= 4 * self.season else 0
        model, params = None, None
        try:
            model, params = sarima.fit(window, self.order, s, start=self._params)
            if not (np.all(np.isfinite(model.ar)) and np.all(np.isfinite(model.ma))):
                model, params = None, None
        except (ValueError, np.linalg.LinAlgError):
            model = None
        if model is None:   # a degenerate window (e.g. constant): the last value is the forecast
            model = sarima.Sarima.from_params(d=self.order[1])
        lstm = None
        if self._lstm is not None:
            lstm = copy.copy(self._lstm)
            errors = model.innovations(window)
            lstm.train(errors[min(len(window) // 4, 100):], seed_offset=self.fits)
        return model, params, lstm

    def _adopt(self, fitted: tuple) -> None:
        """Judge with the fitted models from now on; their recursions restart from the latest readings."""
        model, params, lstm = fitted
        if params is not None:
            self._params = params
        window = np.asarray(self._values, dtype=float)   # in the background, newer than the fit's
        errors = model.innovations(window)
        burn = min(len(window) // 4, 100)
        if self._model is None:      # the first fit: in-sample errors give the first scale
            for e in errors[burn:][-self._errors.size:]:
                self._errors.push(float(e))
        if lstm is not None:
            self._lstm = lstm
        self._model = model
        self._past_y = _latest(window, model.ar_lags)
        self._past_e = _latest(errors, model.ma_lags)
        self._recent_e.clear()
        self._recent_e.extend(float(e) for e in errors[-self._recent_e.maxlen:])
        self.fits += 1


class _BackgroundFit:
    """One fit running in a daemon thread; ``done`` is set when ``result`` holds what it returned."""

    def __init__(self, fit, window: np.ndarray):
        self.done = threading.Event()
        self.result = None
        threading.Thread(target=self._run, args=(fit, window), name="forecast-fit", daemon=True).start()

    def _run(self, fit, window: np.ndarray) -> None:
        try:
            self.result = fit(window)
        finally:
            self.done.set()


def _push(newest_first: np.ndarray, x: float) -> np.ndarray:
    """The history with ``x`` in front and the oldest dropped (same length)."""
    if len(newest_first):
        newest_first[1:] = newest_first[:-1]
        newest_first[0] = x
    return newest_first


def _latest(values: np.ndarray, n: int) -> np.ndarray:
    """The last ``n`` values, newest first, zero-padded when there are fewer."""
    out = np.zeros(n)
    k = min(n, len(values))
    if k:
        out[:k] = values[::-1][:k]
    return out
