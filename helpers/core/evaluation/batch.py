"""Run a detector causally over a whole series: the path `flask score` (and later `flask evaluate`) share."""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence

from helpers.core.detectors.contract import run
from helpers.core.detectors.likelihood import ALARM, AnomalyLikelihood, SeenRange, log_likelihood
from helpers.core.detectors.ensemble import is_spec
from helpers.core.detectors.mspc import DEFAULT_ALPHA, DEFAULT_VARIANCE, NotEnoughRows, PCAMonitor
from helpers.core.detectors.presets import PRESETS, alarm, make, needs_timestamps, uses_timestamps
from helpers.core.detectors.robust_zscore import z_to_unit
from helpers.core.lstm.windows import NotEnoughDataError, as_table
from helpers.core.detectors.zscore import ZScoreDetector, z_to_score

# Share of a series the lstm detector trains on when the caller does not say.
LSTM_TRAIN_SHARE = 0.15


def _zscore(values: Iterable[float], options: Mapping[str, Any]) -> Iterator[tuple[float, bool]]:
    detector = ZScoreDetector(options.get("model_size", 100), options.get("z_threshold", 3.0),
                              options.get("relearn_after", 30))
    for x in values:
        verdict = detector.update(x)
        yield z_to_score(verdict.z), verdict.anomaly


def _zscore_alarm(values: Iterable[float], options: Mapping[str, Any]) -> Iterator[tuple[float, bool]]:
    """The same live z-score's excursion alarms (:mod:`helpers.core.detectors.zscore_alarm`): 1 at an alarm, else 0.

    The alarm is a yes or no, so its score is too: a threshold sweep has nothing to pick.
    """
    detector = ZScoreDetector(options.get("model_size", 100), options.get("z_threshold", 3.0),
                              options.get("relearn_after", 30))
    for x in values:
        alarm = detector.update(x).alarm
        yield (1.0 if alarm else 0.0), alarm


def _lstm(values: Iterable, options: Mapping[str, Any]) -> list[tuple[float, bool]]:
    """Train on the first rows (taken as normal), then score the rest causally.

    ``values`` are numbers or rows of numbers (one model over all columns).
    Options: ``train_rows`` (default 15 % of the series), ``time_steps``,
    ``epochs``, ``seed``, ``device``, ``progress``, ``smoothing``, ``alpha``. Training rows yield
    ``(0.0, False)``; the others ``error / (error + threshold)`` (0.5 at the
    threshold) and the flag. Too few rows → NotEnoughDataError.
    """
    return [(score, flag) for score, flag, _ in lstm_verdicts(values, options)]


def _lstm_likelihood(values: Iterable, options: Mapping[str, Any]) -> list[tuple[float, bool]]:
    """The LSTM's score post-processed as the z-score family's is: its anomaly likelihood (NAB/HTM), and 1 for a
    reading beyond the whole range seen so far (the new-extreme rule). It trains on the first
    ``max(15 %, the fewest rows it can train on)`` rows (or ``train_rows``); those and the likelihood's
    learning rows score 0. A flag is a log-likelihood at or above the alarm level."""
    from helpers.core.lstm.windows import minimum_readings

    values = list(values)
    if not options.get("train_rows"):
        least = minimum_readings(options.get("time_steps", 15), 0.2)
        options = {**options, "train_rows": max(math.ceil(LSTM_TRAIN_SHARE * len(values)), least)}
    scored = lstm_verdicts(values, options)
    likelihood, seen = AnomalyLikelihood(), SeenRange(0.05)
    out = []
    for i, (x, (score, _flag, _why)) in enumerate(zip(values, scored)):
        extreme = seen.beyond(float(x) if not isinstance(x, (list, tuple)) else max(x))
        if i < options["train_rows"]:
            out.append((0.0, False))
            continue
        probability = likelihood.update(score)
        value = 0.0 if probability is None else (1.0 if extreme else log_likelihood(probability))
        out.append((value, value >= ALARM))
    return out


