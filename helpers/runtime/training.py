"""Training LSTM models in the background, from the dashboard, the command line or the schedule.

A job is a row in ``training_jobs`` (any worker can show its progress); the
work runs in a thread of the process that accepted it, with few torch
threads, so the sampler keeps its rate. A failed training leaves the previous
model active and stores the error on the job.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Optional

from flask import Flask

from helpers.storage import model_registry as registry
from helpers.storage import queries
from helpers.storage.db import db
from helpers.storage.models import Sensor, TrainingJob

log = logging.getLogger(__name__)


class TrainingRefused(ValueError):
    """The training cannot start: too little data, or one is already running."""


def _settings(sensor: Sensor) -> dict:
    line, overrides = queries.load_settings()
    return queries.effective(line, overrides, sensor.name)


def check_data(app: Flask, sensor: Sensor, data_from: Optional[float], data_to: Optional[float]) -> int:
    """How many readings the training would use; TrainingRefused, saying how many are needed, if too few."""
    from helpers.core.lstm.windows import minimum_readings

    values, excluded, _, _ = queries.training_readings(sensor.id, data_from, data_to,
                                                       app.config["TRAINING_READINGS"])
    needed = minimum_readings(_settings(sensor)["time_steps"], 0.2)
    if len(values) < needed:
        raise TrainingRefused(
            f"{sensor.name}: training needs at least {needed} normal readings with time_steps="
            f"{_settings(sensor)['time_steps']}; the chosen data has {len(values)} "
            f"({excluded} left out as anomalous, unjudged or inside a scenario)")
    return len(values)


def request_training(app: Flask, sensor: Sensor, reason: str, data_from: Optional[float] = None,
                     data_to: Optional[float] = None) -> TrainingJob:
    """Check, record the job; the caller runs it (``start_in_background`` or ``run_job``)."""
    target = registry.sensor_target(sensor.name)
    if registry.unfinished_job(target) is not None:
        raise TrainingRefused(f"{sensor.name}: a training is already running")
    check_data(app, sensor, data_from, data_to)
    return registry.create_job(target, reason, app.config["TRAINING_EPOCHS"], time.time(), data_from, data_to)


def start_in_background(app: Flask, job_id: int) -> threading.Thread:
    thread = threading.Thread(target=_run_in_context, args=(app, job_id), name=f"linewatch-training-{job_id}",
                              daemon=True)
    thread.start()
    return thread


def _run_in_context(app: Flask, job_id: int) -> None:
    with app.app_context():
        try:
            run_job(app, job_id)
        finally:
            db.session.remove()


def run_job(app: Flask, job_id: int, echo=None) -> Optional[int]:
    """Train, save and register one model; returns its id, or None when the training failed."""
    from helpers.core.lstm import persistence
    from helpers.core.lstm.trainer import train

    job = registry.job_by_id(job_id)
    sensor = queries.sensor_by_name(job.target.split(":", 1)[1])
    try:
        settings = _settings(sensor)
        values, excluded, first_t, last_t = queries.training_readings(
            sensor.id, job.data_from, job.data_to, app.config["TRAINING_READINGS"])

        def progress(epoch: int, epochs: int, loss: float) -> None:
            registry.job_progress(job_id, epoch, loss)
            if echo:
                echo(f"epoch {epoch}/{epochs}: loss {loss:.5f}")

        trained = train(values, time_steps=settings["time_steps"], epochs=job.epochs,
                        percentile=settings["lstm_percentile"], ratio=settings["lstm_ratio"],
                        device=app.config["LSTM_DEVICE"], threads=app.config["TRAINING_THREADS"], progress=progress)
        version = registry.next_version(job.target)
        folder = Path(app.config["MODELS_DIR"]) / job.target.replace(":", "-") / f"v{version}"
        persistence.save(trained, folder, {"from": first_t, "to": last_t, "readings": len(values)})
        status = registry.SHADOW if job.reason == "scheduled" else registry.ACTIVE
        model = registry.add_model(job.target, version, status, str(folder), time.time(), first_t, last_t, {
            "parameters": trained.parameters, "readings_used": len(values), "readings_excluded": excluded,
            "threshold": trained.threshold(), "loss_curve": trained.loss_curve,
        })
        registry.job_finished(job_id, time.time(), model.id)
        log.info("trained %s v%s on %d readings (%d left out)", job.target, version, len(values), excluded)
        return model.id
    except Exception as exc:  # the previous model stays active; the job says why
        db.session.rollback()
        log.exception("training job %s for %s failed", job_id, job.target)
        registry.job_finished(job_id, time.time(), error=f"{type(exc).__name__}: {exc}")
        return None
