"""The detectors a sensor can run live, and the forecast of the one that forecasts."""
from __future__ import annotations

from flask import current_app, request

from helpers.core.detectors import catalog, knn_classifier
from helpers.core.detectors.live import SUPERVISED
from helpers.runtime.jobs import knn_models
from helpers.storage import forecasts
from helpers.storage import line as line_store
from helpers.storage import settings as settings_store
from helpers.web.api import bp
from helpers.web.params import sensor_named


@bp.get("/api/detectors", endpoint="detectors")
def detectors():
    """The catalogue, and each sensor's choice (its ``detectors`` and ``verdict_source`` in force)."""
    line, overrides = settings_store.load_settings()
    chosen = {}
    for sensor in line_store.all_sensors():
        settings = settings_store.effective(line, overrides, sensor.name)
        chosen[sensor.name] = {"detectors": [n for n in settings["detectors"].split(",") if n],
                               "verdict_source": settings["verdict_source"]}
    trained = [{"name": SUPERVISED + name, "alarm": knn_classifier.ALARM, "likelihood": False, "seasonal": False,
                "forecasts": False, "description": f"supervised kNN trained on labelled incidents ({name}): "
                                                  "the share of the most similar labelled stretches that were incidents"}
               for name in knn_models.names(current_app)]
    return {"detectors": catalog.entries(line["z_threshold"]) + trained, "sensors": chosen}


@bp.get("/api/forecast", endpoint="forecast")
def forecast():
    """The sensor's latest forecast ``{detector, t, step_s, points: [{t, mean, low, high}]}``; null points without one."""
    sensor = sensor_named(request.args.get("sensor"))
    found = forecasts.latest(sensor.id)
    return {"sensor": sensor.name, **(found or {"detector": None, "t": None, "step_s": None, "points": []})}
