"""Parsing and checking a batch of pushed readings, whole: every problem with its row, or clean rows.

Pure: the storage layer adds what needs the database (unknown sensors, a
reading older than the sensor's last). Rows are numbered from 1 in the order
they came (a CSV's header is not a row).
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, NamedTuple, Optional

from helpers.core.formats.csv_errors import refuse_unreadable
from helpers.core.formats.series_csv import parse_time

MAX_BATCH = 10_000
# Problems reported at most; a batch that is wrong everywhere need not echo itself back.
MAX_PROBLEMS = 100
SENSOR_NAME_MAX = 64


class Row(NamedTuple):
    """A clean reading; a tuple, because a batch holds thousands and each is made on the hot path."""

    number: int
    sensor: str
    t: float
    value: float


@dataclass(frozen=True)
class Problem:
    row: Optional[int]
    field: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "reason": self.reason}


class BatchRejected(ValueError):
    """The batch is refused whole; ``problems`` say where and why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems[:MAX_PROBLEMS]
        first = problems[0]
        where = f"row {first.row}: " if first.row is not None else ""
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{where}{first.field}: {first.reason}{more}; nothing was stored")


def epoch_seconds(raw: Any) -> float:
    """A reading's time: ISO 8601 (without a zone: UTC) or epoch seconds (also as text); ValueError otherwise.

    (``series_csv.epoch_seconds`` is the one for a range a person types: there a time without a zone is local.)

    >>> epoch_seconds("2026-01-01T00:00:00Z"), epoch_seconds("2026-01-01 01:00:00+01:00"), epoch_seconds("1.5")
    (1767225600.0, 1767225600.0, 1.5)
    >>> epoch_seconds("2026-01-01 00:00:00")
    1767225600.0
    """
    if type(raw) is str and len(raw) >= 10 and raw[4] == "-":
        # The fast path, for what the edge node sends (2026-11-26T14:03:00.250000Z): the result is the
        # slow path's, whose float() try and parse_time() only cost time for such a string.
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            pass
        else:
            return (moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)).timestamp()
    if isinstance(raw, bool):
        raise ValueError("must be an ISO 8601 time or epoch seconds")
    if isinstance(raw, (int, float)):
        if not math.isfinite(raw):
            raise ValueError("must be a finite number of epoch seconds")
        return float(raw)
    if isinstance(raw, str):
        try:
            t = float(raw) if _looks_numeric(raw) else _epoch(parse_time(raw))
        except ValueError:
            pass
        else:
            if math.isfinite(t):
                return t
    raise ValueError(f"{raw!r} is not an ISO 8601 time (e.g. 2026-11-26T14:03:00Z) or epoch seconds")


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _epoch(naive_utc: datetime) -> float:
    return naive_utc.replace(tzinfo=timezone.utc).timestamp()


def _value(raw: Any) -> float:
    if type(raw) is float and math.isfinite(raw):  # the common case, first
        return raw
    if isinstance(raw, bool) or raw is None:
        raise ValueError("must be a number")
    if isinstance(raw, str):
        try:
            raw = float(raw)
        except ValueError:
            raise ValueError(f"{raw!r} is not a number") from None
    if not isinstance(raw, (int, float)):
        raise ValueError("must be a number")
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(f"{raw!r} is not a finite number (NaN and infinity are refused)")
    return value


