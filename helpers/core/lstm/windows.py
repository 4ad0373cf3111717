"""Readings as a table, standardised per feature, cut into sliding windows; how many a model needs.

numpy only, so callers can check data without loading torch.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Each part of the data must give this many windows: fewer training windows do not
# teach a shape, and with fewer validation windows a high percentile is just their maximum.
MIN_WINDOWS = 50


class NotEnoughDataError(ValueError):
    """Too few readings to train; the message says how many are needed."""


def minimum_readings(time_steps: int, validation_fraction: float) -> int:
    """The fewest readings that give MIN_WINDOWS training and MIN_WINDOWS validation windows."""
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be between 0 and 1, not {validation_fraction}")
    n = 2 * (MIN_WINDOWS + time_steps - 1)
    while not (_windows_in(n - validation_rows(n, validation_fraction), time_steps) >= MIN_WINDOWS
               and _windows_in(validation_rows(n, validation_fraction), time_steps) >= MIN_WINDOWS):
        n += 1
    return n


def validation_rows(n: int, validation_fraction: float) -> int:
    """Readings held out for validation: the last ``validation_fraction``, rounded down."""
    return int(n * validation_fraction)


def _windows_in(rows: int, time_steps: int) -> int:
    return max(rows - time_steps + 1, 0)


def as_table(values, name: str = "values") -> np.ndarray:
    """``[n]`` or ``[n, n_features]`` numbers → a float64 ``[n, n_features]`` array; NaN/inf are refused."""
    table = np.asarray(values, dtype=np.float64)
    if table.ndim == 1:
        table = table.reshape(-1, 1)
    if table.ndim != 2:
        raise ValueError(f"{name} must be one reading per row: shape [n] or [n, n_features], not {table.shape}")
    bad = ~np.isfinite(table)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise ValueError(f"NaN or infinite number in {name} (the first at row {row})")
    return table


def sliding_windows(table: np.ndarray, time_steps: int) -> np.ndarray:
    """Every run of ``time_steps`` consecutive rows, ``[n - time_steps + 1, time_steps, n_features]`` (a view)."""
    if len(table) < time_steps:
        return np.empty((0, time_steps, table.shape[1]))
    return np.lib.stride_tricks.sliding_window_view(table, time_steps, axis=0).transpose(0, 2, 1)


@dataclass(frozen=True)
class Standardiser:
    """Per-feature mean and std of the training data; the model only ever sees standardised readings.

    A feature that never moved in training (std 0) is scaled by 1, so it stays
    finite and any later movement shows up at its real size.
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, table: np.ndarray) -> "Standardiser":
        mean, std = table.mean(axis=0), table.std(axis=0)
        flat = std <= 1e-12 * np.maximum(np.abs(mean), 1.0)
        return cls(mean, np.where(flat, 1.0, std))

    def apply(self, table: np.ndarray) -> np.ndarray:
        return (table - self.mean) / self.std

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> "Standardiser":
        return cls(np.asarray(data["mean"], dtype=np.float64), np.asarray(data["std"], dtype=np.float64))
