"""Stored readings and their verdicts: the sampler's inserts, the dashboard's reads, training, backtest
and export streams."""
from __future__ import annotations

import heapq
import time
from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence

from sqlalchemy import and_, bindparam, func, insert, or_, select, update

from helpers.storage.alarms import real_fault_spans
from helpers.storage.db import db
from helpers.storage.models import Reading, Sensor, SensorCounter


READING_FIELDS = ("id", "t", "value", "mean", "std", "z", "threshold", "anomaly", "anomaly_ratio",
                  "baseline_state", "completeness", "scenario_id", "zscore_anomaly", "lstm_score",
                  "lstm_threshold", "lstm_anomaly", "detectors", "verdict_source", "z_alarm",
                  "z_alarm_reason", "z_likelihood", "counted", "disagree")


def bump_counters(rows: Sequence[Mapping[str, Any]]) -> None:
    """Add a batch of readings to the per-sensor running totals (in the caller's transaction)."""
    totals: dict[int, list[int]] = {}
    for row in rows:
        total = totals.setdefault(row["sensor_id"], [0, 0])
        total[0] += 1
        total[1] += bool(row["anomaly"])
    for sensor_id, (readings, anomalies) in totals.items():
        db.session.execute(update(SensorCounter).where(SensorCounter.sensor_id == sensor_id).values(
            readings=SensorCounter.readings + readings, anomalies=SensorCounter.anomalies + anomalies))


def insert_readings(rows: Sequence[Mapping[str, Any]]) -> None:
    """Bulk insert (one executemany): the sampler's hot path."""
    if rows:
        db.session.execute(insert(Reading), list(rows))


# Built once: the dashboard polls this for every sensor every second, and building this wide select
# (and matching it to the cached compiled one) cost more than running it.
_LATEST = (select(*[getattr(Reading, f) for f in READING_FIELDS])
           .where(Reading.sensor_id == bindparam("sensor_id"))
           .order_by(Reading.id.desc()).limit(bindparam("window")))


_LATEST_SINCE = _LATEST.where(Reading.id > bindparam("since_id"))


def latest_readings(sensor_id: int, window: int, since_id: Optional[int] = None) -> list[dict[str, Any]]:
    """The newest ``window`` readings of a sensor (after ``since_id`` if given), oldest first."""
    params = {"sensor_id": sensor_id, "window": window}
    query = _LATEST
    if since_id is not None:
        query, params["since_id"] = _LATEST_SINCE, since_id
    # Core execution: plain tuples, without the ORM's per-row bookkeeping.
    rows = db.session.connection().execute(query, params).all()
    return [dict(zip(READING_FIELDS, row)) for row in reversed(rows)]


def restore_history(sensor_id: int, limit: int, since_t: Optional[float]) -> list[tuple[float, Optional[float], bool, bool]]:
    """The last ``limit`` readings since ``since_t`` as ``(value, z, z-score anomaly, anomaly)``, oldest first."""
    query = select(Reading.value, Reading.z, Reading.zscore_anomaly, Reading.anomaly).where(Reading.sensor_id == sensor_id)
    if since_t is not None:
        query = query.where(Reading.t >= since_t)
    rows = db.session.execute(query.order_by(Reading.id.desc()).limit(limit)).all()
    return [tuple(r) for r in reversed(rows)]


def recent_values(sensor_id: int, limit: int, since_t: Optional[float]) -> list[tuple[float, float]]:
    """The last ``limit`` ``(t, value)`` of a sensor since ``since_t``, oldest first: history for a detector to learn."""
    query = select(Reading.t, Reading.value).where(Reading.sensor_id == sensor_id)
    if since_t is not None:
        query = query.where(Reading.t >= since_t)
    rows = db.session.execute(query.order_by(Reading.id.desc()).limit(limit)).all()
    return [tuple(r) for r in reversed(rows)]


def last_reading_times() -> dict[int, float]:
    """Each sensor's newest reading time, so a restarted sampler continues after it."""
    rows = db.session.execute(select(Reading.sensor_id, func.max(Reading.t)).group_by(Reading.sensor_id))
    return {sensor_id: t for sensor_id, t in rows}


DETECTOR_FLAGS = {"zscore": Reading.zscore_anomaly, "lstm": Reading.lstm_anomaly}


def session_anomaly_times(start: float, end: Optional[float], detector: str = "zscore") -> dict[int, list[float]]:
    """Times of the readings ``detector`` flagged in [start, end), by sensor id, in order (a partial index serves it)."""
    flag = DETECTOR_FLAGS[detector]
    query = select(Reading.sensor_id, Reading.t).where(flag.is_(True), Reading.t >= start)
    if end is not None:
        query = query.where(Reading.t < end)
    found: dict[int, list[float]] = {}
    for sensor_id, t in db.session.execute(query.order_by(Reading.t)):
        found.setdefault(sensor_id, []).append(t)
    return found


def session_readings(start: float, end: Optional[float], chunk: int = 5000) -> Iterable[tuple]:
    """Every reading in [start, end) with its sensor name, streamed in chunks."""
    query = (select(Sensor.name, *[getattr(Reading, f) for f in READING_FIELDS])
             .join(Sensor, Sensor.id == Reading.sensor_id).where(Reading.t >= start))
    if end is not None:
        query = query.where(Reading.t < end)
    result = db.session.execute(query.order_by(Reading.id).execution_options(yield_per=chunk))
    for row in result:
        yield tuple(row)