def _training_rows(table, options: Mapping[str, Any]) -> int:
    """How many first rows are taken as normal: ``train_rows``, else 15 % of them; some must be left to score."""
    train_rows = options.get("train_rows") or math.ceil(LSTM_TRAIN_SHARE * len(table))
    if train_rows >= len(table):
        raise NotEnoughDataError(f"training on {train_rows} of {len(table)} rows leaves none to score")
    return train_rows


def _train_lstm(rows, options: Mapping[str, Any]):
    """The autoencoder trained on ``rows`` with the batch options (its threshold at ``alpha`` on held-out rows)."""
    # torch loads only when an LSTM runs, not in every process that imports the batch path.
    from helpers.core.lstm.trainer import train

    return train(rows, time_steps=options.get("time_steps", 15), epochs=options.get("epochs", 20),
                 seed=options.get("seed"), device=options.get("device", "auto"), progress=options.get("progress"),
                 smoothing=options.get("smoothing", 1.0), percentile=100.0 * (1.0 - options.get("alpha", 0.01)),
                 calibration_folds=options.get("calibration_folds", 1))


def _fit_monitor(rows, options: Mapping[str, Any], columns: Optional[Sequence[str]] = None) -> PCAMonitor:
    """MSPC fitted on ``rows`` with the batch options; NotEnoughDataError when they are too few."""
    columns = list(columns) if columns else [f"x{j + 1}" for j in range(rows.shape[1])]
    monitor = PCAMonitor(columns, options.get("variance", DEFAULT_VARIANCE), options.get("alpha", DEFAULT_ALPHA))
    try:
        return monitor.fit(rows)
    except NotEnoughRows as error:
        raise NotEnoughDataError(str(error)) from None


def lstm_verdicts(values: Iterable, options: Mapping[str, Any],
                  columns: Optional[Sequence[str]] = None) -> list[tuple[float, bool, str]]:
    """:func:`_lstm`'s ``(score, flag)`` with, for each flag, which sensors' reconstruction error drove it
    ("error 0.84 > 0.31: xmeas_7 41 %, xmeas_13 22 %"); "" for the others."""
    from helpers.core.lstm.scorer import LSTMScorer, error_to_score

    table = as_table(list(values))
    train_rows = _training_rows(table, options)
    time_steps = options.get("time_steps", 15)
    try:
        trained = _train_lstm(table[:train_rows], options)
    except NotEnoughDataError as error:
        raise NotEnoughDataError(f"training on the first {train_rows} of {len(table)} rows: {error}") from None
    scorer = LSTMScorer(trained)
    scorer.score_series(table[train_rows - time_steps + 1:train_rows])  # the window before the first scored row
    names = list(columns) if columns else [f"x{j + 1}" for j in range(table.shape[1])]
    out = [(0.0, False, "")] * train_rows
    for i, v in enumerate(scorer.score_series(table[train_rows:]), start=train_rows):
        why = ""
        if v.anomaly and table.shape[1] > 1:
            shares = scorer.sensor_shares(table[i - time_steps + 1:i + 1])
            top = sorted(range(len(names)), key=lambda j: -shares[j])[:3]
            why = f"error {v.error:.3g} > {scorer.threshold:.3g}: " + ", ".join(
                f"{names[j]} {shares[j]:.0%}" for j in top)
        out.append((error_to_score(v.error, scorer.threshold), v.anomaly, why))
    return out


def mspc_verdicts(values: Iterable, options: Mapping[str, Any], columns: Optional[Sequence[str]] = None) -> list:
    """PCA T²/SPE (:mod:`helpers.core.detectors.mspc`) fitted on the first rows (taken as normal), then each
    later row judged; training rows give None. Options: ``train_rows`` (default 15 %), ``variance``,
    ``alpha`` (the false-alarm rate its limits are set at)."""
    table = as_table(list(values))
    train_rows = _training_rows(table, options)
    try:
        monitor = _fit_monitor(table[:train_rows], options, columns)
    except NotEnoughDataError as error:
        raise NotEnoughDataError(f"training on the first {train_rows} of {len(table)} rows: {error}") from None
    return [None] * train_rows + [monitor.judge(row) for row in table[train_rows:]]


