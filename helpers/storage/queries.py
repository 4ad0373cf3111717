"""The query functions the sampler, the routes and the CLI need, in one place."""
from __future__ import annotations

import json
import random
import time
from typing import Any, Iterable, Mapping, Optional, Sequence

from flask import g, has_request_context
from sqlalchemy import bindparam, case, delete, func, insert, select, update

from helpers.core.scenarios import Scenario as ScenarioSpec
from helpers.core.settings_schema import SETTINGS, defaults
from helpers.core.simulator import SensorProfile
from helpers.core.verdict import VERDICT_SOURCES
from helpers.storage.alarms import real_fault_spans
from helpers.storage.db import add_missing_columns, db
from helpers.storage.models import (BaselineEvent, Line, LineScore, Reading, SamplerLease, Scenario, Sensor,
                                    SensorCounter, Session, Setting)

LINE_SCOPE = ""
READING_FIELDS = ("id", "t", "value", "mean", "std", "z", "threshold", "anomaly", "anomaly_ratio",
                  "baseline_state", "completeness", "scenario_id", "zscore_anomaly", "lstm_score",
                  "lstm_threshold", "lstm_anomaly", "detectors", "verdict_source", "z_alarm",
                  "z_alarm_reason", "z_likelihood", "counted", "disagree")


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
    stored = set(session.scalars(select(Setting.key).where(Setting.scope == LINE_SCOPE)))
    for key, value in defaults(seeds).items():
        if key not in stored:
            session.add(Setting(scope=LINE_SCOPE, key=key, value=json.dumps(value)))
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
    if current_session() is None:
        start_session(simulator_seed, time.time() if now is None else now)


# --- sensors ---------------------------------------------------------------

def all_sensors() -> list[Sensor]:
    return list(db.session.scalars(select(Sensor).order_by(Sensor.id)))


def sensor_by_name(name: str) -> Optional[Sensor]:
    return db.session.scalar(select(Sensor).where(Sensor.name == name))


# --- settings --------------------------------------------------------------

_SETTINGS = select(Setting.scope, Setting.key, Setting.value)


def load_settings() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Line-wide values (schema defaults where a row is missing) and per-sensor overrides.

    Read once per web request (the dashboard's tick asks for them from three
    places) and copied to each caller; a request that saves settings reads them anew.
    """
    if not has_request_context():
        return _read_settings()
    if "linewatch_settings" not in g:
        g.linewatch_settings = _read_settings()
    line, overrides = g.linewatch_settings
    return dict(line), {scope: dict(values) for scope, values in overrides.items()}


def forget_read_settings() -> None:
    """The request is about to change settings: what it read before is stale."""
    if has_request_context():
        g.pop("linewatch_settings", None)


def _read_settings() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    line = defaults()
    overrides: dict[str, dict[str, Any]] = {}
    for scope, key, value in db.session.connection().execute(_SETTINGS):
        if key not in SETTINGS:
            continue
        if scope == LINE_SCOPE:
            line[key] = json.loads(value)
        else:
            overrides.setdefault(scope, {})[key] = json.loads(value)
    return line, overrides


def effective(line: Mapping[str, Any], overrides: Mapping[str, Mapping[str, Any]], sensor: str) -> dict[str, Any]:
    """A sensor's settings: its overrides over the line-wide values."""
    values = {k: v for k, v in line.items() if SETTINGS[k].per_sensor}
    values.update(overrides.get(sensor, {}))
    return values


def control_state() -> dict[str, Any]:
    """Everything a dashboard needs to show the controls, line-wide and per sensor."""
    line, overrides = load_settings()
    state: dict[str, Any] = dict(line)
    state["sensors"] = {
        s.name: {"overrides": overrides.get(s.name, {}), "effective": effective(line, overrides, s.name)}
        for s in all_sensors()
    }
    # The combined verdict sources with what each means (a sensor's chosen detectors can be one too).
    state["verdict_sources"] = [{"name": name, "text": text} for name, text in VERDICT_SOURCES.items()]
    return state


def save_settings(changes: Mapping[str, Any], scope: str = LINE_SCOPE) -> None:
    """Write validated changes in one transaction; ``None`` removes a sensor override."""
    save_scoped({scope: changes})