def recent_anomalies(limit: int, sensor_id: Optional[int] = None) -> list[dict[str, Any]]:
    fields = ("id", "t", "value", "mean", "std", "z", "threshold", "scenario_id", "zscore_anomaly", "lstm_score",
              "lstm_threshold", "lstm_anomaly", "detectors", "z_alarm", "z_alarm_reason", "z_likelihood",
              "verdict_source", "counted", "disagree")
    query = (select(Sensor.name, Sensor.label, Sensor.unit, *[getattr(Reading, f) for f in fields])
             .join(Sensor, Sensor.id == Reading.sensor_id).where(Reading.anomaly.is_(True)))
    if sensor_id is not None:
        query = query.where(Reading.sensor_id == sensor_id)
    rows = db.session.execute(query.order_by(Reading.t.desc()).limit(limit))
    return [dict(zip(("sensor", "label", "unit") + fields, row)) for row in rows]


def readings_since_time(sensor_id: int, since_t: float, until_t: Optional[float] = None) -> list[dict[str, Any]]:
    """A sensor's readings from ``since_t`` on (before ``until_t``), oldest first (the (sensor_id, t) index serves it)."""
    columns = [getattr(Reading, f) for f in READING_FIELDS]
    query = select(*columns).where(Reading.sensor_id == sensor_id, Reading.t >= since_t)
    if until_t is not None:
        query = query.where(Reading.t < until_t)
    return [dict(zip(READING_FIELDS, row)) for row in db.session.connection().execute(query.order_by(Reading.id))]


def training_readings(sensor_id: int, data_from: Optional[float], data_to: Optional[float],
                      limit: int) -> tuple[list[float], int, Optional[float], Optional[float]]:
    """Values to learn normal operation from, oldest first, with how many were left out and the time span.

    Without a range: the newest ``limit`` readings. Left out: readings without a
    z-score verdict (learning), flagged by any detector, inside an injected
    scenario, or inside an alarm an operator marked as a real fault — otherwise
    a slow fault would be learned as normal.
    """
    query = select(Reading.t, Reading.value, Reading.z, Reading.zscore_anomaly, Reading.anomaly,
                   Reading.scenario_id).where(Reading.sensor_id == sensor_id)
    if data_from is not None:
        query = query.where(Reading.t >= data_from)
    if data_to is not None:
        query = query.where(Reading.t < data_to)
    rows = db.session.connection().execute(query.order_by(Reading.id.desc()).limit(limit)).all()
    rows.reverse()
    faults = real_fault_spans(sensor_id, time.time())
    # (Row.t is SQLAlchemy's tuple accessor, so columns are unpacked by position.)
    kept = [(t, value) for t, value, z, z_anomaly, anomaly, scenario_id in rows
            if z is not None and not z_anomaly and not anomaly and scenario_id is None
            and not any(start <= t <= end for start, end in faults)]
    return ([value for _, value in kept], len(rows) - len(kept),
            kept[0][0] if kept else None, kept[-1][0] if kept else None)


def values_between(sensor_id: int, start: float, end: float) -> tuple[list[float], list[float], list[bool]]:
    """A sensor's readings in [start, end): times, values, and whether each was judged normal by the z-score."""
    rows = db.session.connection().execute(
        select(Reading.t, Reading.value, Reading.z, Reading.zscore_anomaly)
        .where(Reading.sensor_id == sensor_id, Reading.t >= start, Reading.t < end).order_by(Reading.id)).all()
    return ([r[0] for r in rows], [r[1] for r in rows], [r[2] is not None and not r[3] for r in rows])


BACKTEST_FIELDS = ("t", "value", "zscore_anomaly", "lstm_score", "lstm_threshold", "lstm_anomaly")


def count_between(sensor_id: int, start: float, end: float) -> int:
    return db.session.scalar(select(func.count()).select_from(Reading).where(
        Reading.sensor_id == sensor_id, Reading.t >= start, Reading.t < end))


def backtest_rows(sensor_id: int, start: float, end: float, chunk: int = 20_000) -> Iterable[tuple]:
    """A sensor's readings in [start, end) as BACKTEST_FIELDS tuples, oldest first, fetched in chunks.

    On a connection of its own: a server-side cursor (PostgreSQL) must neither outlive the commits the
    caller makes meanwhile (progress reports) nor turn the session's later statements into cursors.
    """
    columns = [getattr(Reading, f) for f in BACKTEST_FIELDS]
    with db.engine.connect() as conn:
        result = conn.execution_options(stream_results=True).execute(
            select(*columns).where(Reading.sensor_id == sensor_id, Reading.t >= start, Reading.t < end)
            .order_by(Reading.t, Reading.id))
        for part in result.partitions(chunk):
            yield from part


def values_before(sensor_id: int, t: float, count: int) -> list[float]:
    """The ``count`` readings of a sensor just before ``t``, oldest first (the detector's warm-up)."""
    rows = db.session.connection().execute(
        select(Reading.value).where(Reading.sensor_id == sensor_id, Reading.t < t)
        .order_by(Reading.t.desc()).limit(count)).all()
    return [r[0] for r in reversed(rows)]


# The columns of each verdict row, in order.
VERDICT_FIELDS = ("t", "value", "z", "anomaly", "anomaly_ratio", "lstm_score")


def verdicts_after(sensor: str, after_t: float, limit: int) -> list[tuple]:
    """``sensor``'s stored readings with ``t > after_t``, oldest first, at most ``limit``, as VERDICT_FIELDS tuples.

    A sensor stores its readings in time order (late data is refused), so ``after_t``
    is a complete cursor: nothing can later appear at or before it.
    """
    columns = [getattr(Reading, f) for f in VERDICT_FIELDS]
    query = (select(*columns).join(Sensor, Sensor.id == Reading.sensor_id)
             .where(Sensor.name == sensor, Reading.t > after_t).order_by(Reading.t).limit(limit))
    rows = db.session.execute(query).all()
    # End the read transaction: the caller goes on to slow network work, which must not pin SQLite's WAL.
    db.session.commit()
    return [tuple(row) for row in rows]


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
