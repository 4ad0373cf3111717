"""The line and its sensors: who they are, each sensor's newest status, and the line model's scores."""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from sqlalchemy import insert, select

from helpers.storage.db import db
from helpers.storage.models import Line, LineScore, Reading, Sensor
from helpers.storage import readings as reading_store


def all_sensors() -> list[Sensor]:
    return list(db.session.scalars(select(Sensor).order_by(Sensor.id)))


def sensor_by_name(name: str) -> Optional[Sensor]:
    return db.session.scalar(select(Sensor).where(Sensor.name == name))


def sensor_statuses(sensors: Optional[Sequence[Sensor]] = None) -> list[dict[str, Any]]:
    """Each sensor (of ``sensors``, default all) with its newest reading's verdict: what an overview card shows."""
    statuses = []
    for sensor in all_sensors() if sensors is None else sensors:
        latest = reading_store.latest_readings(sensor.id, 1)
        last = latest[0] if latest else None
        statuses.append({
            "name": sensor.name, "label": sensor.label, "unit": sensor.unit,
            "completeness": last["completeness"] if last else 0.0,
            "anomaly_ratio": last["anomaly_ratio"] if last else 0.0,
            "baseline_state": last["baseline_state"] if last else "learning",
            "last_id": last["id"] if last else None,
            "last_value": last["value"] if last else None,
            "last_t": last["t"] if last else None,
            "anomaly": bool(last["anomaly"]) if last else False,
        })
    return statuses


def the_line() -> Line:
    return db.session.scalar(select(Line).order_by(Line.id).limit(1))


def line_training_rows(data_from: Optional[float], data_to: Optional[float],
                       limit_per_sensor: int) -> list[tuple[float, str, float, bool]]:
    """Every sensor's readings as ``(t, sensor, value, fit to learn from)`` for the line model.

    Fit means judged normal by the z-score and by the final verdict, and outside
    any injected scenario.
    """
    found = []
    for sensor in all_sensors():
        query = select(Reading.t, Reading.value, Reading.z, Reading.zscore_anomaly, Reading.anomaly,
                       Reading.scenario_id).where(Reading.sensor_id == sensor.id)
        if data_from is not None:
            query = query.where(Reading.t >= data_from)
        if data_to is not None:
            query = query.where(Reading.t < data_to)
        rows = db.session.connection().execute(query.order_by(Reading.id.desc()).limit(limit_per_sensor))
        found += [(t, sensor.name, value, z is not None and not z_anomaly and not anomaly and scenario_id is None)
                  for t, value, z, z_anomaly, anomaly, scenario_id in rows]
    return found


def insert_line_scores(rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        db.session.execute(insert(LineScore), list(rows))


def latest_line_scores(window: int, since_id: Optional[int] = None) -> list[dict[str, Any]]:
    fields = ("id", "t", "error", "threshold", "anomaly", "model_id")
    query = select(*[getattr(LineScore, f) for f in fields])
    if since_id is not None:
        query = query.where(LineScore.id > since_id)
    rows = db.session.connection().execute(query.order_by(LineScore.id.desc()).limit(window)).all()
    return [dict(zip(fields, row)) for row in reversed(rows)]
