"""Reading routes (the original names, kept): one sensor's data, all sensors, anomalies, scenarios, health."""
from __future__ import annotations

import json
import math
import time
from datetime import datetime, timezone
from typing import Any

from flask import current_app, jsonify, request

from helpers.core.formats.thinning import keep_anomalies_and_every_kth
from helpers.core.line.scenarios import SCENARIO_KINDS
from helpers.core.verdict import decide
from helpers.storage import lease, sampler_health
from helpers.storage import line as line_store
from helpers.storage import readings as reading_store
from helpers.storage import scenarios as scenario_store
from helpers.storage import sessions as session_store
from helpers.storage import settings as settings_store
from helpers.web.api import bp
from helpers.web.errors import ApiError
from helpers.web.params import int_arg, json_object, number, sensor_named

MAX_WINDOW = 10_000
MAX_SECONDS = 86_400
SECONDS_MAX_POINTS = 2_000
MAX_SCENARIO_SECONDS = 3600.0
AROUND_SECONDS = 900


def chance_ratio(threshold: float) -> float:
    """The share of Gaussian noise beyond ±threshold stds: what a healthy line flags by chance."""
    return math.erfc(threshold / math.sqrt(2.0))


def _point(row: dict[str, Any], source: str = "zscore") -> dict[str, Any]:
    row["anomaly"] = bool(row["anomaly"])
    row["timestamp"] = datetime.fromtimestamp(row["t"], timezone.utc).isoformat()
    return with_verdicts(row, source)


def with_verdicts(row: dict[str, Any], source: str = "zscore") -> dict[str, Any]:
    """The other detectors' stored verdicts decoded, whose verdicts counted and whether the detectors split.

    As the sampler stored them; a reading stored before they were kept is decided
    now by the same rule, under its stored verdict source (``source`` without one).
    """
    row["detectors"] = json.loads(row["detectors"]) if row.get("detectors") else {}
    if row.get("counted") is None or row.get("disagree") is None:
        decision = decide(row.get("verdict_source") or source,
                          None if row.get("z") is None else bool(row["zscore_anomaly"]), row.get("lstm_anomaly"),
                          {name: v.get("anomaly") for name, v in row["detectors"].items()})
        row["counted"], row["disagree"] = list(decision.counted), decision.disagree
    else:
        row["counted"], row["disagree"] = [k for k in row["counted"].split(",") if k], bool(row["disagree"])
    return row


@bp.get("/get_data", endpoint="get_data")
def get_data():
    sensor_name = request.args.get("sensor")
    if not sensor_name:
        raise ApiError(400, "sensor is required", "sensor")
    sensor = sensor_named(sensor_name)
    window = int_arg("window", 100, 1, MAX_WINDOW)
    since = int_arg("since", None, 0, 2**63 - 1)
    seconds = int_arg("seconds", None, 1, MAX_SECONDS)
    around = int_arg("around", None, 0, 10**11)
    downsampled = False
    if around is not None and since is None:
        # A moment in the past (an alert e-mail's link): the readings centred on it.
        span = seconds or AROUND_SECONDS
        rows = reading_store.readings_since_time(sensor.id, around - span / 2, around + span / 2)
        downsampled = len(rows) > SECONDS_MAX_POINTS
        if downsampled:
            rows = keep_anomalies_and_every_kth(rows, SECONDS_MAX_POINTS)
    elif seconds is not None and since is None:
        rows = reading_store.readings_since_time(sensor.id, time.time() - seconds)
        downsampled = len(rows) > SECONDS_MAX_POINTS
        if downsampled:
            rows = keep_anomalies_and_every_kth(rows, SECONDS_MAX_POINTS)
    else:
        rows = reading_store.latest_readings(sensor.id, window, since)
    line, overrides = settings_store.load_settings()
    settings = settings_store.effective(line, overrides, sensor.name)
    points = [_point(r, settings["verdict_source"]) for r in rows]
    latest = points[-1] if points else (reading_store.latest_readings(sensor.id, 1) or [None])[0]
    return {
        "sensor": sensor.name, "label": sensor.label, "unit": sensor.unit, "window": window,
        "running": line["running"], "z_threshold": settings["z_threshold"],
        "chance_ratio": chance_ratio(settings["z_threshold"]),
        "completeness": latest["completeness"] if latest else 0.0,
        "anomaly_ratio": latest["anomaly_ratio"] if latest else 0.0,
        "baseline_state": latest["baseline_state"] if latest else "learning",
        # Lets a client notice that the database was replaced under it (ids restarted).
        "latest_id": latest["id"] if latest else None,
        "downsampled": downsampled,
        "points": points,
    }


@bp.get("/api/overview", endpoint="overview")
def overview():
    return line_overview(*overview_args("since"))


