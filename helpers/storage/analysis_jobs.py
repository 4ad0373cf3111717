"""The ``analysis_jobs`` rows: create, report progress, finish, read back."""
from __future__ import annotations

import json
import time
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import undefer

from helpers.storage.db import db
from helpers.storage.models import AnalysisJob

# Finished jobs kept per kind; older ones (and their stored series) are deleted on the next create.
KEEP = 30


def create(kind: str, name: str, params: dict, payload: Any, total: int) -> AnalysisJob:
    job = AnalysisJob(kind=kind, status="queued", name=name[:256], params=json.dumps(params), done=0,
                      total=max(total, 1), progress=0.0, step="waiting to start", created_at=time.time(),
                      payload=json.dumps(payload))
    db.session.add(job)
    db.session.commit()
    _prune(kind)
    return job


def _prune(kind: str) -> None:
    ids = db.session.scalars(select(AnalysisJob.id).where(AnalysisJob.kind == kind)
                             .order_by(AnalysisJob.id.desc()).offset(KEEP)).all()
    if ids:
        db.session.query(AnalysisJob).filter(AnalysisJob.id.in_(ids),
                                             AnalysisJob.status.in_(("done", "failed"))).delete()
        db.session.commit()


def get(job_id: int, kind: Optional[str] = None) -> Optional[AnalysisJob]:
    """The job, or None when there is none with that id (and that kind, if given)."""
    job = db.session.get(AnalysisJob, job_id)
    return job if job is not None and kind in (None, job.kind) else None


def payload(job_id: int) -> Any:
    return json.loads(db.session.scalar(select(AnalysisJob.payload).where(AnalysisJob.id == job_id)))


def result(job_id: int) -> Any:
    raw = db.session.scalar(select(AnalysisJob.result).where(AnalysisJob.id == job_id))
    return None if raw is None else json.loads(raw)


def update(job_id: int, **fields: Any) -> None:
    """Set columns of one job and commit; ``result`` is stored as JSON."""
    if "result" in fields:
        fields["result"] = json.dumps(fields["result"])
    db.session.query(AnalysisJob).filter(AnalysisJob.id == job_id).update(fields)
    db.session.commit()


def as_dict(job: AnalysisJob) -> dict[str, Any]:
    return {"id": job.id, "kind": job.kind, "status": job.status, "name": job.name,
            "params": json.loads(job.params), "done": job.done, "total": job.total,
            "progress": job.progress, "step": job.step, "error": job.error,
            "created_at": job.created_at, "finished_at": job.finished_at}


def with_result(job_id: int) -> Optional[AnalysisJob]:
    return db.session.scalar(select(AnalysisJob).options(undefer(AnalysisJob.result))
                             .where(AnalysisJob.id == job_id))
