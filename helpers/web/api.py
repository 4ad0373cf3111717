"""The JSON API (the original route names, kept): parse, call one function, respond."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from helpers.core.scenarios import SCENARIO_KINDS
from helpers.core.settings_schema import SettingError, validate_changes
from helpers.storage import lease, queries
from helpers.web.errors import ApiError
from helpers.web.params import int_arg, json_object, number, sensor_named

bp = Blueprint("api", __name__)
MAX_WINDOW = 10_000
MAX_SCENARIO_SECONDS = 3600.0


@bp.after_request
def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _point(row: dict[str, Any]) -> dict[str, Any]:
    row["anomaly"] = bool(row["anomaly"])
    row["timestamp"] = datetime.fromtimestamp(row["t"], timezone.utc).isoformat()
    return row


@bp.get("/get_data", endpoint="get_data")
def get_data():
    sensor_name = request.args.get("sensor")
    if not sensor_name:
        raise ApiError(400, "sensor is required", "sensor")
    sensor = sensor_named(sensor_name)
    window = int_arg("window", 100, 1, MAX_WINDOW)
    since = int_arg("since", None, 0, 2**63 - 1)
    points = [_point(r) for r in queries.latest_readings(sensor.id, window, since)]
    line, overrides = queries.load_settings()
    settings = queries.effective(line, overrides, sensor.name)
    latest = points[-1] if points else (queries.latest_readings(sensor.id, 1) or [None])[0]
    return {
        "sensor": sensor.name, "label": sensor.label, "unit": sensor.unit, "window": window,
        "running": line["running"], "z_threshold": settings["z_threshold"],
        "completeness": latest["completeness"] if latest else 0.0,
        "anomaly_ratio": latest["anomaly_ratio"] if latest else 0.0,
        "baseline_state": latest["baseline_state"] if latest else "learning",
        # Lets a client notice that the database was replaced under it (ids restarted).
        "latest_id": latest["id"] if latest else None,
        "points": points,
    }


@bp.get("/get_control", endpoint="get_control")
def get_control():
    return queries.control_state()


@bp.post("/send_control", endpoint="send_control")
def send_control():
    body = dict(json_object())
    sensor_name = body.pop("sensor", None)
    rebaseline = body.pop("rebaseline", None)
    sensor = sensor_named(sensor_name) if sensor_name is not None else None
    to_rebaseline = sensor_named(rebaseline, "rebaseline") if rebaseline is not None else None
    if sensor is None and to_rebaseline is None and not body:
        raise ApiError(400, "nothing to change: give a setting, or rebaseline with a sensor name", "body")
    try:
        changes = validate_changes(body, per_sensor=sensor is not None)
    except SettingError as exc:
        raise ApiError(400, str(exc), exc.field) from None
    queries.save_settings(changes, scope=sensor.name if sensor else queries.LINE_SCOPE)
    if to_rebaseline is not None:
        queries.request_rebaseline(to_rebaseline, time.time())
    return queries.control_state()


@bp.get("/api/sensors", endpoint="sensors")
def sensors():
    return {"sensors": queries.sensor_statuses()}


@bp.post("/api/scenarios", endpoint="scenarios")
def inject_scenario():
    body = json_object()
    sensor = sensor_named(body.get("sensor"))
    kind = body.get("kind")
    if kind not in SCENARIO_KINDS:
        raise ApiError(400, f"kind must be one of {', '.join(SCENARIO_KINDS)}", "kind")
    duration = number(body, "duration_s", None, 0.001, MAX_SCENARIO_SECONDS)
    magnitude = number(body, "magnitude", SCENARIO_KINDS[kind][0], -1000.0, 1000.0)
    delay = number(body, "start_in_s", 0.0, 0.0, MAX_SCENARIO_SECONDS)
    now = time.time()
    scenario = queries.create_scenario(sensor, kind, magnitude, now + delay, now + delay + duration, now)
    return {"scenario": queries.scenario_dict(scenario, sensor.name)}, 201


@bp.get("/api/scenarios", endpoint="list_scenarios")
def list_scenarios():
    sensor = sensor_named(request.args["sensor"]) if "sensor" in request.args else None
    limit = int_arg("limit", 100, 1, 1000)
    names = {s.id: s.name for s in queries.all_sensors()}
    found = queries.list_scenarios(sensor.id if sensor else None, limit)
    return {"scenarios": [queries.scenario_dict(s, names[s.sensor_id]) for s in found]}


@bp.get("/healthz", endpoint="healthz")
def healthz():
    age = lease.heartbeat_age(time.time())
    stale_after = current_app.config["SAMPLER_STALE_SECONDS"]
    if age is None:
        return jsonify(status="down", error="sampler_down", message="no sampler holds the lease",
                       heartbeat_age_s=None), 503
    if age > stale_after:
        return jsonify(status="stale", error="sampler_stale", message=f"sampler silent for {age:.1f} s",
                       heartbeat_age_s=round(age, 3)), 503
    return {"status": "ok", "heartbeat_age_s": round(age, 3)}
