"""Classroom sessions: the current one, starting one, its scenarios, exporting and replaying it."""
from __future__ import annotations

import json
import random
from typing import Any, Iterator, Optional

from sqlalchemy import delete, func, select

from helpers.core.formats.session_file import ReplayPlan, SessionFileError
from helpers.storage.db import db
from helpers.storage.models import Scenario, Sensor, Session, Setting
from helpers.storage import line as line_store
from helpers.storage import readings as reading_store
from helpers.storage import settings as settings_store


def current_session() -> Optional[Session]:
    return db.session.scalar(select(Session).order_by(Session.id.desc()).limit(1))


def current_session_id() -> Optional[int]:
    """Cheap enough to ask at every sampler step."""
    return db.session.scalar(select(func.max(Session.id)))


def session_by_id(session_id: int) -> Optional[Session]:
    return db.session.get(Session, session_id)


def session_end(session: Session) -> Optional[float]:
    """When the next session started; None for the current one."""
    return db.session.scalar(select(func.min(Session.started_at)).where(Session.id > session.id))


def start_session(seed: Optional[int], now: float) -> Session:
    """Begin a session; without a seed one is drawn, so every session can be replayed."""
    row = Session(started_at=now, seed=random.getrandbits(31) if seed is None else seed,
                  settings=json.dumps(settings_store.settings_snapshot()))
    db.session.add(row)
    db.session.commit()
    return row


def session_dict(session: Session) -> dict[str, Any]:
    return {"id": session.id, "started_at": session.started_at, "seed": session.seed}


def session_scenarios(session_id: int) -> list[tuple[Scenario, str]]:
    rows = db.session.execute(select(Scenario, Sensor.name).join(Sensor, Sensor.id == Scenario.sensor_id)
                              .where(Scenario.session_id == session_id).order_by(Scenario.id))
    return [(scenario, name) for scenario, name in rows]


_READING_COLUMNS = ("sensor",) + reading_store.READING_FIELDS


def export_rows(session: Session) -> Iterator[dict[str, Any]]:
    """The session row, its scenarios, then every reading, as dicts keyed by the CSV's columns."""
    yield {"record": "session", "t": session.started_at, "seed": session.seed, "settings": session.settings}
    for scenario, sensor in session_scenarios(session.id):
        yield {"record": "scenario", "sensor": sensor, "scenario_id": scenario.id, "kind": scenario.kind,
               "magnitude": scenario.magnitude, "t": scenario.starts_at,
               "start_offset_s": scenario.start_offset_s, "end_offset_s": scenario.end_offset_s}
    for row in reading_store.session_readings(session.started_at, session_end(session)):
        reading = dict(zip(_READING_COLUMNS, row))
        reading.pop("id")
        reading["record"] = "reading"
        reading["offset_s"] = reading["t"] - session.started_at
        yield reading


def replay(plan: ReplayPlan, now: float) -> tuple[Session, int]:
    """Start a session with the plan's seed and settings and its scenarios at their offsets, in one transaction."""
    sensors = {s.name: s for s in line_store.all_sensors()}
    for scenario in plan.scenarios:
        if scenario.sensor not in sensors:
            raise SessionFileError(scenario.line, f"unknown sensor {scenario.sensor!r}")
    unknown = sorted(set(plan.overrides) - set(sensors))
    if unknown:
        raise SessionFileError(1, f"settings name unknown sensor(s) {', '.join(unknown)}")
    db_session = db.session
    settings_store.forget_read_settings()
    db_session.execute(delete(Setting))
    line = {**settings_store.load_settings()[0], **plan.line_settings}
    for key, value in line.items():
        db_session.add(Setting(scope=settings_store.LINE_SCOPE, key=key, value=json.dumps(value)))
    for sensor, values in plan.overrides.items():
        for key, value in values.items():
            if value is not None:
                db_session.add(Setting(scope=sensor, key=key, value=json.dumps(value)))
    row = Session(started_at=now, seed=plan.seed,
                  settings=json.dumps({"line": line, "overrides": plan.overrides}))
    db_session.add(row)
    db_session.flush()
    for s in plan.scenarios:
        db_session.add(Scenario(sensor_id=sensors[s.sensor].id, session_id=row.id, kind=s.kind,
                                magnitude=s.magnitude, starts_at=now + s.start_offset_s,
                                ends_at=now + s.end_offset_s, start_offset_s=s.start_offset_s,
                                end_offset_s=s.end_offset_s, created_at=now))
    db_session.commit()
    return row, len(plan.scenarios)
