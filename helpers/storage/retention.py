"""Thinning old readings to minute rollups, and deleting what is past every retention, in small batches.

Each call does one bounded batch in the caller's transaction, so the sampler
that runs it never stalls for long and a crash leaves either the whole batch
done or none of it.
"""
from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import delete, select

from helpers.core.formats.thinning import Minute, merge, summarise
from helpers.storage.db import db
from helpers.storage.models import Reading, ReadingRollup


def thin(cutoff: float, limit: int) -> int:
    """Fold up to ``limit`` of the oldest readings before ``cutoff`` into minute rollups and delete them.

    Returns how many readings were folded (``limit`` means there may be more).
    """
    rows = db.session.execute(
        select(Reading.id, Reading.sensor_id, Reading.t, Reading.value, Reading.anomaly)
        .where(Reading.t < cutoff).order_by(Reading.id).limit(limit)).all()
    if not rows:
        return 0
    minutes = summarise((sensor_id, t, value, anomaly) for _id, sensor_id, t, value, anomaly in rows)
    for (sensor_id, minute), summary in minutes.items():
        row = db.session.get(ReadingRollup, (sensor_id, minute))
        if row is None:
            db.session.add(ReadingRollup(sensor_id=sensor_id, minute=minute, **summary._asdict()))
            continue
        merged = merge(Minute(row.n, row.low, row.mean, row.high, row.anomalies), summary)
        row.n, row.low, row.mean, row.high, row.anomalies = merged
    db.session.execute(delete(Reading).where(Reading.id.in_([r[0] for r in rows])))
    return len(rows)


def drop_rollups(cutoff: float, limit: int) -> int:
    """Delete up to ``limit`` of the minute rollups before ``cutoff``; returns how many."""
    keys = db.session.execute(select(ReadingRollup.sensor_id, ReadingRollup.minute)
                              .where(ReadingRollup.minute < cutoff).order_by(ReadingRollup.minute)
                              .limit(limit)).all()
    for sensor_id, minute in keys:
        db.session.execute(delete(ReadingRollup).where(ReadingRollup.sensor_id == sensor_id,
                                                       ReadingRollup.minute == minute))
    return len(keys)


def rollups(sensor_id: int, since: float, until: Optional[float] = None) -> list[dict[str, Any]]:
    """A sensor's minute rollups from ``since`` (before ``until``), oldest first."""
    query = select(ReadingRollup).where(ReadingRollup.sensor_id == sensor_id, ReadingRollup.minute >= since)
    if until is not None:
        query = query.where(ReadingRollup.minute < until)
    return [{"t": r.minute, "n": r.n, "min": r.low, "mean": r.mean, "max": r.high, "anomalies": r.anomalies}
            for r in db.session.scalars(query.order_by(ReadingRollup.minute))]
