"""The session CSV: one file with the session (seed, settings), its scenarios and every reading.

A ``record`` column says what each row is. Replaying needs only the session
and scenario rows: the seed and the scenario offsets reproduce the readings.
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from typing import IO, Any, Iterable, Iterator, Optional

from helpers.core.formats.csv_errors import refuse_unreadable
from helpers.core.line.scenarios import SCENARIO_KINDS
from helpers.core.settings import SettingError, validate_changes

COLUMNS = ("record", "sensor", "t", "offset_s", "value", "mean", "std", "z", "threshold", "anomaly",
           "anomaly_ratio", "baseline_state", "completeness", "scenario_id", "kind", "magnitude",
           "start_offset_s", "end_offset_s", "seed", "settings")


class SessionFileError(ValueError):
    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass
class ScenarioPlan:
    line: int
    sensor: str
    kind: str
    magnitude: float
    start_offset_s: float
    end_offset_s: float


@dataclass
class ReplayPlan:
    """What a replay needs: the seed, the settings at the start, and the scenarios."""

    seed: int
    line_settings: dict[str, Any]
    overrides: dict[str, dict[str, Any]]
    scenarios: list[ScenarioPlan] = field(default_factory=list)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def to_csv_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The header, then one CSV line per row dict (missing columns left empty)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in COLUMNS])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _number(row: dict[str, str], name: str, line: int) -> float:
    try:
        value = float(row.get(name) or "")
    except ValueError:
        raise SessionFileError(line, f"{name} {row.get(name)!r} is not a number") from None
    if not math.isfinite(value):
        raise SessionFileError(line, f"{name} must be finite")
    return value


@refuse_unreadable(lambda message, stream: SessionFileError(1, message))
def parse_replay(stream: IO[str]) -> ReplayPlan:
    """Read a session CSV into a ReplayPlan; any problem raises SessionFileError naming the line."""
    reader = csv.DictReader(stream)
    if reader.fieldnames is None:
        raise SessionFileError(1, "the file is empty")
    missing = {"record", "seed", "settings", "sensor", "kind", "magnitude", "start_offset_s",
               "end_offset_s"} - set(reader.fieldnames)
    if missing:
        raise SessionFileError(1, f"not a Linewatch session file: missing column(s) {', '.join(sorted(missing))}")
    plan: Optional[ReplayPlan] = None
    scenarios: list[ScenarioPlan] = []
    for row in reader:
        line = reader.line_num
        record = row.get("record")
        if record == "session":
            if plan is not None:
                raise SessionFileError(line, "a second session row; export one session per file")
            plan = _session_row(row, line)
        elif record == "scenario":
            scenarios.append(_scenario_row(row, line))
        elif record != "reading":
            raise SessionFileError(line, f"unknown record {record!r}")
    if plan is None:
        raise SessionFileError(reader.line_num, "no session row")
    plan.scenarios = scenarios
    return plan


def _session_row(row: dict[str, str], line: int) -> ReplayPlan:
    try:
        seed = int(row.get("seed") or "")
    except ValueError:
        raise SessionFileError(line, f"seed {row.get('seed')!r} is not a whole number") from None
    try:
        snapshot = json.loads(row.get("settings") or "")
        line_settings = validate_changes(snapshot["line"])
        overrides = {sensor: validate_changes(values, per_sensor=True)
                     for sensor, values in snapshot.get("overrides", {}).items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        detail = str(exc) if isinstance(exc, SettingError) else "not a settings object"
        raise SessionFileError(line, f"settings: {detail}") from None
    return ReplayPlan(seed, line_settings, overrides)


def _scenario_row(row: dict[str, str], line: int) -> ScenarioPlan:
    kind = row.get("kind")
    if kind not in SCENARIO_KINDS:
        raise SessionFileError(line, f"kind {kind!r} is not one of {', '.join(SCENARIO_KINDS)}")
    if not row.get("sensor"):
        raise SessionFileError(line, "sensor is missing")
    start, end = _number(row, "start_offset_s", line), _number(row, "end_offset_s", line)
    if not 0.0 <= start < end:
        raise SessionFileError(line, "offsets must satisfy 0 <= start_offset_s < end_offset_s")
    return ScenarioPlan(line, row["sensor"], kind, _number(row, "magnitude", line), start, end)