def save_scoped(changes_by_scope: Mapping[str, Mapping[str, Any]]) -> None:
    """Write validated changes for several scopes in one transaction."""
    session = db.session
    forget_read_settings()
    for scope, changes in changes_by_scope.items():
        for key, value in changes.items():
            session.execute(delete(Setting).where(Setting.scope == scope, Setting.key == key))
            if value is not None:
                session.add(Setting(scope=scope, key=key, value=json.dumps(value)))
    session.commit()


# --- baseline events -------------------------------------------------------

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


# --- readings --------------------------------------------------------------

def bump_counters(rows: Sequence[Mapping[str, Any]]) -> None:
    """Add a batch of readings to the per-sensor running totals (in the caller's transaction)."""
    totals: dict[int, list[int]] = {}
    for row in rows:
        total = totals.setdefault(row["sensor_id"], [0, 0])
        total[0] += 1
        total[1] += bool(row["anomaly"])
    for sensor_id, (readings, anomalies) in totals.items():
        db.session.execute(update(SensorCounter).where(SensorCounter.sensor_id == sensor_id).values(
            readings=SensorCounter.readings + readings, anomalies=SensorCounter.anomalies + anomalies))


def insert_readings(rows: Sequence[Mapping[str, Any]]) -> None:
    """Bulk insert (one executemany): the sampler's hot path."""
    if rows:
        db.session.execute(insert(Reading), list(rows))


# Built once: the dashboard polls this for every sensor every second, and building this wide select
# (and matching it to the cached compiled one) cost more than running it.
_LATEST = (select(*[getattr(Reading, f) for f in READING_FIELDS])
           .where(Reading.sensor_id == bindparam("sensor_id"))
           .order_by(Reading.id.desc()).limit(bindparam("window")))
_LATEST_SINCE = _LATEST.where(Reading.id > bindparam("since_id"))


def latest_readings(sensor_id: int, window: int, since_id: Optional[int] = None) -> list[dict[str, Any]]:
    """The newest ``window`` readings of a sensor (after ``since_id`` if given), oldest first."""
    params = {"sensor_id": sensor_id, "window": window}
    query = _LATEST
    if since_id is not None:
        query, params["since_id"] = _LATEST_SINCE, since_id
    # Core execution: plain tuples, without the ORM's per-row bookkeeping.
    rows = db.session.connection().execute(query, params).all()
    return [dict(zip(READING_FIELDS, row)) for row in reversed(rows)]


def restore_history(sensor_id: int, limit: int, since_t: Optional[float]) -> list[tuple[float, Optional[float], bool, bool]]:
    """The last ``limit`` readings since ``since_t`` as ``(value, z, z-score anomaly, anomaly)``, oldest first."""
    query = select(Reading.value, Reading.z, Reading.zscore_anomaly, Reading.anomaly).where(Reading.sensor_id == sensor_id)
    if since_t is not None:
        query = query.where(Reading.t >= since_t)
    rows = db.session.execute(query.order_by(Reading.id.desc()).limit(limit)).all()
    return [tuple(r) for r in reversed(rows)]


def recent_values(sensor_id: int, limit: int, since_t: Optional[float]) -> list[tuple[float, float]]:
    """The last ``limit`` ``(t, value)`` of a sensor since ``since_t``, oldest first: history for a detector to learn."""
    query = select(Reading.t, Reading.value).where(Reading.sensor_id == sensor_id)
    if since_t is not None:
        query = query.where(Reading.t >= since_t)
    rows = db.session.execute(query.order_by(Reading.id.desc()).limit(limit)).all()
    return [tuple(r) for r in reversed(rows)]


def last_reading_times() -> dict[int, float]:
    """Each sensor's newest reading time, so a restarted sampler continues after it."""
    rows = db.session.execute(select(Reading.sensor_id, func.max(Reading.t)).group_by(Reading.sensor_id))
    return {sensor_id: t for sensor_id, t in rows}


# --- scenarios -------------------------------------------------------------