def check_rows(items: Iterable[tuple[int, Any, Any, Any]], now: float, max_future_s: float) -> list[Row]:
    """``(number, sensor, timestamp, value)`` → rows, or BatchRejected with every problem found.

    >>> rows = check_rows([(1, "a", "2026-01-01T00:00:00Z", "1.5"), (2, "a", 1767225601, 2)], 1.8e9, 60)
    >>> [(r.sensor, r.t, r.value) for r in rows]
    [('a', 1767225600.0, 1.5), ('a', 1767225601.0, 2.0)]
    >>> check_rows([(1, "a", "yesterday", "x")], 1.8e9, 60)
    Traceback (most recent call last):
    ...
    helpers.core.formats.ingest.BatchRejected: row 1: timestamp: 'yesterday' is not an ISO 8601 time (e.g. 2026-11-26T14:03:00Z) or epoch seconds (and 1 more); nothing was stored
    """
    rows, problems = [], []
    latest = now + max_future_s
    for number, sensor, stamp, raw in items:
        bad = len(problems)
        name = sensor.strip() if isinstance(sensor, str) else ""
        if not name:
            problems.append(Problem(number, "sensor", "missing: every reading names its sensor"))
        elif len(name) > SENSOR_NAME_MAX:
            problems.append(Problem(number, "sensor", f"longer than {SENSOR_NAME_MAX} characters"))
        t = value = None
        if stamp is None or stamp == "":
            problems.append(Problem(number, "timestamp", "missing"))
        else:
            try:
                t = epoch_seconds(stamp)
                if t > latest:
                    problems.append(Problem(number, "timestamp", f"{stamp} is more than {max_future_s:g} s in the "
                                                                 f"future (check the sender's clock)"))
            except ValueError as exc:
                problems.append(Problem(number, "timestamp", str(exc)))
        if raw is None or raw == "":
            problems.append(Problem(number, "value", "missing"))
        else:
            try:
                value = _value(raw)
            except ValueError as exc:
                problems.append(Problem(number, "value", str(exc)))
        if len(problems) == bad:
            rows.append(Row(number, name, t, value))
    if problems:
        raise BatchRejected(problems)
    return rows


def json_items(body: Any) -> list[tuple[int, Any, Any, Any]]:
    """``{"readings": [{"sensor", "value", "timestamp"}, ...]}`` → numbered items; BatchRejected if the shape is wrong."""
    readings = body.get("readings") if isinstance(body, dict) else None
    if not isinstance(readings, list):
        raise BatchRejected([Problem(None, "readings", 'expected {"readings": [{"sensor", "value", "timestamp"}, ...]}')])
    _check_size(len(readings))
    items = []
    for number, item in enumerate(readings, 1):
        if not isinstance(item, dict):
            items.append((number, None, None, None))
            continue
        items.append((number, item.get("sensor"), item.get("timestamp"), item.get("value")))
    return items


@refuse_unreadable(lambda message, text: BatchRejected([Problem(None, "body", message)]))
def csv_items(text: str) -> list[tuple[int, Any, Any, Any]]:
    """A ``sensor,timestamp,value`` CSV (header first) → numbered items."""
    if "\x00" in text:  # PostgreSQL refuses NUL in text, and no sensor name or number holds one
        raise BatchRejected([Problem(None, "body", "the CSV contains a NUL character")])
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in ("sensor", "timestamp", "value") if c not in header]
    if missing:
        raise BatchRejected([Problem(None, "body", f"the CSV header must name sensor,timestamp,value "
                                                   f"(missing {', '.join(missing)})")])
    where = {c: header.index(c) for c in ("sensor", "timestamp", "value")}
    lines = [cells for cells in reader if any(c.strip() for c in cells)]
    _check_size(len(lines))
    items = []
    for number, cells in enumerate(lines, 1):
        cell = (lambda c: cells[where[c]].strip() if where[c] < len(cells) else None)
        items.append((number, cell("sensor"), cell("timestamp"), cell("value")))
    return items


def _check_size(count: int) -> None:
    if count == 0:
        raise BatchRejected([Problem(None, "readings", "the batch is empty")])
    if count > MAX_BATCH:
        raise BatchRejected([Problem(None, "readings", f"{count:,} readings; a batch holds at most {MAX_BATCH:,}")])


def in_order(rows: list[Row], last_t: dict[str, Optional[float]]) -> list[Problem]:
    """Readings older than their sensor's last accepted one, in row order.

    A batch is put in time order per sensor before it is queued, so within it
    no reading is late; only one older than the sensor's stored last time is.

    >>> rows = [Row(1, "a", 5.0, 0.0), Row(2, "a", 3.0, 0.0), Row(3, "b", 1.0, 0.0)]
    >>> [(p.row, p.field) for p in in_order(rows, {"a": 4.0, "b": None})]
    [(2, 'timestamp')]
    """
    problems = []
    for row in rows:
        previous = last_t.get(row.sensor)
        if previous is not None and row.t < previous:
            problems.append(Problem(row.number, "timestamp", f"older than {row.sensor}'s last reading "
                                                             f"(t={previous:.3f}); late data is refused"))
    return sorted(problems, key=lambda p: p.row)
