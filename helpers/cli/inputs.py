"""Reading a command's input files: every problem is a clear message and exit code 2, naming the line."""
from __future__ import annotations

import csv
import io
import math
from typing import IO, NamedTuple

import click

from helpers.core.formats import series_csv


class InputError(click.ClickException):
    """Bad input: a clear message and exit code 2."""

    exit_code = 2


def read_series(stream: IO[str], name: str) -> tuple[list[str], list[float]]:
    """Read ``timestamp,value`` rows; any problem is an InputError naming the line."""
    try:
        return series_csv.read_series(stream, name)
    except series_csv.SeriesError as exc:
        raise InputError(str(exc)) from None


TIME_COLUMNS = ("timestamp", "datetime", "time")


class Table(NamedTuple):
    """A CSV read for a multivariate detector: one time column and every numeric column."""

    timestamps: list[str]
    columns: list[str]
    rows: list[list[float]]
    ignored: list[str]


def read_table(stream: IO[str], name: str) -> Table:
    """Read a time column (timestamp, datetime or time) and every numeric column; InputError names the line.

    The separator, ``,`` or ``;``, is whichever the header line has more of; with
    ``;`` a decimal comma (``1,5``) is read as a decimal point. A column is a value
    column when its first data row holds a number; other columns are ignored.
    """
    text = stream.read()
    if not text.strip():
        raise InputError(f"{name}: the file is empty")
    header_line = text.split("\n", 1)[0]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [cell.strip() for cell in next(reader)]
    lowered = [cell.lower() for cell in header]
    time_index = next((lowered.index(c) for c in TIME_COLUMNS if c in lowered), None)
    if time_index is None:
        raise InputError(f"{name}: no time column; expected one named timestamp, datetime or time "
                         f"(found {','.join(header)})")
    lines = [(reader.line_num, [cell.strip() for cell in row]) for row in reader if any(c.strip() for c in row)]
    if not lines:
        raise InputError(f"{name}: no data rows after the header")
    first = lines[0][1]
    others = [i for i in range(len(header)) if i != time_index]
    value_indexes = [i for i in others if i < len(first) and _parse(first[i], delimiter) is not None]
    if not value_indexes:
        raise InputError(f"{name}: no numeric column besides {header[time_index]} (found {','.join(header)})")
    timestamps, rows = [], []
    for line, cells in lines:
        if len(cells) != len(header):
            raise InputError(f"{name}, line {line}: {len(cells)} fields where the header has {len(header)}")
        row = []
        for i in value_indexes:
            value = _parse(cells[i], delimiter)
            if value is None:
                raise InputError(f"{name}, line {line}: {header[i]} {cells[i]!r} is not a number")
            if not math.isfinite(value):
                raise InputError(f"{name}, line {line}: {header[i]} {cells[i]!r} is not a finite number")
            row.append(value)
        timestamps.append(cells[time_index])
        rows.append(row)
    return Table(timestamps, [header[i] for i in value_indexes], rows,
                 [header[i] for i in others if i not in value_indexes])


def _parse(raw: str, delimiter: str) -> float | None:
    try:
        return float(raw.replace(",", ".") if delimiter == ";" else raw)
    except ValueError:
        return None
