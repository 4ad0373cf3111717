"""The ingest queue: accept a checked batch atomically (or refuse it whole), and hand batches to the sampler."""
from __future__ import annotations

import json
from operator import itemgetter
from typing import Optional, Sequence

from sqlalchemy import delete, select, update

from helpers.core.formats.ingest import BatchRejected, Problem, Row, in_order
from helpers.storage.db import db
from helpers.storage.models import IngestBatch, IngestKey, Sensor, SensorCounter

# How long an idempotency key is remembered: longer than any client retries one batch.
KEY_DAYS = 7
_by_time = itemgetter(2, 0)  # a Row's (t, number)


def accept(rows: Sequence[Row], source: str, line_id: int, auto_register: bool, now: float,
           key: Optional[str] = None, skip_seen: bool = False) -> tuple[int, bool]:
    """Queue the batch in one transaction; ``(count, repeated)``. BatchRejected stores nothing.

    ``repeated``: the key was seen before, so this is a retry of a batch already
    accepted (nothing is stored again). Unknown sensors are created when
    ``auto_register``; otherwise each is a problem. A reading older than its
    sensor's last accepted one is a problem (late data is refused) — unless
    ``skip_seen`` (a pull source re-reading a window it read before): then readings
    at or before the sensor's last time are dropped quietly, and the count says how many were new.
    """
    db.session.commit()  # start a fresh transaction: the write lock is taken first, below
    names = sorted({r.sensor for r in rows})
    try:
        # Take the write lock on these sensors before reading their last times (row locks on
        # PostgreSQL, the database lock on SQLite), so two workers cannot both accept older data.
        db.session.execute(update(Sensor).where(Sensor.name.in_(names)).values(last_t=Sensor.last_t))
        if key is not None:
            seen = db.session.get(IngestKey, key)
            if seen is not None:
                db.session.rollback()
                return seen.count, True
        sensors = {s.name: s for s in db.session.scalars(select(Sensor).where(Sensor.name.in_(names)))}
        unknown = [n for n in names if n not in sensors]
        if unknown and not auto_register:
            problems = [Problem(r.number, "sensor", f"unknown sensor {r.sensor!r} (auto-registration is off)")
                        for r in rows if r.sensor in unknown]
            raise BatchRejected(problems)
        for name in unknown:
            sensor = Sensor(line_id=line_id, name=name, label=name, unit="")
            db.session.add(sensor)
            sensors[name] = sensor
        db.session.flush()
        for name in unknown:  # the sampler's running totals (/metrics) only add to an existing row
            db.session.add(SensorCounter(sensor_id=sensors[name].id, readings=0, anomalies=0))
        if skip_seen:
            rows = [r for r in rows if sensors[r.sensor].last_t is None or r.t > sensors[r.sensor].last_t]
            if not rows:
                db.session.commit()
                return 0, False
        problems = in_order(list(rows), {n: s.last_t for n, s in sensors.items()})
        if problems:
            raise BatchRejected(problems)
        ordered = sorted(rows, key=_by_time)
        latest = {r.sensor: r.t for r in ordered}  # in time order, so each sensor's last is its latest
        for name, t in latest.items():
            sensors[name].last_t = t
        ids = {name: sensor.id for name, sensor in sensors.items()}  # not the ORM attribute once per reading
        db.session.add(IngestBatch(received_at=now, source=source[:64], count=len(rows),
                                   rows=json.dumps([[ids[r.sensor], r.t, r.value] for r in ordered])))
        if key is not None:
            db.session.add(IngestKey(key=key, count=len(rows), received_at=now))
            db.session.execute(delete(IngestKey).where(IngestKey.received_at < now - KEY_DAYS * 86_400))
        db.session.commit()
        return len(rows), False
    except Exception:
        db.session.rollback()
        raise


def next_batches(taken: Sequence[int], limit: int) -> list[tuple[int, list]]:
    """The oldest queued batches, leaving out those taken but not yet stored.

    Not "after the last id": on PostgreSQL a batch can commit after one with a higher
    id (and on SQLite ids are reused after a delete), so a cursor could skip it.
    """
    query = select(IngestBatch.id, IngestBatch.rows).order_by(IngestBatch.id).limit(limit)
    if taken:
        query = query.where(IngestBatch.id.not_in(list(taken)))
    return [(batch_id, json.loads(raw)) for batch_id, raw in db.session.execute(query).all()]


def drop(batch_ids: Sequence[int]) -> None:
    """Delete judged batches, in the transaction that stores their readings."""
    if batch_ids:
        db.session.execute(delete(IngestBatch).where(IngestBatch.id.in_(list(batch_ids))))


def backlog() -> tuple[int, Optional[float]]:
    """Readings waiting to be judged, and when the oldest of them arrived."""
    from sqlalchemy import func
    count, oldest = db.session.execute(select(func.coalesce(func.sum(IngestBatch.count), 0),
                                              func.min(IngestBatch.received_at))).one()
    return int(count), oldest
