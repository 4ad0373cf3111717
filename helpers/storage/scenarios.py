"""Injected scenarios: scheduling one, those still open for the sampler, listing them."""
from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import select

from helpers.core.line.scenarios import Scenario as ScenarioSpec
from helpers.storage.db import db
from helpers.storage.models import Scenario, Sensor, Session
from helpers.storage import sessions as session_store


def create_scenario(sensor: Sensor, kind: str, magnitude: float, start_offset_s: float, duration_s: float,
                    now: float, session: Optional[Session] = None) -> Scenario:
    """Schedule a scenario ``start_offset_s`` after the start of ``session`` (default: the current one)."""
    session = session or session_store.current_session()
    starts_at = session.started_at + start_offset_s
    scenario = Scenario(sensor_id=sensor.id, session_id=session.id, kind=kind, magnitude=magnitude,
                        starts_at=starts_at, ends_at=starts_at + duration_s, start_offset_s=start_offset_s,
                        end_offset_s=start_offset_s + duration_s, created_at=now)
    db.session.add(scenario)
    db.session.commit()
    return scenario


def open_scenarios(session_id: int, now: float) -> dict[int, list[ScenarioSpec]]:
    """The session's scenarios not yet over, by sensor id, with times as offsets from the session start."""
    rows = db.session.scalars(select(Scenario).where(Scenario.session_id == session_id, Scenario.ends_at > now)
                              .order_by(Scenario.start_offset_s))
    found: dict[int, list[ScenarioSpec]] = {}
    for s in rows:
        found.setdefault(s.sensor_id, []).append(
            ScenarioSpec(kind=s.kind, magnitude=s.magnitude, starts_at=s.start_offset_s, ends_at=s.end_offset_s,
                         id=s.id))
    return found


def list_scenarios(sensor_id: Optional[int] = None, limit: int = 100) -> list[Scenario]:
    query = select(Scenario)
    if sensor_id is not None:
        query = query.where(Scenario.sensor_id == sensor_id)
    return list(reversed(list(db.session.scalars(query.order_by(Scenario.id.desc()).limit(limit)))))


def scenario_dict(s: Scenario, sensor_name: str) -> dict[str, Any]:
    return {"id": s.id, "sensor": sensor_name, "kind": s.kind, "magnitude": s.magnitude,
            "starts_at": s.starts_at, "ends_at": s.ends_at, "session_id": s.session_id,
            "start_offset_s": s.start_offset_s, "end_offset_s": s.end_offset_s}


def scenarios_between(sensor_id: int, start: float, end: float) -> list[Scenario]:
    return list(db.session.scalars(select(Scenario).where(
        Scenario.sensor_id == sensor_id, Scenario.starts_at < end, Scenario.ends_at > start)))
