"""What a detector's settings would have done on a stretch of a sensor's history: flags, alerts, shifts, chance.

Pure: the runtime loads the readings and scenarios; this module re-runs the
z-score, re-thresholds stored LSTM errors, and counts. An *alert* here is an
incident: a flag that follows ``alert_gap_s`` seconds without one (one message
per incident, as a cooldown gives).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from helpers.core.evaluation.scorecard import DEFAULT_GRACE_S, Event, score
from helpers.core.detectors.zscore import ZScoreDetector

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Shift:
    name: str
    start_minute: int  # minutes after local midnight

    @property
    def start(self) -> str:
        return f"{self.start_minute // 60:02d}:{self.start_minute % 60:02d}"


def parse_shifts(spec: str) -> list[Shift]:
    """``"06:00 Early,14:00 Late,22:00 Night"`` → shifts sorted by start; a ValueError says what is wrong.

    >>> [(s.name, s.start) for s in parse_shifts("22:00 Night, 06:00 Early,14:00 Late")]
    [('Early', '06:00'), ('Late', '14:00'), ('Night', '22:00')]
    """
    shifts = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        clock, _, name = part.partition(" ")
        hours, _, minutes = clock.partition(":")
        if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
            raise ValueError(f"shift {part!r}: expected 'HH:MM name'")
        shifts.append(Shift(name.strip() or clock, int(hours) * 60 + int(minutes)))
    if not shifts:
        raise ValueError("no shifts given")
    return sorted(shifts, key=lambda s: s.start_minute)


def zscore_flags(warm_up: Sequence[float], values: Sequence[float], settings: Mapping,
                 progress: Optional[Progress] = None) -> np.ndarray:
    """Re-run the z-score with ``settings`` over ``values``, after learning from ``warm_up`` (the readings before)."""
    detector = ZScoreDetector(int(settings["model_size"]), float(settings["z_threshold"]),
                              int(settings["relearn_after"]))
    for x in warm_up:
        detector.update(x)
    flags = np.zeros(len(values), dtype=bool)
    for i, x in enumerate(values):
        flags[i] = detector.update(x).anomaly
        if progress and i % 20_000 == 0:
            progress(i, len(values))
    return flags


def lstm_flags(errors: Sequence[Optional[float]], thresholds: Sequence[Optional[float]], scale: float) -> np.ndarray:
    """Stored reconstruction errors against their stored thresholds times ``scale`` (the new rule / the old)."""
    err = np.array([np.nan if e is None else e for e in errors], dtype=np.float64)
    thr = np.array([np.nan if t is None else t for t in thresholds], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(err > thr * scale, nan=False).astype(bool)


def alert_starts(times: np.ndarray, flags: np.ndarray, gap_s: float) -> np.ndarray:
    """Flags that open an incident: the first, and each that follows ``gap_s`` seconds without a flag.

    >>> alert_starts(np.array([0., 1, 2, 100, 101]), np.array([1, 1, 0, 1, 1], bool), 60).tolist()
    [True, False, False, True, False]
    """
    flagged = np.flatnonzero(flags)
    starts = np.zeros(len(flags), dtype=bool)
    if flagged.size:
        t = times[flagged]
        starts[flagged[np.concatenate(([True], np.diff(t) >= gap_s))]] = True
    return starts


def shift_index(times: np.ndarray, shifts: Sequence[Shift]) -> np.ndarray:
    """Which shift each time (epoch seconds, read in the server's local time) falls in."""
    minutes = np.array([(lt.tm_hour * 60 + lt.tm_min) for lt in map(time.localtime, times)], dtype=np.int64)
    starts = np.array([s.start_minute for s in shifts])
    # Before the first start of the day is the last shift, carried over midnight.
    return (np.searchsorted(starts, minutes, side="right") - 1) % len(shifts)


def chance(flag_rate: float, times: np.ndarray, events: Sequence[Event], grace_s: float) -> dict:
    """How many events a detector flagging the same share of readings at random would catch, on average."""
    per_event = []
    for e in events:
        n = int(((times >= e.starts_at) & (times <= e.ends_at + grace_s)).sum())
        per_event.append({"scenario_id": e.scenario_id, "readings": n, "p_caught": 1.0 - (1.0 - flag_rate) ** n})
    return {"flag_rate": flag_rate, "events": len(events),
            "expected_caught": float(sum(p["p_caught"] for p in per_event)), "per_event": per_event}


def summarise(times: np.ndarray, flags: np.ndarray, events: Sequence[Event], sensor: str, hours: float,
              gap_s: float, now: float, grace_s: float = DEFAULT_GRACE_S) -> dict:
    alerts = alert_starts(times, flags, gap_s)
    n_flags, n_alerts = int(flags.sum()), int(alerts.sum())
    rate = n_flags / len(flags) if len(flags) else 0.0
    card = score(events, {sensor: times[flags].tolist()}, now, grace_s)
    return {"anomalies": n_flags, "alerts": n_alerts,
            "anomalies_per_hour": n_flags / hours if hours else None,
            "alerts_per_hour": n_alerts / hours if hours else None,
            "flag_rate": rate, "scenarios": card, "_chance": chance(rate, times, events, grace_s),
            "_alerts": alerts}


def compare(times: np.ndarray, current: np.ndarray, proposed: np.ndarray, events: Sequence[Event], sensor: str,
            shifts: Sequence[Shift], gap_s: float, now: float) -> dict:
    """The current and proposed flags side by side: totals, per hour, per shift, scenarios and chance."""
    span_h = (times[-1] - times[0]) / 3600.0 if len(times) > 1 else 0.0
    hours = max(span_h, 1 / 3600.0) if len(times) else 0.0
    sides = {"current": summarise(times, current, events, sensor, hours, gap_s, now),
             "proposed": summarise(times, proposed, events, sensor, hours, gap_s, now)}
    alerts = {side: out.pop("_alerts") for side, out in sides.items()}
    by_chance = {side: out.pop("_chance") for side, out in sides.items()}
    flags = {"current": current, "proposed": proposed}
    hour_of = np.floor(times / 3600.0) * 3600.0
    hourly = []
    for hour in np.unique(hour_of):
        rows = hour_of == hour
        hourly.append({"hour": float(hour), "readings": int(rows.sum()),
                       **{f"{side}_anomalies": int(flags[side][rows].sum()) for side in flags},
                       **{f"{side}_alerts": int(alerts[side][rows].sum()) for side in flags}})
    which = shift_index(times, shifts) if len(times) else np.zeros(0, dtype=np.int64)
    per_reading_h = hours / len(times) if len(times) else 0.0
    by_shift = []
    for i, shift in enumerate(shifts):
        rows = which == i
        end = shifts[(i + 1) % len(shifts)].start
        shift_hours = float(rows.sum()) * per_reading_h
        by_shift.append({"name": shift.name, "start": shift.start, "end": end, "readings": int(rows.sum()),
                         "hours": shift_hours,
                         **{f"{side}_anomalies": int(flags[side][rows].sum()) for side in flags},
                         **{f"{side}_alerts": int(alerts[side][rows].sum()) for side in flags}})
    return {**sides, "hours": span_h, "hourly": hourly, "shifts": by_shift,
            "chance": by_chance}
