"""A seasonal ARIMA fitted once by statsmodels, then forecast by hand from its lag polynomials.

statsmodels' state-space fit is the expensive, occasional step. Between fits a
one-step forecast needs only the fitted model written as two polynomials in the
backshift operator B,

    A(B) y_t = M(B) e_t,   A = φ(B) Φ(B^s) (1 - B)^d (1 - B^s)^D,   M = θ(B) Θ(B^s),

so ``ŷ_t = Σ a_i y_{t-i} + Σ m_j e_{t-j}`` (``a`` = −A without its leading 1,
``m`` = M without it, ``e`` the past one-step errors): two short dot products
per reading, no statsmodels call. The same polynomials give the innovations of
a whole window in one ``lfilter`` and the ψ-weights (M/A) that widen a forecast
band with the horizon.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from numpy.polynomial import polynomial as P


def _lag_poly(coefficients: Sequence[float], sign: float, step: int = 1) -> np.ndarray:
    """``1 + sign·(c1 B^step + c2 B^2step + ...)`` as ascending coefficients.

    >>> _lag_poly([0.5], -1.0, step=3).tolist()
    [1.0, 0.0, 0.0, -0.5]
    """
    poly = np.zeros(len(coefficients) * step + 1)
    poly[0] = 1.0
    for k, c in enumerate(coefficients, start=1):
        poly[k * step] = sign * c
    return poly


@dataclass(frozen=True)
class Sarima:
    """A fitted SARIMA as lag polynomials ``ar`` (A, with the differencing) and ``ma`` (M), both ascending, A[0] = M[0] = 1.

    >>> m = Sarima.from_params(ar=[0.5], ma=[], d=1)
    >>> m.ar.tolist(), m.ma.tolist()         # (1 - 0.5B)(1 - B)
    ([1.0, -1.5, 0.5], [1.0])
    >>> m.one_step(np.array([10.0, 8.0]), np.zeros(0))   # 1.5·10 − 0.5·8
    11.0
    """

    ar: np.ndarray
    ma: np.ndarray

    @classmethod
    def from_params(cls, ar: Sequence[float] = (), ma: Sequence[float] = (), d: int = 0,
                    seasonal_ar: Sequence[float] = (), seasonal_ma: Sequence[float] = (), D: int = 0,
                    s: int = 0) -> "Sarima":
        """The polynomials of statsmodels' parameters (AR signs as in ``y_t = φ1 y_{t-1} + ...``)."""
        a = P.polymul(_lag_poly(ar, -1.0), _lag_poly(seasonal_ar, -1.0, max(s, 1)))
        for _ in range(d):
            a = P.polymul(a, [1.0, -1.0])
        for _ in range(D):
            a = P.polymul(a, _lag_poly([1.0], -1.0, s))
        m = P.polymul(_lag_poly(ma, 1.0), _lag_poly(seasonal_ma, 1.0, max(s, 1)))
        return cls(np.asarray(a, dtype=float), np.asarray(m, dtype=float))

    @property
    def ar_lags(self) -> int:
        return len(self.ar) - 1

    @property
    def ma_lags(self) -> int:
        return len(self.ma) - 1

    def one_step(self, past_y: np.ndarray, past_e: np.ndarray) -> float:
        """The forecast of the next value from the latest values and errors, newest first."""
        return float(-self.ar[1:] @ past_y + self.ma[1:] @ past_e)

    def innovations(self, y: np.ndarray) -> np.ndarray:
        """The one-step errors over a window (``A/M`` applied to it), started from rest.

        The window is taken relative to its first value when the model differences, so the
        start-up transient begins near 0 instead of at the series' level.
        """
        from scipy.signal import lfilter   # scipy loads where a model is fitted, not with the presets

        y = np.asarray(y, dtype=float)
        if abs(self.ar.sum()) < 1e-9:     # A(1) = 0: a differencing model ignores a constant offset
            y = y - y[0]
        return lfilter(self.ar, self.ma, y)

    def psi(self, steps: int) -> np.ndarray:
        """The first ``steps`` ψ-weights (M/A as a power series): how a shock now moves the forecast k ahead."""
        from scipy.signal import lfilter

        impulse = np.zeros(steps)
        impulse[0] = 1.0
        return lfilter(self.ma, self.ar, impulse)


def fit(window: np.ndarray, order: tuple[int, int, int], s: int = 0, start: Optional[np.ndarray] = None,
        maxiter: int = 50) -> tuple[Sarima, np.ndarray]:
    """Fit SARIMA(p, d, q)(1, 0, 0)_s — or ARIMA(p, d, q) when ``s`` < 2 — by maximum likelihood; polynomials and params.

    The seasonal AR term is fitted as a regression on the value one period back with
    ARIMA errors, ``A(B)(y_t − Φ y_{t−s}) = M(B) e_t``, which is the same multiplicative
    model, conditional on the first ``s`` readings: statsmodels' state then stays p + q
    long instead of growing with the period, and a fit takes a fraction of a second, not
    tens of seconds. No trend term: the difference already follows the level. ``start``
    (the previous fit's parameters) speeds up a refit on a shifted window; a fit that
    stops short of convergence keeps its best parameters; statsmodels' warnings are silenced.
    """
    from statsmodels.tsa.statespace.sarimax import SARIMAX   # loads only where a model is fitted

    y = np.asarray(window, dtype=float)
    endog, exog = (y[s:], y[:-s]) if s > 1 else (y, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SARIMAX(endog, exog=exog, order=order, trend="n", concentrate_scale=True,
                        simple_differencing=True)
        if start is not None and len(start) != len(model.start_params):
            start = None
        params = np.asarray(model.fit(start_params=start, disp=False, method="lbfgs", maxiter=maxiter,
                                      return_params=True), dtype=float)
    named = dict(zip(model.param_names, params))
    ar = [named[f"ar.L{i}"] for i in range(1, order[0] + 1)]
    ma = [named[f"ma.L{i}"] for i in range(1, order[2] + 1)]
    seasonal_ar = [named[model.param_names[0]]] if s > 1 else []
    return Sarima.from_params(ar, ma, order[1], seasonal_ar, s=s), params
