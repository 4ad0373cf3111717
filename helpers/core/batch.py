"""Run a detector causally over a whole series: the path `flask score` (and later `flask evaluate`) share."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, Mapping

from helpers.core.zscore import ZScoreDetector, z_to_score


def _zscore(values: Iterable[float], options: Mapping[str, Any]) -> Iterator[tuple[float, bool]]:
    detector = ZScoreDetector(options.get("model_size", 100), options.get("z_threshold", 3.0),
                              options.get("relearn_after", 30))
    for x in values:
        verdict = detector.update(x)
        yield z_to_score(verdict.z), verdict.anomaly


DETECTORS: dict[str, Callable[[Iterable[float], Mapping[str, Any]], Iterator[tuple[float, bool]]]] = {
    "zscore": _zscore,
}


def score_series(values: Iterable[float], detector: str, options: Mapping[str, Any]) -> Iterator[tuple[float, bool]]:
    """``(score, anomaly)`` per value, in order; each sees only the values before it."""
    return DETECTORS[detector](values, options)