def overview_args(since_name: str) -> tuple[Any, int]:
    """The overview's ``since`` (read from ``since_name``) and ``points``, checked as /api/overview checks them."""
    return int_arg(since_name, None, 0, 2**63 - 1), int_arg("points", 60, 1, 1000)


def line_overview(since, per_sensor: int) -> dict[str, Any]:
    """Every sensor's status and its newest ``per_sensor`` points after ``since``: the overview cards."""
    line, overrides = settings_store.load_settings()
    sensors = []
    latest_id = None
    known = line_store.all_sensors()
    ids = {s.name: s.id for s in known}
    for status in line_store.sensor_statuses(known):
        threshold = settings_store.effective(line, overrides, status["name"])["z_threshold"]
        points = [{"id": r["id"], "t": r["t"], "value": r["value"], "anomaly": bool(r["anomaly"])}
                  for r in reading_store.latest_readings(ids[status["name"]], per_sensor, since)]
        if status["last_id"] is not None:
            latest_id = max(latest_id or 0, status["last_id"])
        sensors.append({**status, "z_threshold": threshold, "chance_ratio": chance_ratio(threshold),
                        "points": points})
    return {"running": line["running"], "latest_id": latest_id,
            "chance_ratio": chance_ratio(line["z_threshold"]), "sensors": sensors}


@bp.get("/api/line_scores", endpoint="line_scores")
def line_scores():
    """The line model's verdicts, oldest first: its reconstruction error against its threshold."""
    window = int_arg("window", 100, 1, MAX_WINDOW)
    since = int_arg("since", None, 0, 2**63 - 1)
    points = line_store.latest_line_scores(window, since)
    for p in points:
        p["anomaly"] = bool(p["anomaly"])
    line, _ = settings_store.load_settings()
    return {"enabled": line["line_lstm_enabled"], "points": points}


@bp.get("/api/anomalies", endpoint="anomalies")
def anomalies():
    sensor = sensor_named(request.args["sensor"]) if "sensor" in request.args else None
    limit = int_arg("limit", 20, 1, 500)
    line, overrides = settings_store.load_settings()
    return {"anomalies": [with_verdicts(a, settings_store.effective(line, overrides, a["sensor"])["verdict_source"])
                          for a in reading_store.recent_anomalies(limit, sensor.id if sensor else None)]}


@bp.get("/api/sensors", endpoint="sensors")
def sensors():
    return {"sensors": line_store.sensor_statuses()}


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
    session = session_store.current_session()
    offset = max(now + delay - session.started_at, 0.0)
    scenario = scenario_store.create_scenario(sensor, kind, magnitude, offset, duration, now, session)
    return {"scenario": scenario_store.scenario_dict(scenario, sensor.name)}, 201


@bp.get("/api/scenarios", endpoint="list_scenarios")
def list_scenarios():
    sensor = sensor_named(request.args["sensor"]) if "sensor" in request.args else None
    limit = int_arg("limit", 100, 1, 1000)
    names = {s.id: s.name for s in line_store.all_sensors()}
    found = scenario_store.list_scenarios(sensor.id if sensor else None, limit)
    return {"scenarios": [scenario_store.scenario_dict(s, names[s.sensor_id]) for s in found]}


@bp.get("/healthz", endpoint="healthz")
def healthz():
    """200 while a sampler beats and stores; 503 (down, stale, degraded) with the reason otherwise.

    Every answer carries the restarts of crashed sampler threads and the last crash.
    """
    now = time.time()
    age = lease.heartbeat_age(now)
    stale_after = current_app.config["SAMPLER_STALE_SECONDS"]
    health = sampler_health.summary(now, stale_after)
    extra = {"sampler_restarts": health["sampler_restarts"], "last_crash": health["last_crash"],
             "step_failures": health["step_failures"]}
    heartbeat = None if age is None else round(age, 3)
    if health["restarting"]:
        crash = health["last_crash"]
        return jsonify(status="degraded", error="sampler_restarting", heartbeat_age_s=heartbeat,
                       message=f"the sampler thread crashed ({crash['error']}); restart "
                               f"{health['sampler_restarts']} in {max(crash['restart_at'] - now, 0):.0f} s",
                       **extra), 503
    if age is None:
        return jsonify(status="down", error="sampler_down", message="no sampler holds the lease",
                       heartbeat_age_s=None, **extra), 503
    if age > stale_after:
        return jsonify(status="stale", error="sampler_stale", message=f"sampler silent for {age:.1f} s",
                       heartbeat_age_s=heartbeat, **extra), 503
    if health["failing"]:
        return jsonify(status="degraded", error="sampler_failing", heartbeat_age_s=heartbeat,
                       message=f"the sampler's last {health['step_failures']} steps failed ({health['step_error']})",
                       **extra), 503
    return {"status": "ok", "heartbeat_age_s": heartbeat, **extra}
