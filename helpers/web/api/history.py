"""Readings past the raw retention, as minute rollups (count, min, mean, max, anomalies)."""
from __future__ import annotations

import time

from flask import request

from helpers.storage import retention
from helpers.web.api import bp
from helpers.web.params import int_arg, sensor_named

MAX_ROLLUP_SECONDS = 2 * 366 * 86_400


@bp.get("/api/rollups", endpoint="rollups")
def rollups():
    sensor = sensor_named(request.args.get("sensor"))
    seconds = int_arg("seconds", 86_400, 60, MAX_ROLLUP_SECONDS)
    until = int_arg("until", None, 0, 10**11)
    end = time.time() if until is None else until
    return {"sensor": sensor.name, "minutes": retention.rollups(sensor.id, end - seconds, end)}
