"""Alarm routes: the list and flood indicator, acknowledge, classify, shelve, maintenance windows, states."""
from __future__ import annotations

import time
from typing import Any, Optional

from flask import request

from helpers.storage import alarms as store
from helpers.storage import line as line_store
from helpers.storage import settings as settings_store
from helpers.web.api import bp
from helpers.web.errors import ApiError
from helpers.web.params import int_arg, json_object, number, sensor_named

MAX_NOTE = 1000


def _text(body: dict, field: str, required: bool, limit: int) -> str:
    value = body.get(field, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ApiError(400, f"{field} must be text", field)
    value = value.strip()
    if required and not value:
        raise ApiError(400, f"{field} is required (who does this)", field)
    if len(value) > limit:
        raise ApiError(400, f"{field} must be at most {limit} characters", field)
    return value


def _alarm(alarm_id: int):
    alarm = store.get_alarm(alarm_id)
    if alarm is None:
        raise ApiError(404, f"no alarm {alarm_id}", "id")
    return alarm


@bp.get("/api/alarms", endpoint="alarms")
def list_alarms():
    limit = int_arg("limit", 50, 1, 1000)
    since = int_arg("since", None, 0, 2**31 - 1)  # alarm ids are INTEGER
    active = request.args.get("active") in ("1", "true")
    now = time.time()
    return {"alarms": store.list_alarms(limit, active_only=active, since_id=since), "flood": store.flood(now),
            "open_count": store.open_count(),
            "shelves": store.active_shelves(now), "maintenance": store.maintenance_windows(now)}


@bp.post("/api/alarms/<int:alarm_id>/ack", endpoint="acknowledge_alarm")
def acknowledge_alarm(alarm_id: int):
    body = json_object()
    alarm = _alarm(alarm_id)
    by, note = _text(body, "by", True, 64), _text(body, "note", False, MAX_NOTE)
    if alarm.acked_at is not None:
        raise ApiError(409, f"alarm {alarm_id} was acknowledged by {alarm.acked_by} already", "id")
    store.acknowledge(alarm, by, note, time.time())
    return store.alarm_dict(alarm, store.sensor_names())


@bp.post("/api/alarms/<int:alarm_id>/classify", endpoint="classify_alarm")
def classify_alarm(alarm_id: int):
    body = json_object()
    alarm = _alarm(alarm_id)
    by = _text(body, "by", True, 64)
    classification = body.get("classification")
    if classification is not None and classification not in store.CLASSIFICATIONS:
        raise ApiError(400, f"classification must be one of {', '.join(store.CLASSIFICATIONS)} or null",
                       "classification")
    store.classify(alarm, classification, by, time.time())
    return store.alarm_dict(alarm, store.sensor_names())


@bp.post("/api/shelves", endpoint="shelve")
def shelve():
    body = json_object()
    sensor = sensor_named(body.get("sensor"))
    by, reason = _text(body, "by", True, 64), _text(body, "reason", False, MAX_NOTE)
    now = time.time()
    minutes = number(body, "minutes", None, 1, 7 * 24 * 60)
    shelf = store.add_shelf(sensor.id, now + minutes * 60, by, reason, now)
    return {"id": shelf.id, "sensor": sensor.name, "until": shelf.until, "by": by, "reason": reason}, 201


@bp.delete("/api/shelves/<int:shelf_id>", endpoint="unshelve")
def unshelve(shelf_id: int):
    if not store.end_shelf(shelf_id, time.time()):
        raise ApiError(404, f"no active shelf {shelf_id}", "id")
    return {"ended": shelf_id}


@bp.post("/api/maintenance", endpoint="add_maintenance")
def add_maintenance():
    body = json_object()
    name: Optional[Any] = body.get("sensor")
    sensor = sensor_named(name) if name not in (None, "") else None
    by, note = _text(body, "by", True, 64), _text(body, "note", False, MAX_NOTE)
    now = time.time()
    starts = number(body, "starts_at", now, 0, 1e11)
    ends = number(body, "ends_at", None, 0, 1e11)
    if ends <= starts:
        raise ApiError(400, "ends_at must be after starts_at", "ends_at")
    if ends <= now:
        raise ApiError(400, "ends_at is in the past", "ends_at")
    window = store.add_maintenance(sensor.id if sensor else None, starts, ends, note, by, now)
    return {"id": window.id, "sensor": sensor.name if sensor else None, "starts_at": starts, "ends_at": ends,
            "note": note, "by": by}, 201


@bp.delete("/api/maintenance/<int:window_id>", endpoint="delete_maintenance")
def delete_maintenance(window_id: int):
    if not store.delete_maintenance(window_id):
        raise ApiError(404, f"no maintenance window {window_id}", "id")
    return {"deleted": window_id}


@bp.get("/api/states", endpoint="states")
def states():
    """Each sensor's and the line's state now, with the thresholds that decide it, and the recent changes."""
    line, overrides = settings_store.load_settings()
    current = store.latest_changes()
    changes = store.state_timeline(int_arg("limit", 100, 1, 1000))
    rules = ("high_usage_enter", "high_usage_exit", "high_usage_hold_s")
    sensors = {}
    for sensor in line_store.all_sensors():
        settings = settings_store.effective(line, overrides, sensor.name)
        state, since = current.get(sensor.id, ("normal", None))
        sensors[sensor.name] = {"state": state, "since": since, **{k: settings[k] for k in rules}}
    line_state, line_since = current.get(None, ("normal", None))
    return {"sensors": sensors, "line": {"state": line_state, "since": line_since,
                                         **{k: line[k] for k in rules}},
            "timeline": changes}
