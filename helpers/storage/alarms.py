"""States, alarms, shelves and maintenance windows: the rows the alert side reads and writes."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import func, or_, select

from helpers.storage.db import db
from helpers.storage.models import Alarm, MaintenanceWindow, Sensor, Shelf, StateChange

FLOOD_WINDOW_S = 600.0
# ISA-18.2's rule of thumb: more than 10 alarms in 10 minutes is a flood no operator can follow.
FLOOD_LIMIT = 10
CLASSIFICATIONS = ("false_alarm", "real_fault")


# --- what the sampler restores and writes -------------------------------------

def latest_states() -> dict[Optional[int], str]:
    """Each target's current state (sensor id, or None for the line) from its latest change."""
    return {key: state for key, (state, _since) in latest_changes().items()}


def latest_changes() -> dict[Optional[int], tuple[str, float]]:
    """Each target's current state and since when, from its latest change."""
    latest = (select(StateChange.sensor_id, func.max(StateChange.id).label("id"))
              .group_by(StateChange.sensor_id).subquery())
    rows = db.session.execute(select(StateChange.sensor_id, StateChange.to_state, StateChange.t)
                              .join(latest, StateChange.id == latest.c.id)).all()
    return {sensor_id: (state, t) for sensor_id, state, t in rows}


def open_alarms() -> list[Alarm]:
    return list(db.session.scalars(select(Alarm).where(Alarm.status == "active").order_by(Alarm.id)))


def last_sent_raises() -> dict[tuple[Optional[int], str], float]:
    """``(sensor id, rule) -> raised_at`` of the latest alarm whose message went out (for the cooldown)."""
    rows = db.session.execute(select(Alarm.sensor_id, Alarm.rule, func.max(Alarm.raised_at))
                              .where(Alarm.notify.is_(True)).group_by(Alarm.sensor_id, Alarm.rule)).all()
    return {(sensor_id, rule): t for sensor_id, rule, t in rows}


def add_state_change(sensor_id: Optional[int], t: float, from_state: str, to_state: str, ratio: float,
                     reason: str) -> None:
    db.session.add(StateChange(sensor_id=sensor_id, t=t, from_state=from_state, to_state=to_state,
                               ratio=ratio, reason=reason))


def raise_alarm(sensor_id: Optional[int], rule: str, t: float, reason: str, details: dict, notify: bool,
                suppressed: Optional[str]) -> Alarm:
    """Add the alarm to the caller's transaction (flushed, so it has an id); the caller commits."""
    alarm = Alarm(sensor_id=sensor_id, rule=rule, status="active", raised_at=t, reason=reason,
                  details=json.dumps(details), notify=notify, suppressed=suppressed)
    db.session.add(alarm)
    db.session.flush()
    return alarm


def open_alarm(sensor_id: Optional[int], rule: str) -> Optional[Alarm]:
    return db.session.scalar(select(Alarm).where(Alarm.sensor_id.is_(None) if sensor_id is None
                                                 else Alarm.sensor_id == sensor_id,
                                                 Alarm.rule == rule, Alarm.status == "active")
                             .order_by(Alarm.id.desc()).limit(1))


def suppression(sensor_id: Optional[int], t: float) -> Optional[str]:
    """Why an alarm of this sensor at ``t`` must stay quiet (shelved, maintenance), or None."""
    if sensor_id is not None:
        shelf = db.session.scalar(select(Shelf).where(Shelf.sensor_id == sensor_id, Shelf.created_at <= t,
                                                      Shelf.until > t).order_by(Shelf.until.desc()).limit(1))
        if shelf is not None:
            until = datetime.fromtimestamp(shelf.until).strftime("%Y-%m-%d %H:%M")
            return f"shelved by {shelf.by} until {until}" + (f" ({shelf.reason})" if shelf.reason else "")
    window = db.session.scalar(select(MaintenanceWindow).where(
        MaintenanceWindow.starts_at <= t, MaintenanceWindow.ends_at > t,
        or_(MaintenanceWindow.sensor_id.is_(None), MaintenanceWindow.sensor_id == sensor_id)).limit(1))
    if window is not None:
        return f"maintenance window by {window.by}" + (f": {window.note}" if window.note else "")
    return None


# --- what people see and do ----------------------------------------------------

def alarm_dict(alarm: Alarm, names: dict[int, str]) -> dict[str, Any]:
    return {"id": alarm.id, "sensor": names.get(alarm.sensor_id, "line") if alarm.sensor_id else "line",
            "rule": alarm.rule, "status": alarm.status, "raised_at": alarm.raised_at, "reason": alarm.reason,
            "details": json.loads(alarm.details), "cleared_at": alarm.cleared_at, "clear_reason": alarm.clear_reason,
            "notify": alarm.notify, "suppressed": alarm.suppressed, "acked_at": alarm.acked_at,
            "acked_by": alarm.acked_by, "ack_note": alarm.ack_note, "classification": alarm.classification,
            "classified_by": alarm.classified_by, "classified_at": alarm.classified_at,
            "lifecycle": lifecycle(alarm)}


def lifecycle(alarm: Alarm) -> str:
    """unacknowledged → acknowledged → cleared; a cleared alarm nobody acknowledged still asks for it."""
    if alarm.status == "active":
        return "acknowledged" if alarm.acked_at else "unacknowledged"
    return "cleared" if alarm.acked_at else "cleared_unacknowledged"


