"""What ``/metrics`` reports, read from the database at scrape time, so every web worker answers the same.

Cheap at any table size: each sensor's newest reading is one lookup in the
``(sensor_id, id)`` index, its running totals come from ``sensor_counters``,
and the readings table is never counted.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy import ColumnElement, ScalarSelect, func, select

from helpers.storage import forecasts
from helpers.storage.db import db
from helpers.storage.models import Alarm, OutboxMessage, Reading, SamplerLease, Sensor, SensorCounter, StateChange

LINE = "line"  # the ``sensor`` label of the line's own alarms


@dataclass(frozen=True)
class LatestReading:
    t: float
    value: float
    z: Optional[float]  # None while the model learns
    anomaly: bool
    anomaly_ratio: float
    lstm_score: Optional[float]
    completeness: float  # percent, as stored
    detectors: dict[str, dict[str, Any]] = field(default_factory=dict)  # the other chosen detectors' verdicts
    z_alarm: Optional[bool] = None  # the z-score's excursion alarm; None while the model learns
    z_likelihood: Optional[float] = None  # None while the alarm rule collects its first verdicts


@dataclass(frozen=True)
class SensorSnapshot:
    name: str
    unit: str
    latest: Optional[LatestReading]  # None before the first reading
    state: Optional[str]  # to_state of its newest state change; None if it never changed
    readings: int
    anomalies: int
    forecast: Optional[dict[str, Any]] = None  # the latest forecast (helpers.storage.forecasts.latest)


@dataclass(frozen=True)
class SamplerHealth:
    heartbeat_at: Optional[float]  # None when no sampler holds the lease
    lag_s: Optional[float]
    loop_s: Optional[float]


@dataclass(frozen=True)
class Snapshot:
    sensors: list[SensorSnapshot]
    line_state: Optional[str]
    alarms: dict[tuple[str, str], int]  # (sensor name or "line", rule) -> count
    outbox: dict[str, int]  # status -> count, test e-mails left out
    sampler: SamplerHealth


def _latest_state(sensor_id: Optional[ColumnElement]) -> ScalarSelect:
    """The newest state change's ``to_state`` of a sensor (``sensor_id`` None: the line), as a subquery."""
    target = StateChange.sensor_id.is_(None) if sensor_id is None else StateChange.sensor_id == sensor_id
    return (select(StateChange.to_state).where(target)
            .order_by(StateChange.t.desc(), StateChange.id.desc()).limit(1).scalar_subquery())


def sensors() -> list[SensorSnapshot]:
    """Every sensor with its newest reading, current state and running totals."""
    # max(id) of one sensor_id is a single seek in the (sensor_id, id) index, on SQLite and PostgreSQL alike.
    newest = select(func.max(Reading.id)).where(Reading.sensor_id == Sensor.id).correlate(Sensor).scalar_subquery()
    rows = db.session.execute(
        select(Sensor.id, Sensor.name, Sensor.unit, newest, _latest_state(Sensor.id).correlate(Sensor),
               SensorCounter.readings, SensorCounter.anomalies)
        .outerjoin(SensorCounter, SensorCounter.sensor_id == Sensor.id).order_by(Sensor.id)).all()
    latest = _readings_by_id([reading_id for _, _, _, reading_id, *_ in rows if reading_id is not None])
    ahead = forecasts.every_sensor()
    return [SensorSnapshot(name=name, unit=unit, latest=latest.get(reading_id), state=state,
                           readings=readings or 0, anomalies=anomalies or 0, forecast=ahead.get(sensor_id))
            for sensor_id, name, unit, reading_id, state, readings, anomalies in rows]


def _readings_by_id(ids: list[int]) -> dict[int, LatestReading]:
    if not ids:
        return {}
    rows = db.session.execute(
        select(Reading.id, Reading.t, Reading.value, Reading.z, Reading.anomaly, Reading.anomaly_ratio,
               Reading.lstm_score, Reading.completeness, Reading.detectors, Reading.z_alarm, Reading.z_likelihood)
        .where(Reading.id.in_(ids)))
    return {reading_id: LatestReading(t=t, value=value, z=z, anomaly=bool(anomaly), anomaly_ratio=ratio,
                                      lstm_score=lstm_score, completeness=completeness,
                                      detectors=json.loads(others) if others else {}, z_alarm=z_alarm,
                                      z_likelihood=likelihood)
            for reading_id, t, value, z, anomaly, ratio, lstm_score, completeness, others, z_alarm, likelihood
            in rows}


def line_state() -> Optional[str]:
    return db.session.scalar(select(_latest_state(None)))


def alarm_counts() -> dict[tuple[str, str], int]:
    """Alarms ever raised, per sensor name (``"line"`` for the line's) and rule."""
    rows = db.session.execute(
        select(Sensor.name, Alarm.rule, func.count())
        .select_from(Alarm).outerjoin(Sensor, Sensor.id == Alarm.sensor_id)
        .group_by(Sensor.name, Alarm.rule))
    return {(name if name is not None else LINE, rule): n for name, rule, n in rows}


def outbox_counts() -> dict[str, int]:
    """Alert e-mails per status (queued, sent, failed); test e-mails are not alerts and are left out."""
    rows = db.session.execute(
        select(OutboxMessage.status, func.count()).where(OutboxMessage.kind != "test")
        .group_by(OutboxMessage.status))
    return {status: n for status, n in rows}


def sampler_health() -> SamplerHealth:
    row = db.session.execute(
        select(SamplerLease.owner, SamplerLease.heartbeat_at, SamplerLease.lag_s, SamplerLease.loop_s)
        .where(SamplerLease.id == 1)).first()
    if row is None:
        return SamplerHealth(None, None, None)
    owner, heartbeat_at, lag_s, loop_s = row
    return SamplerHealth(heartbeat_at if owner is not None else None, lag_s, loop_s)


def snapshot() -> Snapshot:
    """Everything ``/metrics`` reports, read now."""
    return Snapshot(sensors=sensors(), line_state=line_state(), alarms=alarm_counts(), outbox=outbox_counts(),
                    sampler=sampler_health())
