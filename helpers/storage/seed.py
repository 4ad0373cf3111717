"""A first start's database: tables, missing columns, the line, its sensors, default settings, a session."""
from __future__ import annotations

import json
import time
from typing import Any, Mapping, Optional, Sequence

from sqlalchemy import case, func, select

from helpers.core.settings import defaults
from helpers.core.line.simulator import SensorProfile
from helpers.config import setting_seeds
from helpers.core.line.simulator import DEFAULT_SENSORS
from helpers.storage.db import add_missing_columns, db
from helpers.storage.models import Line, Reading, SamplerLease, Sensor, SensorCounter, Setting
from helpers.storage import sessions as session_store
from helpers.storage import settings as settings_store


def init_db(profiles: Sequence[SensorProfile], seeds: Mapping[str, Any], simulator_seed: Optional[int] = None,
            now: Optional[float] = None) -> None:
    """Create missing tables and seed what a first start needs; existing rows are left alone."""
    db.create_all()
    add_missing_columns()
    session = db.session
    line = session.scalar(select(Line).where(Line.name == "line-1"))
    if line is None:
        line = Line(name="line-1", source="simulator")
        session.add(line)
        session.flush()
    known = set(session.scalars(select(Sensor.name)))
    for p in profiles:
        if p.name not in known:
            session.add(Sensor(line_id=line.id, name=p.name, label=p.label, unit=p.unit))
    stored = set(session.scalars(select(Setting.key).where(Setting.scope == settings_store.LINE_SCOPE)))
    for key, value in defaults(seeds).items():
        if key not in stored:
            session.add(Setting(scope=settings_store.LINE_SCOPE, key=key, value=json.dumps(value)))
    if session.get(SamplerLease, 1) is None:
        session.add(SamplerLease(id=1))
    session.flush()
    counted = set(session.scalars(select(SensorCounter.sensor_id)))
    for sensor in session.scalars(select(Sensor)):
        if sensor.id not in counted:  # once, for a database from before the counters
            readings, anomalies = session.execute(select(func.count(), func.coalesce(func.sum(
                case((Reading.anomaly, 1), else_=0)), 0)).where(Reading.sensor_id == sensor.id)).one()
            session.add(SensorCounter(sensor_id=sensor.id, readings=readings, anomalies=anomalies))
    session.commit()
    if session_store.current_session() is None:
        session_store.start_session(simulator_seed, time.time() if now is None else now)


def init_configured(config: Mapping[str, Any]) -> None:
    """``init_db`` with the simulated line's sensors and the deployment's setting seeds and simulator seed."""
    init_db(DEFAULT_SENSORS, setting_seeds(config), config["SIMULATOR_SEED"])
