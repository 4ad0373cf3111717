"""Stored verdicts read back in time order, for a source that writes them beside its own data (InfluxDB)."""
from __future__ import annotations

from sqlalchemy import select

from helpers.storage.db import db
from helpers.storage.models import Reading, Sensor

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
