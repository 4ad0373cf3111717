"""Exporting a session to rows and replaying one: the database side of the session CSV."""
from __future__ import annotations

import json
from typing import Any, Iterator

from sqlalchemy import delete

from helpers.core.formats.session_file import ReplayPlan, SessionFileError
from helpers.storage import queries
from helpers.storage.db import db
from helpers.storage.models import Scenario, Session, Setting

_READING_COLUMNS = ("sensor",) + queries.READING_FIELDS


def export_rows(session: Session) -> Iterator[dict[str, Any]]:
    """The session row, its scenarios, then every reading, as dicts keyed by the CSV's columns."""
    yield {"record": "session", "t": session.started_at, "seed": session.seed, "settings": session.settings}
    for scenario, sensor in queries.session_scenarios(session.id):
        yield {"record": "scenario", "sensor": sensor, "scenario_id": scenario.id, "kind": scenario.kind,
               "magnitude": scenario.magnitude, "t": scenario.starts_at,
               "start_offset_s": scenario.start_offset_s, "end_offset_s": scenario.end_offset_s}
    for row in queries.session_readings(session.started_at, queries.session_end(session)):
        reading = dict(zip(_READING_COLUMNS, row))
        reading.pop("id")
        reading["record"] = "reading"
        reading["offset_s"] = reading["t"] - session.started_at
        yield reading


def replay(plan: ReplayPlan, now: float) -> tuple[Session, int]:
    """Start a session with the plan's seed and settings and its scenarios at their offsets, in one transaction."""
    sensors = {s.name: s for s in queries.all_sensors()}
    for scenario in plan.scenarios:
        if scenario.sensor not in sensors:
            raise SessionFileError(scenario.line, f"unknown sensor {scenario.sensor!r}")
    unknown = sorted(set(plan.overrides) - set(sensors))
    if unknown:
        raise SessionFileError(1, f"settings name unknown sensor(s) {', '.join(unknown)}")
    db_session = db.session
    queries.forget_read_settings()
    db_session.execute(delete(Setting))
    line = {**queries.load_settings()[0], **plan.line_settings}
    for key, value in line.items():
        db_session.add(Setting(scope=queries.LINE_SCOPE, key=key, value=json.dumps(value)))
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