def _mspc(values: Iterable, options: Mapping[str, Any]) -> list[tuple[float, bool]]:
    """MSPC as a batch detector: ``s / (1 + s)`` with ``s`` the larger statistic over its limit (0.5 at it)."""
    return [(0.0, False) if v is None else (v.unit_score, v.anomaly) for v in mspc_verdicts(values, options)]


def judge_runs(detector: str, normal: Sequence[Sequence[float]], runs: Sequence[Sequence[Sequence[float]]],
               options: Mapping[str, Any]) -> list[list[tuple[float, bool]]]:
    """A multivariate detector fitted once on ``normal`` rows, then each run judged on its own from its first
    row (a run's rows before its first full window give ``(0.0, False)``)."""
    normal = as_table(list(normal))
    if detector == "mspc":
        monitor = _fit_monitor(normal, options)
        return [[(v.unit_score, v.anomaly) for v in map(monitor.judge, as_table(list(rows)))] for rows in runs]
    if detector == "lstm":
        from helpers.core.lstm.scorer import LSTMScorer, error_to_score

        trained = _train_lstm(normal, options)
        out = []
        for rows in runs:
            scorer = LSTMScorer(trained)
            out.append([(error_to_score(v.error, scorer.threshold), v.anomaly)
                        for v in scorer.score_series(as_table(list(rows)))])
        return out
    raise ValueError(f"{detector} is not a multivariate detector fitted on normal rows")


def _preset(name: str) -> Callable[[Iterable, Mapping[str, Any]], Iterator[tuple[float, bool]]]:
    """A z-score-family preset (:mod:`helpers.core.detectors.presets`) as a batch detector.

    Readings before it is ready yield ``(0.0, False)``. The flag: a log-likelihood at
    or above :data:`~helpers.core.detectors.likelihood.ALARM` for ``+likelihood``
    presets, else |z| above ``z_threshold`` (default 3); ``knn`` and ensembles flag at
    :func:`~helpers.core.detectors.presets.alarm`. Seasonal presets read
    ``options["timestamps"]`` (one per value) and refuse to run without them; ``forecast``
    presets read them when given.
    """
    def detect(values: Iterable, options: Mapping[str, Any]) -> Iterator[tuple[float, bool]]:
        timestamps = options.get("timestamps")
        seasonal = needs_timestamps(name)
        if seasonal and timestamps is None:
            raise ValueError(f"{name} judges each reading against the same time of day: it needs timestamps")
        detector = make(name)
        if name.endswith("+likelihood"):
            def flag(score: float) -> bool:
                return score >= ALARM
        elif hasattr(detector, "z_half"):
            cut = z_to_unit(options.get("z_threshold", 3.0), detector.z_half)

            def flag(score: float) -> bool:
                return score > cut
        else:
            level = alarm(name, options.get("z_threshold", 3.0))

            def flag(score: float) -> bool:
                return score >= level
        scores = run(detector, values, timestamps if seasonal or uses_timestamps(name) else None)
        return ((0.0, False) if score is None else (score, flag(score)) for score in scores)
    return detect


DETECTORS: dict[str, Callable[[Iterable, Mapping[str, Any]], Iterable[tuple[float, bool]]]] = {
    "zscore": _zscore,
    "zscore_alarm": _zscore_alarm,
    "lstm": _lstm,
    "lstm+likelihood": _lstm_likelihood,
    "mspc": _mspc,
    **{name: _preset(name) for name in PRESETS},
}

# Detectors that take several value columns at once (one row of numbers per reading).
MULTIVARIATE = {"lstm", "mspc"}


def score_series(values: Iterable, detector: str, options: Mapping[str, Any],
                 timestamps: Optional[Sequence[str]] = None) -> Iterable[tuple[float, bool]]:
    """``(score, anomaly)`` per value, in order; each sees only the values before it (and itself).

    ``timestamps`` (one per value, as read) reach the detector as ``options["timestamps"]``;
    only the seasonal presets use them. Besides the registered names, ``detector`` may be an
    ensemble spec such as ``max:a,b`` or ``vote2:a,b,c`` over the presets.
    """
    if timestamps is not None:
        options = {**options, "timestamps": timestamps}
    if detector not in DETECTORS and is_spec(detector):
        return _preset(detector)(values, options)
    return DETECTORS[detector](values, options)
