"""Running an analysis job in a thread of the process that accepted it, with progress any worker can read.

The work is a function ``work(job_id, report) -> result``; ``report(done, step)``
throttles its writes so a fast loop does not hammer the database. An exception
fails the job with its message; it never reaches the sampler or the request.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from flask import Flask

from helpers.storage import analysis_jobs
from helpers.storage.db import db

log = logging.getLogger(__name__)

Report = Callable[[float, str], None]
Work = Callable[[int, Report], Any]

# Seconds between two progress writes of one job.
REPORT_EVERY_S = 0.25


def start(app: Flask, job_id: int, work: Work) -> threading.Thread:
    thread = threading.Thread(target=run, args=(app, job_id, work), name=f"linewatch-job-{job_id}", daemon=True)
    thread.start()
    return thread


def run(app: Flask, job_id: int, work: Work) -> None:
    """Run ``work`` to the end in an app context; the job row says how it went."""
    with app.app_context():
        try:
            total = analysis_jobs.get(job_id).total
            analysis_jobs.update(job_id, status="running", step="starting")
            last = [0.0]

            def report(done: float, step: str) -> None:
                now = time.monotonic()
                if now - last[0] >= REPORT_EVERY_S:
                    last[0] = now
                    analysis_jobs.update(job_id, done=int(done), progress=min(done / total, 1.0), step=step[:256])

            result = work(job_id, report)
            analysis_jobs.update(job_id, status="done", done=total, progress=1.0, step="done", result=result,
                                 finished_at=time.time())
        except Exception as exc:  # the job shows why; nothing else is touched
            db.session.rollback()
            log.exception("analysis job %s failed", job_id)
            analysis_jobs.update(job_id, status="failed", error=f"{type(exc).__name__}: {exc}",
                                 finished_at=time.time())
        finally:
            db.session.remove()
