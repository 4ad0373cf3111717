"""Training LSTM models in the background, from the dashboard, the command line or the schedule.

A job is a row in ``training_jobs`` (any worker can show its progress); the
work runs in a thread of the process that accepted it, with few torch
threads, so the sampler keeps its rate. A failed training leaves the previous
model active and stores the error on the job. A target is one sensor
(``sensor:<name>``) or the whole line (``line:<name>``, one multivariate
model over all its sensors).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
from flask import Flask

from helpers.core.line.align import align
from helpers.storage import model_registry as registry
from helpers.storage import line as line_store
from helpers.storage import readings as reading_store
from helpers.storage import settings as settings_store
from helpers.storage.db import db
from helpers.storage.models import TrainingJob

log = logging.getLogger(__name__)


class TrainingRefused(ValueError):
    """The training cannot start: too little data, or one is already running."""


@dataclass
class TrainingData:
    table: np.ndarray  # [n] for a sensor, [n, sensors] for the line
    excluded: int
    first_t: Optional[float]
    last_t: Optional[float]
    sensors: list[str]


@dataclass
class Target:
    key: str
    label: str
    settings: dict[str, Any]

    @property
    def is_line(self) -> bool:
        return self.key.startswith("line:")

    def data(self, data_from: Optional[float], data_to: Optional[float], limit: int) -> TrainingData:
        if self.is_line:
            names = [s.name for s in line_store.all_sensors()]
            times, table, ok = align(names, names[0], line_store.line_training_rows(data_from, data_to, limit))
            kept = times[ok]
            return TrainingData(table[ok], int((~ok).sum()), float(kept[0]) if len(kept) else None,
                                float(kept[-1]) if len(kept) else None, names)
        sensor = line_store.sensor_by_name(self.label)
        values, excluded, first_t, last_t = reading_store.training_readings(sensor.id, data_from, data_to, limit)
        return TrainingData(np.asarray(values, dtype=np.float64), excluded, first_t, last_t, [self.label])


def target(key: str) -> Target:
    """The target named ``key``; a ValueError for an unknown one."""
    kind, _, name = key.partition(":")
    line, overrides = settings_store.load_settings()
    if kind == "sensor" and line_store.sensor_by_name(name) is not None:
        return Target(key, name, settings_store.effective(line, overrides, name))
    if kind == "line" and name == line_store.the_line().name:
        return Target(key, f"line {name}", line)
    raise ValueError(f"unknown training target {key!r}")


def check_data(app: Flask, goal: Target, data_from: Optional[float], data_to: Optional[float]) -> int:
    """How many readings the training would use; TrainingRefused, saying how many are needed, if too few."""
    from helpers.core.lstm.windows import minimum_readings

    data = goal.data(data_from, data_to, app.config["TRAINING_READINGS"])
    time_steps = goal.settings["time_steps"]
    needed = minimum_readings(time_steps, 0.2)
    if len(data.table) < needed:
        raise TrainingRefused(
            f"{goal.label}: training needs at least {needed} normal readings with time_steps={time_steps}; "
            f"the chosen data has {len(data.table)} ({data.excluded} left out as anomalous, unjudged or "
            f"inside a scenario)")
    return len(data.table)


def request_training(app: Flask, key: str, reason: str, data_from: Optional[float] = None,
                     data_to: Optional[float] = None) -> TrainingJob:
    """Check, record the job; the caller runs it (``start_in_background`` or ``run_job``)."""
    goal = target(key)
    if registry.unfinished_job(key) is not None:
        raise TrainingRefused(f"{goal.label}: a training is already running")
    check_data(app, goal, data_from, data_to)
    return registry.create_job(key, reason, app.config["TRAINING_EPOCHS"], time.time(), data_from, data_to)


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
    registry.job_started(job_id)
    try:
        goal = target(job.target)
        data = goal.data(job.data_from, job.data_to, app.config["TRAINING_READINGS"])

        def progress(epoch: int, epochs: int, loss: float) -> None:
            registry.job_progress(job_id, epoch, loss)
            if echo:
                echo(f"epoch {epoch}/{epochs}: loss {loss:.5f}")

        settings = goal.settings
        trained = train(data.table, time_steps=settings["time_steps"], epochs=job.epochs,
                        percentile=settings["lstm_percentile"], ratio=settings["lstm_ratio"],
                        device=app.config["LSTM_DEVICE"], threads=app.config["TRAINING_THREADS"], progress=progress)
        version = registry.next_version(job.target)
        folder = Path(app.config["MODELS_DIR"]) / job.target.replace(":", "-") / f"v{version}"
        persistence.save(trained, folder, {"from": data.first_t, "to": data.last_t, "readings": len(data.table),
                                           "sensors": data.sensors})
        status = registry.SHADOW if job.reason == "scheduled" else registry.ACTIVE
        model = registry.add_model(job.target, version, status, str(folder), time.time(), data.first_t,
                                   data.last_t, {
            "parameters": trained.parameters, "readings_used": len(data.table), "readings_excluded": data.excluded,
            "threshold": trained.threshold(), "loss_curve": trained.loss_curve, "sensors": data.sensors,
        })
        registry.job_finished(job_id, time.time(), model.id)
        log.info("trained %s v%s on %d readings (%d left out)", job.target, version, len(data.table), data.excluded)
        return model.id
    except Exception as exc:  # the previous model stays active; the job says why
        db.session.rollback()
        log.exception("training job %s for %s failed", job_id, job.target)
        registry.job_finished(job_id, time.time(), error=f"{type(exc).__name__}: {exc}")
        return None
