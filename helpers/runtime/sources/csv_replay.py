"""CSV replay: an uploaded series played into sensors at 1×–1000× speed, looping or not — a real incident for a class.

A ``timestamp,value`` file feeds the sensor named in the settings; a file with
several value columns feeds one sensor per column, named by its header. The
readings carry the time they are played at, so the line looks live; the spacing
is the file's, divided by the speed.
"""
from __future__ import annotations

import statistics
from typing import Any, Mapping

from helpers.runtime.sources.base import ConfigError, PullSource, Reading, SourceError

MAX_SPEED = 1000.0


class CsvReplay(PullSource):
    kind = "csv_replay"
    label = "CSV replay"
    needs_payload = True
    fields = {
        "sensor": (str, "replay", "the sensor a timestamp,value file feeds (a multi-column file: its headers)"),
        "speed": (float, 1.0, "1 = real time, up to 1000 times faster"),
        "loop": (bool, True, "start again at the end"),
    }

    @classmethod
    def validate(cls, raw: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
        out = super().validate(raw, previous)
        if not 1.0 <= out["speed"] <= MAX_SPEED:
            raise ConfigError("speed", f"speed must be between 1 and {MAX_SPEED:g}")
        if not out["sensor"]:
            raise ConfigError("sensor", "name the sensor the replay feeds")
        return out

    @property
    def interval_s(self) -> float:
        return 0.2

    def __init__(self, config, clock, payload=None):
        super().__init__(config, clock, payload)
        self.start_wall = None
        self.index = 0
        if payload:
            times = payload["times"]
            gaps = [b - a for a, b in zip(times, times[1:]) if b > a]
            self.gap = statistics.median(gaps) if gaps else 1.0

    def _sensors(self) -> list[tuple[str, list[float]]]:
        columns = self.payload["columns"]
        if list(columns) == ["value"]:
            return [(self.config["sensor"], columns["value"])]
        return list(columns.items())

    def poll(self) -> list[Reading]:
        if not self.payload:
            raise SourceError("no file uploaded yet: upload a CSV to replay")
        times, speed = self.payload["times"], float(self.config["speed"])
        now = self.clock()
        if self.start_wall is None:
            self.start_wall = now
        out = []
        sensors = self._sensors()
        while True:
            if self.index >= len(times):
                if not self.config["loop"]:
                    break
                # The next round starts one typical gap after the last row, so the spacing stays regular.
                self.start_wall += (times[-1] - times[0] + self.gap) / speed
                self.index = 0
            played_at = self.start_wall + (times[self.index] - times[0]) / speed
            if played_at > now:
                break
            out.extend(Reading(name, played_at, values[self.index]) for name, values in sensors)
            self.index += 1
        return out

    def test(self) -> str:
        if not self.payload:
            raise SourceError("no file uploaded yet: upload a CSV to replay")
        times = self.payload["times"]
        span = times[-1] - times[0]
        names = ", ".join(name for name, _ in self._sensors())
        return (f"{self.payload.get('name', 'file')}: {len(times):,} rows over {_duration(span)} into {names}; "
                f"at {self.config['speed']:g}× it plays in {_duration(span / self.config['speed'])}")


def _duration(seconds: float) -> str:
    """``42 s``, ``3.5 min``, ``1.0 h``, ``2.0 days``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} days"
