"""Trained models and training jobs in the database: versions, which one is active, progress."""
from __future__ import annotations

import json
from typing import Any, Optional

from sqlalchemy import func, select, update

from helpers.storage.db import db
from helpers.storage.models import DetectorModel, TrainingJob

ACTIVE, SHADOW, CANDIDATE, RETIRED, FAILED = "active", "shadow", "candidate", "retired", "failed"


def sensor_target(sensor_name: str) -> str:
    return f"sensor:{sensor_name}"


def line_target(line_name: str) -> str:
    return f"line:{line_name}"


# --- models ----------------------------------------------------------------

def next_version(target: str) -> int:
    return (db.session.scalar(select(func.max(DetectorModel.version)).where(DetectorModel.target == target)) or 0) + 1


def add_model(target: str, version: int, status: str, path: str, created_at: float, data_from: Optional[float],
              data_to: Optional[float], info: dict[str, Any]) -> DetectorModel:
    """Store a new version; an ``active`` one retires the previous active version in the same transaction."""
    if status == ACTIVE:
        _retire_active(target)
    model = DetectorModel(target=target, version=version, status=status, path=path, created_at=created_at,
                          data_from=data_from, data_to=data_to, info=json.dumps(info))
    db.session.add(model)
    db.session.commit()
    return model


def _retire_active(target: str) -> None:
    db.session.execute(update(DetectorModel).where(DetectorModel.target == target,
                                                   DetectorModel.status == ACTIVE).values(status=RETIRED))


def activate(model: DetectorModel) -> None:
    """Make ``model`` its target's active version (promotion and rollback alike), atomically."""
    _retire_active(model.target)
    model.status = ACTIVE
    db.session.commit()


def mark_failed(model_id: int, problem: str) -> None:
    model = db.session.get(DetectorModel, model_id)
    if model is not None:
        info = json.loads(model.info)
        info["load_error"] = problem
        model.status, model.info = FAILED, json.dumps(info)
        db.session.commit()


def model_by_id(model_id: int) -> Optional[DetectorModel]:
    return db.session.get(DetectorModel, model_id)


def active_models() -> dict[str, tuple[int, str]]:
    """``target -> (model id, path)`` of every active model: the sampler asks at each step."""
    rows = db.session.execute(select(DetectorModel.target, DetectorModel.id, DetectorModel.path)
                              .where(DetectorModel.status == ACTIVE))
    return {target: (model_id, path) for target, model_id, path in rows}


def models_of(target: str) -> list[DetectorModel]:
    return list(db.session.scalars(select(DetectorModel).where(DetectorModel.target == target)
                                   .order_by(DetectorModel.version.desc())))


def predecessor(model: DetectorModel) -> Optional[DetectorModel]:
    return db.session.scalar(select(DetectorModel).where(DetectorModel.target == model.target,
                                                         DetectorModel.version < model.version)
                             .order_by(DetectorModel.version.desc()).limit(1))


def model_dict(model: DetectorModel) -> dict[str, Any]:
    info = json.loads(model.info)
    return {"id": model.id, "target": model.target, "version": model.version, "status": model.status,
            "created_at": model.created_at, "data_from": model.data_from, "data_to": model.data_to,
            "threshold": info.get("threshold"), "readings_used": info.get("readings_used"),
            "readings_excluded": info.get("readings_excluded"), "final_loss": (info.get("loss_curve") or [None])[-1],
            "load_error": info.get("load_error"), "comparison": info.get("comparison")}


# --- jobs ------------------------------------------------------------------

def create_job(target: str, reason: str, epochs: int, now: float, data_from: Optional[float] = None,
               data_to: Optional[float] = None) -> TrainingJob:
    job = TrainingJob(target=target, status="queued", reason=reason, epoch=0, epochs=epochs, requested_at=now,
                      data_from=data_from, data_to=data_to)
    db.session.add(job)
    db.session.commit()
    return job


def unfinished_job(target: str) -> Optional[TrainingJob]:
    return db.session.scalar(select(TrainingJob).where(TrainingJob.target == target,
                                                       TrainingJob.status.in_(("queued", "running"))).limit(1))


def job_by_id(job_id: int) -> Optional[TrainingJob]:
    return db.session.get(TrainingJob, job_id, populate_existing=True)


def job_started(job_id: int) -> None:
    db.session.execute(update(TrainingJob).where(TrainingJob.id == job_id).values(status="running"))
    db.session.commit()


def job_progress(job_id: int, epoch: int, loss: float) -> None:
    db.session.execute(update(TrainingJob).where(TrainingJob.id == job_id)
                       .values(status="running", epoch=epoch, loss=loss))
    db.session.commit()


def job_finished(job_id: int, now: float, model_id: Optional[int] = None, error: Optional[str] = None) -> None:
    db.session.execute(update(TrainingJob).where(TrainingJob.id == job_id).values(
        status="failed" if error else "done", finished_at=now, model_id=model_id, error=error))
    db.session.commit()


def job_dict(job: TrainingJob) -> dict[str, Any]:
    return {"id": job.id, "target": job.target, "status": job.status, "reason": job.reason, "epoch": job.epoch,
            "epochs": job.epochs, "loss": job.loss, "error": job.error, "requested_at": job.requested_at,
            "finished_at": job.finished_at, "model_id": job.model_id}
