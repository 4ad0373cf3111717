"""LSTM model routes: train in the background, follow a job, list versions, a model's card, switch versions."""
from __future__ import annotations

import json
from typing import Optional

import numpy as np
from flask import current_app, request

from helpers.core.formats.series_csv import epoch_seconds
from helpers.runtime.jobs import training
from helpers.storage import model_registry as registry
from helpers.storage import line as line_store
from helpers.web.api import bp
from helpers.web.errors import ApiError
from helpers.web.params import json_object, sensor_named

HISTOGRAM_BINS = 30


def _time(body: dict, field: str) -> Optional[float]:
    """An ISO 8601 time or epoch seconds, or None."""
    value = body.get(field)
    if value is None:
        return None
    try:
        return epoch_seconds(value)
    except ValueError as exc:
        raise ApiError(400, f"{field} {exc}", field) from None


def _target_of(params) -> str:
    """``{"line": true}`` names the line's model; otherwise ``sensor`` names a sensor's."""
    if params.get("line") in (True, "1", "true"):
        return registry.line_target(line_store.the_line().name)
    return registry.sensor_target(sensor_named(params.get("sensor")).name)


@bp.post("/api/models/train", endpoint="train_model")
def train_model():
    body = json_object()
    key = _target_of(body)
    data_from, data_to = _time(body, "from"), _time(body, "to")
    if data_from is not None and data_to is not None and data_from >= data_to:
        raise ApiError(400, "from must be before to", "from")
    try:
        job = training.request_training(current_app._get_current_object(), key, "manual", data_from, data_to)
    except training.TrainingRefused as exc:
        status = 409 if "already running" in str(exc) else 400
        raise ApiError(status, str(exc), "sensor") from None
    training.start_in_background(current_app._get_current_object(), job.id)
    return {"job": registry.job_dict(job)}, 202


@bp.get("/api/training/<int:job_id>", endpoint="training_job")
def training_job(job_id: int):
    job = registry.job_by_id(job_id)
    if job is None:
        raise ApiError(404, f"unknown training job {job_id}", "job")
    result = registry.job_dict(job)
    if job.model_id is not None:
        result["loss_curve"] = json.loads(registry.model_by_id(job.model_id).info).get("loss_curve")
    return {"job": result}


@bp.get("/api/models", endpoint="models")
def list_models():
    target = _target_of(request.args)
    job = registry.unfinished_job(target)
    return {"models": [registry.model_dict(m) for m in registry.models_of(target)],
            "training": registry.job_dict(job) if job else None}


def _model(model_id: int):
    model = registry.model_by_id(model_id)
    if model is None:
        raise ApiError(404, f"unknown model {model_id}", "model")
    return model


@bp.get("/api/models/<int:model_id>", endpoint="model_card")
def model_card(model_id: int):
    """Everything a model's card shows: data window, exclusions, threshold, error histogram, its predecessor."""
    from helpers.core.lstm import persistence

    model = _model(model_id)
    card = registry.model_dict(model)
    info = json.loads(model.info)
    card["loss_curve"] = info.get("loss_curve")
    card["parameters"] = info.get("parameters")
    try:
        trained = persistence.load(model.path)
        counts, edges = np.histogram(trained.validation_errors, bins=HISTOGRAM_BINS)
        card["error_histogram"] = {"counts": counts.tolist(), "edges": edges.tolist()}
        card["threshold_percentile"] = trained.percentile_of(info.get("threshold") or trained.threshold())
    except persistence.ModelFileError as exc:
        card["load_error"] = str(exc)
    before = registry.predecessor(model)
    card["predecessor"] = registry.model_dict(before) if before else None
    return card


@bp.post("/api/models/<int:model_id>/activate", endpoint="activate_model")
def activate_model(model_id: int):
    model = _model(model_id)
    if model.status == registry.FAILED:
        raise ApiError(409, f"model {model_id} failed to load and cannot be activated", "model")
    registry.activate(model)
    return registry.model_dict(model)
