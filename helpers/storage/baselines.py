"""Re-baselines asked for and applied, and the z-score's own relearns: the sensor's baseline events."""
from __future__ import annotations

from typing import Iterable, Optional

from sqlalchemy import func, select, update

from helpers.storage.db import db
from helpers.storage.models import BaselineEvent, Sensor


def request_rebaseline(sensor: Sensor, now: float) -> BaselineEvent:
    event = BaselineEvent(sensor_id=sensor.id, kind="rebaseline", requested_at=now)
    db.session.add(event)
    db.session.commit()
    return event


def pending_rebaselines() -> list[tuple[int, int]]:
    """``(event id, sensor id)`` of re-baselines the sampler has not applied yet."""
    rows = db.session.execute(
        select(BaselineEvent.id, BaselineEvent.sensor_id)
        .where(BaselineEvent.applied_at.is_(None)).order_by(BaselineEvent.id))
    return [tuple(r) for r in rows]


def mark_rebaselines_applied(event_ids: Iterable[int], now: float) -> None:
    ids = list(event_ids)
    if ids:
        db.session.execute(update(BaselineEvent).where(BaselineEvent.id.in_(ids)).values(applied_at=now))


def record_relearn(sensor_id: int, t: float) -> None:
    db.session.add(BaselineEvent(sensor_id=sensor_id, kind="relearn", requested_at=t, applied_at=t))


def last_rebaseline_at(sensor_id: int) -> Optional[float]:
    return db.session.scalar(
        select(func.max(BaselineEvent.applied_at))
        .where(BaselineEvent.sensor_id == sensor_id, BaselineEvent.kind == "rebaseline"))