def create_scenario(sensor: Sensor, kind: str, magnitude: float, start_offset_s: float, duration_s: float,
                    now: float, session: Optional[Session] = None) -> Scenario:
    """Schedule a scenario ``start_offset_s`` after the start of ``session`` (default: the current one)."""
    session = session or current_session()
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


def sensor_statuses(sensors: Optional[Sequence[Sensor]] = None) -> list[dict[str, Any]]:
    """Each sensor (of ``sensors``, default all) with its newest reading's verdict: what an overview card shows."""
    statuses = []
    for sensor in all_sensors() if sensors is None else sensors:
        latest = latest_readings(sensor.id, 1)
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


# --- sessions --------------------------------------------------------------

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


def settings_snapshot() -> dict[str, Any]:
    line, overrides = load_settings()
    return {"line": line, "overrides": overrides}


def start_session(seed: Optional[int], now: float) -> Session:
    """Begin a session; without a seed one is drawn, so every session can be replayed."""
    row = Session(started_at=now, seed=random.getrandbits(31) if seed is None else seed,
                  settings=json.dumps(settings_snapshot()))
    db.session.add(row)
    db.session.commit()
    return row


def session_dict(session: Session) -> dict[str, Any]:
    return {"id": session.id, "started_at": session.started_at, "seed": session.seed}


def session_scenarios(session_id: int) -> list[tuple[Scenario, str]]:
    rows = db.session.execute(select(Scenario, Sensor.name).join(Sensor, Sensor.id == Scenario.sensor_id)
                              .where(Scenario.session_id == session_id).order_by(Scenario.id))
    return [(scenario, name) for scenario, name in rows]


DETECTOR_FLAGS = {"zscore": Reading.zscore_anomaly, "lstm": Reading.lstm_anomaly}


def session_anomaly_times(start: float, end: Optional[float], detector: str = "zscore") -> dict[int, list[float]]:
    """Times of the readings ``detector`` flagged in [start, end), by sensor id, in order (a partial index serves it)."""
    flag = DETECTOR_FLAGS[detector]
    query = select(Reading.sensor_id, Reading.t).where(flag.is_(True), Reading.t >= start)
    if end is not None:
        query = query.where(Reading.t < end)
    found: dict[int, list[float]] = {}
    for sensor_id, t in db.session.execute(query.order_by(Reading.t)):
        found.setdefault(sensor_id, []).append(t)
    return found


def session_readings(start: float, end: Optional[float], chunk: int = 5000) -> Iterable[tuple]:
    """Every reading in [start, end) with its sensor name, streamed in chunks."""
    query = (select(Sensor.name, *[getattr(Reading, f) for f in READING_FIELDS])
             .join(Sensor, Sensor.id == Reading.sensor_id).where(Reading.t >= start))
    if end is not None:
        query = query.where(Reading.t < end)
    result = db.session.execute(query.order_by(Reading.id).execution_options(yield_per=chunk))
    for row in result:
        yield tuple(row)


def recent_anomalies(limit: int, sensor_id: Optional[int] = None) -> list[dict[str, Any]]:
    fields = ("id", "t", "value", "mean", "std", "z", "threshold", "scenario_id", "zscore_anomaly", "lstm_score",
              "lstm_threshold", "lstm_anomaly", "detectors", "z_alarm", "z_alarm_reason", "z_likelihood",
              "verdict_source", "counted", "disagree")
    query = (select(Sensor.name, Sensor.label, Sensor.unit, *[getattr(Reading, f) for f in fields])
             .join(Sensor, Sensor.id == Reading.sensor_id).where(Reading.anomaly.is_(True)))
    if sensor_id is not None:
        query = query.where(Reading.sensor_id == sensor_id)
    rows = db.session.execute(query.order_by(Reading.t.desc()).limit(limit))
    return [dict(zip(("sensor", "label", "unit") + fields, row)) for row in rows]


def readings_since_time(sensor_id: int, since_t: float, until_t: Optional[float] = None) -> list[dict[str, Any]]:
    """A sensor's readings from ``since_t`` on (before ``until_t``), oldest first (the (sensor_id, t) index serves it)."""
    columns = [getattr(Reading, f) for f in READING_FIELDS]
    query = select(*columns).where(Reading.sensor_id == sensor_id, Reading.t >= since_t)
    if until_t is not None:
        query = query.where(Reading.t < until_t)
    return [dict(zip(READING_FIELDS, row)) for row in db.session.connection().execute(query.order_by(Reading.id))]


