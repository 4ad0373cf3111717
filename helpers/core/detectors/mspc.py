"""Multivariate statistical process control for a line: PCA's Hotelling T² and SPE, with each sensor's share.

The method plant engineers already know. Fitted on a stretch of normal operation of the line's sensors
(standardised per sensor), it keeps the principal components that explain ``variance`` of it. A new row
(one value per sensor) is then judged by two statistics:

* **T²** (Hotelling): how far the row lies from normal *inside* the model's plane, scaled per component;
  a known kind of variation grown too large.
* **SPE** (squared prediction error, Q): how far the row lies *off* that plane; a correlation between
  sensors that normal operation does not have.

Control limits are set at a chosen false-alarm rate ``alpha`` on *held-back* normal data: the training
stretch is cut into ``folds`` contiguous blocks, each block is judged by a model fitted without it, and
the limit is the ``1 - alpha/2`` quantile of those out-of-fold statistics (half the rate for each, so an
alarm on either stays near ``alpha``). Limits read off the rows a model was fitted on are too tight: the
model has already seen them.

Each alarm says which sensors drove it: SPE splits exactly into per-sensor squared residuals, T² into
per-sensor terms ``z_j · (P Λ⁻¹ Pᵀ z)_j`` (negative terms count as 0 in the shares).

Causal: a row's verdict uses only the fitted model and that row (and, with ``smoothing``, the rows
before it); the statistics are never fitted on the rows they judge.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

DEFAULT_VARIANCE = 0.90
DEFAULT_ALPHA = 0.01
DEFAULT_FOLDS = 5
MIN_ROWS = 20


class NotEnoughRows(ValueError):
    """Too few normal rows to fit the model and hold some back for its limits."""


@dataclass(frozen=True)
class PCAVerdict:
    t2: float
    spe: float
    anomaly: bool
    rule: Optional[str]                     # "T²", "SPE", "T² and SPE", or None
    score: float                            # max(t2/limit, spe/limit): 1.0 is the limit
    contributions: dict[str, float] = field(default_factory=dict)  # sensor -> share of the alarming statistic

    @property
    def unit_score(self) -> float:
        """The score mapped to [0, 1): ``s / (1 + s)``, 0.5 at the limit (the detectors' contract)."""
        return self.score / (1.0 + self.score)

    def why(self, top: int = 3) -> str:
        """"SPE 41.2 > 18.5: xmeas_1 61 %, xmv_3 24 %" — or the statistics against their limits."""
        if not self.anomaly:
            return f"T² and SPE within their limits (score {self.score:.2f})"
        shares = ", ".join(f"{name} {share:.0%}" for name, share in list(self.contributions.items())[:top])
        return f"{self.rule} beyond its limit (score {self.score:.2f}): {shares}"


@dataclass
class _Fit:
    mean: np.ndarray
    scale: np.ndarray
    loadings: np.ndarray      # p × k
    eigenvalues: np.ndarray   # k

    def statistics(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """T² and SPE of each row of ``x`` (n × p), in raw units."""
        z = (x - self.mean) / self.scale
        t = z @ self.loadings
        t2 = np.sum(t * t / self.eigenvalues, axis=1)
        residual = z - t @ self.loadings.T
        return t2, np.sum(residual * residual, axis=1)


def _fit(x: np.ndarray, variance: float) -> _Fit:
    mean = x.mean(axis=0)
    scale = x.std(axis=0, ddof=1)
    # A sensor that never moved in normal operation: any change of it is off-plane, at its own unit scale.
    scale = np.where(scale > 1e-12 * np.maximum(np.abs(mean), 1.0), scale, np.maximum(np.abs(mean), 1.0) * 1e-3)
    z = (x - mean) / scale
    _, singular, vt = np.linalg.svd(z, full_matrices=False)
    eigenvalues = singular ** 2 / (len(x) - 1)
    explained = np.cumsum(eigenvalues) / eigenvalues.sum()
    k = int(np.searchsorted(explained, variance - 1e-12) + 1)
    k = max(1, min(k, len(eigenvalues)))
    return _Fit(mean, scale, vt[:k].T, np.maximum(eigenvalues[:k], 1e-12))


class PCAMonitor:
    """PCA fitted on normal rows; T² and SPE limits at ``alpha`` from held-back normal rows.

    >>> rng = np.random.default_rng(0)
    >>> common = rng.normal(size=(400, 1))
    >>> normal = np.hstack([common + 0.1 * rng.normal(size=(400, 1)), 2 * common + 0.1 * rng.normal(size=(400, 1)),
    ...                     rng.normal(size=(400, 1))])
    >>> m = PCAMonitor(["a", "b", "c"]).fit(normal)
    >>> m.components, round(sum(m.judge(r).anomaly for r in normal) / 400, 2) <= 0.03
    (2, True)
    >>> broken = m.judge([1.0, -2.0, 0.0])           # a and b move against each other: off the plane
    >>> broken.rule, list(broken.contributions)[:2] in (["b", "a"], ["a", "b"])
    ('SPE', True)
    """

    def __init__(self, columns: Sequence[str], variance: float = DEFAULT_VARIANCE, alpha: float = DEFAULT_ALPHA,
                 folds: int = DEFAULT_FOLDS):
        if not 0.0 < variance <= 1.0:
            raise ValueError("variance must be in (0, 1]")
        if not 0.0 < alpha < 1.0:
            raise ValueError("alpha must be in (0, 1)")
        self.columns = list(columns)
        self.variance, self.alpha, self.folds = variance, alpha, max(2, int(folds))
        self.model: Optional[_Fit] = None
        self.t2_limit = self.spe_limit = float("nan")

    @property
    def components(self) -> int:
        return 0 if self.model is None else self.model.loadings.shape[1]

    def fit(self, rows) -> "PCAMonitor":
        x = np.asarray(rows, dtype=float)
        if x.ndim != 2 or x.shape[1] != len(self.columns):
            raise ValueError(f"expected rows of {len(self.columns)} values, got shape {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("the normal rows contain missing or infinite values")
        if len(x) < max(MIN_ROWS, 2 * self.folds):
            raise NotEnoughRows(f"needs at least {max(MIN_ROWS, 2 * self.folds)} normal rows, has {len(x)}")
        held_t2, held_spe = self.held_back(x)
        q = 1.0 - self.alpha / 2.0
        self.t2_limit = max(float(np.quantile(held_t2, q)), 1e-12)
        self.spe_limit = float(np.quantile(held_spe, q))
        self.model = _fit(x, self.variance)
        if self.components == len(self.columns) or self.spe_limit <= 1e-12:
            # Every direction is in the model (one sensor, or variance 1): nothing lies off its plane, so
            # SPE is 0 by construction and only T² judges.
            self.spe_limit = math.inf
        return self

    def held_back(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """T² and SPE of every row of ``x``, each judged by a model fitted without its block (in row order)."""
        parts = []
        for block in np.array_split(np.arange(len(x)), self.folds):
            keep = np.ones(len(x), dtype=bool)
            keep[block] = False
            parts.append(_fit(x[keep], self.variance).statistics(x[block]))
        return np.concatenate([t2 for t2, _ in parts]), np.concatenate([spe for _, spe in parts])

    def statistics(self, rows) -> tuple[np.ndarray, np.ndarray]:
        """T² and SPE for many rows at once (n × p)."""
        if self.model is None:
            raise RuntimeError("fit the monitor on normal rows first")
        return self.model.statistics(np.atleast_2d(np.asarray(rows, dtype=float)))

    def judge(self, row, t2: Optional[float] = None, spe: Optional[float] = None) -> PCAVerdict:
        """One row's verdict with the sensors' shares of the statistic that alarmed.

        ``t2``/``spe`` given (e.g. smoothed by the caller) are judged instead of the row's own.
        """
        raw_t2, raw_spe = self.statistics(row)
        t2 = float(raw_t2[0]) if t2 is None else t2
        spe = float(raw_spe[0]) if spe is None else spe
        over_t2, over_spe = t2 > self.t2_limit, spe > self.spe_limit
        score = max(t2 / self.t2_limit, spe / self.spe_limit)
        if not (over_t2 or over_spe):
            return PCAVerdict(t2, spe, False, None, score)
        rule = "T² and SPE" if over_t2 and over_spe else ("T²" if over_t2 else "SPE")
        by_spe = over_spe and (not over_t2 or spe / self.spe_limit >= t2 / self.t2_limit)
        return PCAVerdict(t2, spe, True, rule, score, self.contributions(row, "SPE" if by_spe else "T²"))

    def contributions(self, row, statistic: str = "SPE") -> dict[str, float]:
        """Each sensor's share of ``statistic`` ("SPE" or "T²") for ``row``, largest first."""
        m = self.model
        z = (np.asarray(row, dtype=float) - m.mean) / m.scale
        if statistic == "SPE":
            residual = z - (z @ m.loadings) @ m.loadings.T
            parts = residual * residual
        else:
            parts = np.clip(z * (m.loadings @ ((z @ m.loadings) / m.eigenvalues)), 0.0, None)
        total = float(parts.sum())
        if total <= 0.0:
            return {}
        order = np.argsort(-parts)
        return {self.columns[j]: float(parts[j] / total) for j in order if parts[j] > 0.0}
