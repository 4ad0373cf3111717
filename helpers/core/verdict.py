"""Which detectors' verdicts count on a reading, decided once: the sampler stores the decision, the API sends it.

A sensor's ``verdict_source`` is one of the combined sources below or the name of
a chosen detector (a preset), whose flag alone then counts.
"""
from __future__ import annotations

from typing import Mapping, NamedTuple, Optional

# The combined verdict sources, each with what it means (the dashboard shows the text).
VERDICT_SOURCES: dict[str, str] = {
    "zscore": "the z-score alone; the LSTM's flags are shown but do not count.",
    "lstm": "the LSTM alone (the z-score stands in while the LSTM cannot judge yet).",
    "either": "a reading is an anomaly when either detector flags it.",
    "both": "a reading is an anomaly only when both flag it (one that cannot judge yet abstains).",
}


class Decision(NamedTuple):
    """The verdict that counts (None when no counted detector could judge), whose votes counted, and
    whether the detectors that judged split (some flagged the reading, some did not)."""

    anomaly: Optional[bool]
    counted: tuple[str, ...]
    disagree: bool


def decide(source: str, z: Optional[bool], lstm: Optional[bool],
           others: Optional[Mapping[str, Optional[bool]]] = None) -> Decision:
    """The decision under ``source`` from each detector's flag (None: it cannot judge yet, it abstains).

    ``z`` is the z-score's flag, ``lstm`` the LSTM's, ``others`` the other chosen
    detectors' by name. A ``source`` naming one of ``others`` takes its flag; while
    it warms up (or for an unknown source) the z-score's counts.

    >>> decide("zscore", True, False)
    Decision(anomaly=True, counted=('zscore',), disagree=True)
    >>> decide("both", True, False), decide("either", True, False)[:2]
    (Decision(anomaly=False, counted=('zscore', 'lstm'), disagree=True), (True, ('zscore', 'lstm')))
    >>> decide("lstm", True, None), decide("lstm", True, False)[:2]
    (Decision(anomaly=True, counted=('zscore',), disagree=False), (False, ('lstm',)))
    >>> decide("knn", True, None, {"knn": False}), decide("knn", True, None, {"knn": None})
    (Decision(anomaly=False, counted=('knn',), disagree=True), Decision(anomaly=True, counted=('zscore',), disagree=False))
    >>> decide("zscore", None, None)
    Decision(anomaly=None, counted=(), disagree=False)
    """
    others = others or {}
    judged = {flag for flag in (z, lstm, *others.values()) if flag is not None}
    split = len(judged) > 1
    if source not in VERDICT_SOURCES and others.get(source) is not None:
        return Decision(others[source], (source,), split)
    if source not in VERDICT_SOURCES:
        source = "zscore"
    votes = {}
    if (source != "lstm" or lstm is None) and z is not None:
        votes["zscore"] = z
    if source != "zscore" and lstm is not None:
        votes["lstm"] = lstm
    if not votes:
        return Decision(None, (), split)
    anomaly = all(votes.values()) if source == "both" else any(votes.values())
    return Decision(anomaly, tuple(votes), split)
