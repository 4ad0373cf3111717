"""``GET /api/readings.csv``: the stored readings with every detector's verdict, streamed as CSV chunk by chunk."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone
from typing import Any, Iterator, Optional, Sequence

from flask import Response, request, stream_with_context

from helpers.core.formats.series_csv import epoch_seconds
from helpers.storage import line as line_store
from helpers.storage import readings as reading_store
from helpers.storage.models import Sensor
from helpers.web.api import bp
from helpers.web.errors import ApiError
from helpers.web.params import sensor_named

COLUMNS = ("sensor", "timestamp") + reading_store.EXPORT_FIELDS
_BOOLEANS = {COLUMNS.index(c) for c in ("anomaly", "zscore_anomaly", "lstm_anomaly", "z_alarm")}
_T = COLUMNS.index("t")


def _time_arg(name: str) -> Optional[float]:
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    try:
        number = float(text)  # a query string carries epoch seconds as text
    except ValueError:
        number = None
    try:
        return epoch_seconds(number if number is not None else text)
    except ValueError:
        raise ApiError(400, f"{name} must be an ISO 8601 time (e.g. 2026-11-26T14:03:00Z) or epoch seconds, "
                            f"got {raw!r}", name) from None


def _cell(index: int, value: Any) -> Any:
    if value is None:
        return ""
    if index in _BOOLEANS:
        return 1 if value else 0
    return value


def csv_chunks(chunks: Iterator[Sequence[tuple]]) -> Iterator[str]:
    """The header, then one CSV text per chunk of ``(sensor, *EXPORT_FIELDS)`` rows (a timestamp added to each)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    yield buffer.getvalue()
    for part in chunks:
        buffer.seek(0)
        buffer.truncate()
        for sensor, t, *rest in part:
            stamp = datetime.fromtimestamp(t, timezone.utc).isoformat()
            writer.writerow([sensor, stamp, t] + [_cell(i, v) for i, v in enumerate(rest, _T + 1)])
        yield buffer.getvalue()


@bp.get("/api/readings.csv", endpoint="export_readings")
def export_readings():
    name = request.args.get("sensor", "").strip()
    sensors: list[Sensor] = [sensor_named(name)] if name else line_store.all_sensors()
    start, end = _time_arg("from"), _time_arg("to")
    if start is not None and end is not None and end < start:
        raise ApiError(400, "from must not be after to", "from")
    filename = f"linewatch-readings-{re.sub(r'[^A-Za-z0-9_.-]', '_', name) or 'all'}.csv"
    rows = reading_store.export_chunks(sensors, start, end)
    return Response(stream_with_context(csv_chunks(rows)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
