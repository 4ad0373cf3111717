"""What each named detector is, in one line a student can read, and what it can do live."""
from __future__ import annotations

from typing import Any

from helpers.core.detectors.presets import ENSEMBLES, PRESETS, alarm, needs_timestamps

DESCRIPTIONS: dict[str, str] = {
    "robust_zscore": "distance from the median of the last 300 readings, in robust standard deviations (MAD)",
    "robust_zscore_seasonal": "as robust_zscore, against the median of the same time of day when there is a daily cycle",
    "zscore+likelihood": "the live z-score, turned into how unusual its recent scores are (anomaly likelihood)",
    "robust_zscore+likelihood": "robust_zscore, turned into an anomaly likelihood: few, early alarms",
    "robust_zscore_seasonal+likelihood": "the seasonal robust z-score, turned into an anomaly likelihood",
    "knn": "how far the last 10 readings are from their nearest similar stretches seen before",
    "knn+likelihood": "knn, turned into an anomaly likelihood",
    "multiview_seasonal+likelihood": "the level against the tightest of recent, time-of-day and time-of-week "
                                     "baselines, as an anomaly likelihood, with an early new-extreme rule and a "
                                     "hold-off after each alarm (the best on NAB)",
    "forecast": "the error of a SARIMA + LSTM one-step forecast, in robust standard deviations of past errors",
    "forecast+likelihood": "the forecast error, turned into an anomaly likelihood",
}


def describe(name: str) -> str:
    """A detector's one-line description; an ensemble names its members."""
    if name in ENSEMBLES:
        kind, _, members = ENSEMBLES[name].partition(":")
        rule = "the largest score of" if kind == "max" else f"alarms when {kind[4:]} of these agree:"
        return f"{rule} {members.replace(',', ', ')}"
    return DESCRIPTIONS.get(name, name)


def entries(z_threshold: float = 3.0) -> list[dict[str, Any]]:
    """Every detector the sampler can run live, with its description, alarm level and needs.

    >>> [e["name"] for e in entries()][:2]
    ['robust_zscore', 'robust_zscore_seasonal']
    """
    return [{"name": name, "description": describe(name), "alarm": alarm(name, z_threshold),
             "likelihood": name.endswith("+likelihood"), "seasonal": needs_timestamps(name),
             "forecasts": "forecast" in name}
            for name in PRESETS]
