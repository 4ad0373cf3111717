"""The session scorecard: how a detector did on the injected scenarios (the ground truth).

* An injected event is **caught** when the detector flags a reading of its
  sensor between its start and ``grace_s`` after its end; the detection delay
  is the time from the start to the first such flag.
* It is **pending** while that window is still open, and **missed** after.
* A flag outside every event window of its sensor is a false alarm; flags
  closer than ``grace_s`` to the previous one form one false alarm, so a burst
  counts once, as an operator would count it.
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

DEFAULT_GRACE_S = 5.0


@dataclass(frozen=True)
class Event:
    scenario_id: int
    sensor: str
    kind: str
    starts_at: float
    ends_at: float


def score(events: Sequence[Event], flags: Mapping[str, Sequence[float]], now: float,
          grace_s: float = DEFAULT_GRACE_S) -> dict:
    """Score flag times (sorted, per sensor) against the events.

    >>> events = [Event(1, "vibration", "spike", 10.0, 12.0)]
    >>> card = score(events, {"vibration": [3.0, 3.5, 11.0, 40.0]}, now=60.0)
    >>> card["caught"], card["missed"], card["false_alarms"], card["mean_delay_s"]
    (1, 0, 2, 1.0)
    """
    details = []
    delays = []
    for event in sorted(events, key=lambda e: e.starts_at):
        times = flags.get(event.sensor, ())
        i = bisect_left(times, event.starts_at)
        first: Optional[float] = times[i] if i < len(times) and times[i] <= event.ends_at + grace_s else None
        if first is not None:
            status, delay = "caught", first - event.starts_at
            delays.append(delay)
        else:
            status, delay = ("pending" if now < event.ends_at + grace_s else "missed"), None
        details.append({"scenario_id": event.scenario_id, "sensor": event.sensor, "kind": event.kind,
                        "starts_at": event.starts_at, "ends_at": event.ends_at, "status": status,
                        "delay_s": delay})
    counts = {status: sum(d["status"] == status for d in details) for status in ("caught", "missed", "pending")}
    return {
        "events": len(details), **counts,
        "false_alarms": _false_alarms(events, flags, grace_s),
        "mean_delay_s": sum(delays) / len(delays) if delays else None,
        "details": details,
    }


def _false_alarms(events: Sequence[Event], flags: Mapping[str, Sequence[float]], grace_s: float) -> int:
    windows: dict[str, list[tuple[float, float]]] = {}
    for e in events:
        windows.setdefault(e.sensor, []).append((e.starts_at, e.ends_at + grace_s))
    count = 0
    for sensor, times in flags.items():
        spans = windows.get(sensor, [])
        previous: Optional[float] = None
        for t in times:
            if any(lo <= t <= hi for lo, hi in spans):
                continue
            if previous is None or t - previous > grace_s:
                count += 1
            previous = t
    return count
