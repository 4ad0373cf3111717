"""Control routes: read and change the settings, request a re-baseline."""
from __future__ import annotations

import time

from helpers.core.settings import SETTINGS, SettingError, coerce, validate_changes
from helpers.storage import baselines as baseline_store
from helpers.storage import line as line_store
from helpers.storage import settings as settings_store
from helpers.web.api import bp
from helpers.web.errors import ApiError
from helpers.web.params import json_object, sensor_named


@bp.get("/get_control", endpoint="get_control")
def get_control():
    return settings_store.control_state()


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
    _check_state_thresholds(changes, sensor)
    settings_store.save_settings(changes, scope=sensor.name if sensor else settings_store.LINE_SCOPE)
    if to_rebaseline is not None:
        baseline_store.request_rebaseline(to_rebaseline, time.time())
    return settings_store.control_state()


def _check_state_thresholds(changes: dict, sensor) -> None:
    """The exit ratio must lie below the enter ratio, or the state could never settle (hysteresis)."""
    if "high_usage_enter" not in changes and "high_usage_exit" not in changes:
        return
    line, overrides = settings_store.load_settings()
    if sensor is None:
        after = {**line, **changes}
    else:
        own = {k: v for k, v in {**overrides.get(sensor.name, {}), **changes}.items() if v is not None}
        after = {**line, **own}
    if after["high_usage_exit"] >= after["high_usage_enter"]:
        field = "high_usage_exit" if "high_usage_exit" in changes else "high_usage_enter"
        raise ApiError(400, f"high_usage_exit ({after['high_usage_exit']}) must be below high_usage_enter "
                            f"({after['high_usage_enter']})", field)


@bp.get("/api/settings/<key>.json", endpoint="export_setting")
def export_setting(key: str):
    """One per-sensor setting as ``{"sensor": value}`` (the effective values), for a file."""
    spec = SETTINGS.get(key)
    if spec is None or not spec.per_sensor:
        raise ApiError(404, f"{key} is not a per-sensor setting", "key")
    state = settings_store.control_state()
    return {name: sensor["effective"][key] for name, sensor in state["sensors"].items()}


@bp.post("/api/settings/<key>.json", endpoint="import_setting")
def import_setting(key: str):
    """Set one per-sensor setting from ``{"sensor": value}``; sensors not named go back to the default.

    The file is checked whole first: one bad sensor name or value and nothing changes.
    """
    spec = SETTINGS.get(key)
    if spec is None or not spec.per_sensor:
        raise ApiError(404, f"{key} is not a per-sensor setting", "key")
    body = json_object()
    names = {s.name for s in line_store.all_sensors()}
    changes = {}
    for sensor, value in body.items():
        if sensor not in names:
            raise ApiError(400, f"unknown sensor {sensor!r}", sensor)
        try:
            changes[sensor] = coerce(key, value)
        except SettingError as exc:
            raise ApiError(400, f"{sensor}: {exc}", sensor) from None
    settings_store.save_scoped({sensor: {key: changes.get(sensor)} for sensor in names})
    return settings_store.control_state()
