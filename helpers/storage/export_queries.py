"""Stored readings for the CSV export, fetched in bounded chunks so an export of any size holds only a few in memory."""
from __future__ import annotations

import heapq
from typing import Iterator, Optional, Sequence

from sqlalchemy import and_, or_, select

from helpers.storage.db import db
from helpers.storage.models import Reading, Sensor

# The columns after ``sensor`` in each exported row, in the CSV's order.
EXPORT_FIELDS = ("t", "value", "mean", "std", "z", "threshold", "anomaly", "zscore_anomaly", "lstm_score",
                 "lstm_threshold", "lstm_anomaly", "anomaly_ratio", "baseline_state", "scenario_id", "z_alarm",
                 "z_likelihood")
CHUNK = 5_000
# With many sensors merged, each one's chunk shrinks so the rows held at once stay near CHUNK.
MIN_SENSOR_CHUNK = 500


def sensor_chunks(sensor_id: int, start: Optional[float], end: Optional[float],
                  chunk: int = CHUNK) -> Iterator[list[tuple]]:
    """One sensor's readings in [start, end), oldest first, as lists of at most ``chunk`` EXPORT_FIELDS tuples.

    Keyset pagination over (t, id) on the (sensor_id, t) index: every chunk is a
    fresh short query that starts where the last one ended, at any table size.
    """
    columns = [getattr(Reading, f) for f in EXPORT_FIELDS]
    after: Optional[tuple[float, int]] = None
    while True:
        query = select(Reading.id, *columns).where(Reading.sensor_id == sensor_id)
        if start is not None:
            query = query.where(Reading.t >= start)
        if end is not None:
            query = query.where(Reading.t < end)
        if after is not None:
            # "t >= last" bounds the index range; the OR only sorts out the ties at that one t.
            query = query.where(Reading.t >= after[0],
                                or_(Reading.t > after[0], and_(Reading.t == after[0], Reading.id > after[1])))
        rows = db.session.connection().execute(query.order_by(Reading.t, Reading.id).limit(chunk)).all()
        # End the read transaction between chunks: a long download must not pin SQLite's WAL (or hold
        # a PostgreSQL snapshot) while the sampler writes.
        db.session.commit()
        if not rows:
            return
        yield [tuple(row[1:]) for row in rows]
        if len(rows) < chunk:
            return
        after = (rows[-1][1], rows[-1][0])


def export_chunks(sensors: Sequence[Sensor], start: Optional[float], end: Optional[float],
                  chunk: int = CHUNK) -> Iterator[list[tuple]]:
    """``(sensor name, *EXPORT_FIELDS)`` rows of the sensors in [start, end), in time order, in lists of ``chunk``.

    Several sensors are merged by time from one paginated stream each, so at
    most about ``chunk`` rows per sensor (fewer with many sensors) are held at once.
    """
    per_sensor = chunk if len(sensors) <= 1 else max(MIN_SENSOR_CHUNK, chunk // len(sensors))
    streams = [_rows(s.name, sensor_chunks(s.id, start, end, per_sensor)) for s in sensors]
    merged = heapq.merge(*streams, key=lambda row: row[1]) if len(streams) > 1 else iter(streams[0] if streams else ())
    out: list[tuple] = []
    for row in merged:
        out.append(row)
        if len(out) == chunk:
            yield out
            out = []
    if out:
        yield out


def _rows(name: str, chunks: Iterator[list[tuple]]) -> Iterator[tuple]:
    for part in chunks:
        for row in part:
            yield (name, *row)
