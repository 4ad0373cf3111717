"""Reading a labelled series: ``timestamp,value`` CSV rows and label windows, with errors that name the line.

Shared by ``flask score``/``flask evaluate`` (files on disk) and the Evaluate page (uploads).
"""
from __future__ import annotations

import csv
import io
import math
from datetime import datetime, timezone
from typing import IO, Any, Iterator, Optional, Sequence

from helpers.core.formats.csv_errors import refuse_unreadable


class SeriesError(ValueError):
    """The input cannot be used; the message names the file and line, or the window."""


@refuse_unreadable(lambda message, stream, name: SeriesError(f"{name}: {message}"))
def read_series(stream: IO[str], name: str) -> tuple[list[str], list[float]]:
    """Read ``timestamp,value`` rows in file order; any problem is a SeriesError naming the line."""
    reader = csv.DictReader(stream)
    if reader.fieldnames is None:
        raise SeriesError(f"{name}: the file is empty")
    missing = {"timestamp", "value"} - {f.strip() for f in reader.fieldnames}
    if missing:
        raise SeriesError(f"{name}: missing column(s) {', '.join(sorted(missing))}; "
                          f"expected a header with timestamp,value (found {','.join(reader.fieldnames)})")
    timestamps, values = [], []
    for row in _stripped(reader):
        line = reader.line_num
        raw = row.get("value")
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise SeriesError(f"{name}, line {line}: value {raw!r} is not a number") from None
        if not math.isfinite(value):
            raise SeriesError(f"{name}, line {line}: value {raw!r} is not a finite number")
        timestamps.append(row.get("timestamp") or "")
        values.append(value)
    if not values:
        raise SeriesError(f"{name}: no data rows after the header")
    return timestamps, values


def _stripped(reader: csv.DictReader) -> Iterator[dict[str, str]]:
    for row in reader:
        yield {(k or "").strip(): v.strip() if isinstance(v, str) else v for k, v in row.items()}


def parse_time(raw: Any) -> datetime:
    """An ISO 8601 time (``T`` or space, optional zone, converted to UTC) as a naive datetime."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(f"{raw!r} is not a time")
    text = raw.strip()
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(f"{raw!r} is not an ISO 8601 time (e.g. 2014-04-10 07:15:00)") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def epoch_seconds(value: Any) -> float:
    """Epoch seconds given as a number, or an ISO 8601 time (a time without a zone is the server's local time,
    as a browser's datetime-local input means it); a ValueError otherwise.

    >>> epoch_seconds(1.5e9), epoch_seconds("2026-11-26T10:00:00Z")
    (1500000000.0, 1795687200.0)
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text).timestamp()
        except ValueError:
            pass
    raise ValueError("must be an ISO 8601 time or epoch seconds")


def normalised_timestamps(timestamps: Sequence[str], name: str) -> list[str]:
    """Every timestamp as ``YYYY-MM-DD HH:MM:SS`` (the form NAB labels and scoring use).

    Line numbers in errors count the header as line 1.

    >>> normalised_timestamps(["2020-01-01T00:05:00Z", "2020-01-01 01:05"], "f.csv")
    ['2020-01-01 00:05:00', '2020-01-01 01:05:00']
    """
    out = []
    for line, raw in enumerate(timestamps, 2):
        try:
            out.append(parse_time(raw).strftime("%Y-%m-%d %H:%M:%S"))
        except ValueError as exc:
            raise SeriesError(f"{name}, line {line}: timestamp {exc}") from None
    return out


def snapped_windows(raw: Any, timestamps: Sequence[str], name: Optional[str] = None) -> list[tuple[str, str]]:
    """Label windows as row timestamps: each end moves inward to the nearest row inside the window.

    ``raw`` is a list of ``[start, end]`` pairs, or NAB's ``{"file.csv": [[start, end], ...]}``
    (the entry for ``name``, or the only one). ``timestamps`` are normalised and in time order.

    >>> ts = ["2020-01-01 00:00:00", "2020-01-01 00:05:00", "2020-01-01 00:10:00"]
    >>> snapped_windows([["2020-01-01 00:01", "2020-01-01T00:10:00Z"]], ts)
    [('2020-01-01 00:05:00', '2020-01-01 00:10:00')]
    """
    if isinstance(raw, dict):
        if name is not None and name in raw:
            raw = raw[name]
        elif len(raw) == 1:
            raw = next(iter(raw.values()))
        else:
            raise SeriesError(f"the labels name {len(raw)} files; none is {name!r}")
    if not isinstance(raw, list):
        raise SeriesError("label windows must be a list of [start, end] pairs")
    times = [parse_time(t) for t in timestamps]
    out = []
    for number, window in enumerate(raw, 1):
        if not isinstance(window, (list, tuple)) or len(window) != 2:
            raise SeriesError(f"window {number}: expected [start, end], got {window!r}")
        try:
            start, end = parse_time(window[0]), parse_time(window[1])
        except ValueError as exc:
            raise SeriesError(f"window {number}: {exc}") from None
        if end < start:
            raise SeriesError(f"window {number}: ends ({window[1]}) before it starts ({window[0]})")
        inside = [i for i, t in enumerate(times) if start <= t <= end]
        if not inside:
            raise SeriesError(f"window {number}: no row of the series lies between {window[0]} and {window[1]}")
        out.append((timestamps[inside[0]], timestamps[inside[-1]]))
    return sorted(out)


@refuse_unreadable(lambda message, text, name: SeriesError(f"{name}: {message}"))
def read_columns(text: str, name: str) -> tuple[list[float], dict[str, list[float]]]:
    """A CSV with a ``timestamp`` column and one or more numeric columns → epoch seconds and each column's values.

    Times without a zone are UTC. Any problem is a SeriesError naming the line.

    >>> read_columns("timestamp,a,b\\n2020-01-01 00:00:00,1,2\\n2020-01-01 00:00:05,3,4\\n", "f.csv")
    ([1577836800.0, 1577836805.0], {'a': [1.0, 3.0], 'b': [2.0, 4.0]})
    """
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    if "timestamp" not in header:
        raise SeriesError(f"{name}: the header must have a timestamp column (found {','.join(header) or 'nothing'})")
    time_at = header.index("timestamp")
    names = [h for i, h in enumerate(header) if i != time_at]
    if not names or any(not h for h in names):
        raise SeriesError(f"{name}: every column besides timestamp needs a name (a sensor)")
    times: list[float] = []
    columns: dict[str, list[float]] = {h: [] for h in names}
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise SeriesError(f"{name}, line {line}: {len(cells)} fields where the header has {len(header)}")
        try:
            times.append(parse_time(cells[time_at]).replace(tzinfo=timezone.utc).timestamp())
        except ValueError as exc:
            raise SeriesError(f"{name}, line {line}: timestamp {exc}") from None
        for i, h in enumerate(header):
            if i == time_at:
                continue
            try:
                value = float(cells[i])
            except ValueError:
                raise SeriesError(f"{name}, line {line}: {h} {cells[i]!r} is not a number") from None
            if not math.isfinite(value):
                raise SeriesError(f"{name}, line {line}: {h} {cells[i]!r} is not a finite number")
            columns[h].append(value)
    if not times:
        raise SeriesError(f"{name}: no data rows after the header")
    if any(b < a for a, b in zip(times, times[1:])):
        line = next(i for i, (a, b) in enumerate(zip(times, times[1:]), 3) if b < a)
        raise SeriesError(f"{name}, line {line}: timestamps must not go back in time")
    return times, columns
