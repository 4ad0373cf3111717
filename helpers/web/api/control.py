"""Control routes: read and change the settings, request a re-baseline."""
from __future__ import annotations

import time

from helpers.core.settings_schema import SettingError, validate_changes
from helpers.storage import queries
from helpers.web.api import bp
from helpers.web.errors import ApiError
from helpers.web.params import json_object, sensor_named


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