def sensor_names() -> dict[int, str]:
    return dict(db.session.execute(select(Sensor.id, Sensor.name)).all())


def list_alarms(limit: int, active_only: bool = False, since_id: Optional[int] = None) -> list[dict[str, Any]]:
    query = select(Alarm).order_by(Alarm.id.desc()).limit(limit)
    if active_only:
        query = query.where(or_(Alarm.status == "active", Alarm.acked_at.is_(None)))
    if since_id is not None:
        query = query.where(Alarm.id > since_id)
    names = sensor_names()
    return [alarm_dict(a, names) for a in db.session.scalars(query)]


def open_count() -> int:
    """Alarms that still need someone: active, or cleared but never acknowledged."""
    return db.session.scalar(select(func.count()).select_from(Alarm).where(
        or_(Alarm.status == "active", Alarm.acked_at.is_(None)))) or 0


def flood(now: float) -> dict[str, Any]:
    count = db.session.scalar(select(func.count()).select_from(Alarm)
                              .where(Alarm.raised_at > now - FLOOD_WINDOW_S)) or 0
    return {"last_10_min": count, "limit": FLOOD_LIMIT, "flood": count > FLOOD_LIMIT}


def get_alarm(alarm_id: int) -> Optional[Alarm]:
    return db.session.get(Alarm, alarm_id)


def acknowledge(alarm: Alarm, by: str, note: str, now: float) -> None:
    alarm.acked_at, alarm.acked_by, alarm.ack_note = now, by, note
    db.session.commit()


def classify(alarm: Alarm, classification: Optional[str], by: str, now: float) -> None:
    alarm.classification, alarm.classified_by, alarm.classified_at = classification, by, now
    db.session.commit()


def real_fault_spans(sensor_id: int, now: float) -> list[tuple[float, float]]:
    """Time spans of the alarms an operator marked as real faults: never training data for the LSTM."""
    rows = db.session.execute(select(Alarm.raised_at, Alarm.cleared_at).where(
        Alarm.classification == "real_fault", or_(Alarm.sensor_id == sensor_id, Alarm.sensor_id.is_(None)))).all()
    return [(start, end if end is not None else now) for start, end in rows]


def operator_marks(start: float, end: Optional[float]) -> dict[str, int]:
    query = select(Alarm.classification, func.count()).where(Alarm.raised_at >= start)
    if end is not None:
        query = query.where(Alarm.raised_at < end)
    counts = dict(db.session.execute(query.group_by(Alarm.classification)).all())
    return {"real_fault": counts.get("real_fault", 0), "false_alarm": counts.get("false_alarm", 0),
            "unmarked": counts.get(None, 0)}


def add_shelf(sensor_id: int, until: float, by: str, reason: str, now: float) -> Shelf:
    shelf = Shelf(sensor_id=sensor_id, until=until, by=by, reason=reason, created_at=now)
    db.session.add(shelf)
    db.session.commit()
    return shelf


def active_shelves(now: float) -> list[dict[str, Any]]:
    names = sensor_names()
    return [{"id": s.id, "sensor": names.get(s.sensor_id), "until": s.until, "by": s.by, "reason": s.reason,
             "created_at": s.created_at}
            for s in db.session.scalars(select(Shelf).where(Shelf.until > now).order_by(Shelf.until))]


def end_shelf(shelf_id: int, now: float) -> bool:
    shelf = db.session.get(Shelf, shelf_id)
    if shelf is None or shelf.until <= now:
        return False
    shelf.until = now
    db.session.commit()
    return True


def add_maintenance(sensor_id: Optional[int], starts_at: float, ends_at: float, note: str, by: str,
                    now: float) -> MaintenanceWindow:
    window = MaintenanceWindow(sensor_id=sensor_id, starts_at=starts_at, ends_at=ends_at, note=note, by=by,
                               created_at=now)
    db.session.add(window)
    db.session.commit()
    return window


def maintenance_windows(now: float) -> list[dict[str, Any]]:
    names = sensor_names()
    return [{"id": w.id, "sensor": names.get(w.sensor_id) if w.sensor_id else None, "starts_at": w.starts_at,
             "ends_at": w.ends_at, "note": w.note, "by": w.by, "active": w.starts_at <= now < w.ends_at}
            for w in db.session.scalars(select(MaintenanceWindow).where(MaintenanceWindow.ends_at > now)
                                        .order_by(MaintenanceWindow.starts_at))]


def delete_maintenance(window_id: int) -> bool:
    window = db.session.get(MaintenanceWindow, window_id)
    if window is None:
        return False
    db.session.delete(window)
    db.session.commit()
    return True


def state_timeline(limit: int, since: Optional[float] = None) -> list[dict[str, Any]]:
    query = select(StateChange).order_by(StateChange.id.desc()).limit(limit)
    if since is not None:
        query = query.where(StateChange.t >= since)
    names = sensor_names()
    return [{"id": c.id, "target": names.get(c.sensor_id, "line") if c.sensor_id else "line", "t": c.t,
             "from": c.from_state, "to": c.to_state, "ratio": c.ratio, "reason": c.reason}
            for c in db.session.scalars(query)]
