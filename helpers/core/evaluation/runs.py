"""Scoring a detector over runs with a known fault onset (or a label column): false alarms, detection, delay.

The process-monitoring protocol (Tennessee Eastman and its kin): each run is normal up to its onset row and
faulty from there on (a run with no onset is normal throughout). Over all runs together:

* **false-alarm rate**: the share of normal rows flagged;
* per faulty run, **detection rate**: the share of faulty rows flagged, and **delay**: rows from the onset
  to the first flag at or after it (None when never flagged);
* the NAB-style event view: a run's fault counts as *caught* when it is flagged at all after its onset.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np


@dataclass(frozen=True)
class RunScore:
    name: str
    rows: int
    onset: Optional[int]              # first faulty row (0-based); None: a normal run
    false_alarms: int                 # flagged rows before the onset
    normal_rows: int
    detection_rate: Optional[float]   # share of faulty rows flagged; None for a normal run
    delay_rows: Optional[int]         # onset to the first flag at or after it


@dataclass(frozen=True)
class RunsSummary:
    runs: list[RunScore]
    false_alarm_rate: float
    mean_detection_rate: float
    caught: int
    faulty: int
    mean_delay_rows: Optional[float]

    def without(self, names: Sequence[str]) -> "RunsSummary":
        """The same summary with some runs' detection left out (e.g. faults known to be invisible);
        their normal rows still count towards the false-alarm rate."""
        return summarise(self.runs, exclude_detection=names)


def score_run(name: str, flags: Sequence[bool], onset: Optional[int]) -> RunScore:
    """One run's figures from its per-row flags.

    >>> r = score_run("d01", [False, True, False, False, True, True], onset=3)
    >>> r.false_alarms, r.normal_rows, round(r.detection_rate, 2), r.delay_rows
    (1, 3, 0.67, 1)
    """
    f = np.asarray(flags, dtype=bool)
    cut = len(f) if onset is None else max(0, min(int(onset), len(f)))
    faulty = f[cut:]
    hits = np.flatnonzero(faulty)
    return RunScore(name=name, rows=len(f), onset=onset, false_alarms=int(f[:cut].sum()), normal_rows=cut,
                    detection_rate=None if onset is None or not len(faulty) else float(faulty.mean()),
                    delay_rows=int(hits[0]) if onset is not None and hits.size else None)


def summarise(runs: Sequence[RunScore], exclude_detection: Sequence[str] = ()) -> RunsSummary:
    """Pooled false-alarm rate over every run's normal rows; detection and delay over the faulty runs."""
    normal = sum(r.normal_rows for r in runs)
    false = sum(r.false_alarms for r in runs)
    faulty = [r for r in runs if r.detection_rate is not None and r.name not in set(exclude_detection)]
    delays = [r.delay_rows for r in faulty if r.delay_rows is not None]
    return RunsSummary(list(runs), false / normal if normal else 0.0,
                       float(np.mean([r.detection_rate for r in faulty])) if faulty else 0.0,
                       len(delays), len(faulty), float(np.mean(delays)) if delays else None)


def onsets_from_labels(labels: Mapping[str, Sequence[int]]) -> dict[str, Optional[int]]:
    """Each run's onset from a 0/1 label column: the first labelled row, None when none is."""
    out = {}
    for name, column in labels.items():
        hits = np.flatnonzero(np.asarray(column, dtype=float) > 0)
        out[name] = int(hits[0]) if hits.size else None
    return out