def training_readings(sensor_id: int, data_from: Optional[float], data_to: Optional[float],
                      limit: int) -> tuple[list[float], int, Optional[float], Optional[float]]:
    """Values to learn normal operation from, oldest first, with how many were left out and the time span.

    Without a range: the newest ``limit`` readings. Left out: readings without a
    z-score verdict (learning), flagged by any detector, inside an injected
    scenario, or inside an alarm an operator marked as a real fault — otherwise
    a slow fault would be learned as normal.
    """
    query = select(Reading.t, Reading.value, Reading.z, Reading.zscore_anomaly, Reading.anomaly,
                   Reading.scenario_id).where(Reading.sensor_id == sensor_id)
    if data_from is not None:
        query = query.where(Reading.t >= data_from)
    if data_to is not None:
        query = query.where(Reading.t < data_to)
    rows = db.session.connection().execute(query.order_by(Reading.id.desc()).limit(limit)).all()
    rows.reverse()
    faults = real_fault_spans(sensor_id, time.time())
    # (Row.t is SQLAlchemy's tuple accessor, so columns are unpacked by position.)
    kept = [(t, value) for t, value, z, z_anomaly, anomaly, scenario_id in rows
            if z is not None and not z_anomaly and not anomaly and scenario_id is None
            and not any(start <= t <= end for start, end in faults)]
    return ([value for _, value in kept], len(rows) - len(kept),
            kept[0][0] if kept else None, kept[-1][0] if kept else None)


def values_between(sensor_id: int, start: float, end: float) -> tuple[list[float], list[float], list[bool]]:
    """A sensor's readings in [start, end): times, values, and whether each was judged normal by the z-score."""
    rows = db.session.connection().execute(
        select(Reading.t, Reading.value, Reading.z, Reading.zscore_anomaly)
        .where(Reading.sensor_id == sensor_id, Reading.t >= start, Reading.t < end).order_by(Reading.id)).all()
    return ([r[0] for r in rows], [r[1] for r in rows], [r[2] is not None and not r[3] for r in rows])


def scenarios_between(sensor_id: int, start: float, end: float) -> list[Scenario]:
    return list(db.session.scalars(select(Scenario).where(
        Scenario.sensor_id == sensor_id, Scenario.starts_at < end, Scenario.ends_at > start)))


# --- the line as a whole ----------------------------------------------------

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


# --- backtests ---------------------------------------------------------------

BACKTEST_FIELDS = ("t", "value", "zscore_anomaly", "lstm_score", "lstm_threshold", "lstm_anomaly")


def count_between(sensor_id: int, start: float, end: float) -> int:
    return db.session.scalar(select(func.count()).select_from(Reading).where(
        Reading.sensor_id == sensor_id, Reading.t >= start, Reading.t < end))


def backtest_rows(sensor_id: int, start: float, end: float, chunk: int = 20_000) -> Iterable[tuple]:
    """A sensor's readings in [start, end) as BACKTEST_FIELDS tuples, oldest first, fetched in chunks.

    On a connection of its own: a server-side cursor (PostgreSQL) must neither outlive the commits the
    caller makes meanwhile (progress reports) nor turn the session's later statements into cursors.
    """
    columns = [getattr(Reading, f) for f in BACKTEST_FIELDS]
    with db.engine.connect() as conn:
        result = conn.execution_options(stream_results=True).execute(
            select(*columns).where(Reading.sensor_id == sensor_id, Reading.t >= start, Reading.t < end)
            .order_by(Reading.t, Reading.id))
        for part in result.partitions(chunk):
            yield from part


def values_before(sensor_id: int, t: float, count: int) -> list[float]:
    """The ``count`` readings of a sensor just before ``t``, oldest first (the detector's warm-up)."""
    rows = db.session.connection().execute(
        select(Reading.value).where(Reading.sensor_id == sensor_id, Reading.t < t)
        .order_by(Reading.t.desc()).limit(count)).all()
    return [r[0] for r in reversed(rows)]
