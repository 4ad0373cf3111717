"""Per-row window membership and unweighted sweep scores of one file, as NAB v1.1's sweeper sees them."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from helpers.core.evaluation.nab.sigmoid import scaled_sigmoid

PROBATIONARY_PERCENT = 0.15
#: ``window`` value of a row outside every window (a detection there is a false positive).
OUTSIDE = -1
#: ``window`` value of a row in the probationary period (never scored).
PROBATIONARY = -2


def probationary_length(num_rows: int, percent: float = PROBATIONARY_PERCENT) -> float:
    """Rows at the start of a file that are not scored: ``min(floor(p * n), p * 5000)`` (750 at most).

    >>> probationary_length(4032), probationary_length(22695)
    (604, 750.0)
    """
    return min(math.floor(percent * num_rows), percent * 5000)


def window_indices(timestamps: Sequence[str], windows: Sequence[tuple]) -> list[tuple[int, int]]:
    """Map each ``(start, end)`` window to ``(first_row, last_row)``, matching timestamps exactly.

    Timestamps compare as text of the form ``YYYY-MM-DD HH:MM:SS``; a window's fractional
    seconds (``.000000``) are dropped. Rows are taken in file order (the first occurrence, as
    NAB's ``list.index``), never re-sorted.
    """
    first: dict[str, int] = {}
    for i, ts in enumerate(timestamps):
        first.setdefault(_second(ts), i)
    out = []
    for start, end in windows:
        try:
            left, right = first[_second(start)], first[_second(end)]
        except KeyError as exc:
            raise ValueError(f"window timestamp {exc.args[0]} matches no row") from None
        if right < left:
            raise ValueError(f"window {start} .. {end} ends before it starts")
        out.append((left, right))
    return out


def _second(ts: str) -> str:
    return str(ts).strip()[:19]


@dataclass(frozen=True)
class FileRows:
    """Unweighted sweep parts of one file's rows.

    ``window``: index of the row's window in the file, :data:`OUTSIDE` or :data:`PROBATIONARY`;
    ``tp``: ``scaledSigmoid(position) / scaledSigmoid(-1)`` for rows inside a window (1 at its start);
    ``fp``: the scaled sigmoid of the distance past the preceding window (-1 with none before).
    """
    window: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    num_windows: int


def sweep_parts(num_rows: int, spans: Sequence[tuple[int, int]],
                percent: float = PROBATIONARY_PERCENT) -> FileRows:
    """Compute NAB's per-row sweep parts for a file of ``num_rows`` rows with windows ``spans``.

    Inside a window ``[l, r]`` (width ``w = r - l + 1``) the position of row ``i`` is
    ``-(r - i + 1) / w``; after it, until the next window, ``|i - r| / (w - 1)``.
    """
    idx = np.arange(num_rows)
    window = np.full(num_rows, OUTSIDE, dtype=np.int64)
    tp = np.zeros(num_rows)
    fp = np.full(num_rows, -1.0)
    max_tp = float(scaled_sigmoid(-1.0))
    spans = sorted(spans)
    for (_, prev_right), (next_left, _) in zip(spans, spans[1:]):
        if next_left <= prev_right:
            raise ValueError("label windows overlap")
    for k, (left, right) in enumerate(spans):
        width = float(right - left + 1)
        rows = idx[left:right + 1]
        window[left:right + 1] = k
        tp[left:right + 1] = scaled_sigmoid(-(right - rows + 1) / width) / max_tp
        after_end = spans[k + 1][0] if k + 1 < len(spans) else num_rows
        after = idx[right + 1:after_end]
        with np.errstate(divide="ignore", invalid="ignore"):
            # A one-row window has width - 1 == 0: NAB divides by zero there; treat it as "far".
            pos = np.abs(right - after) / (width - 1) if width > 1 else np.full(after.size, np.inf)
        fp[right + 1:after_end] = scaled_sigmoid(pos)
    fp[window >= 0] = 0.0
    tp[window < 0] = 0.0
    window[idx < probationary_length(num_rows, percent)] = PROBATIONARY
    return FileRows(window=window, tp=tp, fp=fp, num_windows=len(spans))
