"""The sampler's troubles, stored so that every worker's /healthz tells the same story.

Two kinds: the sampler *thread* died and its supervisor restarts it after a
backoff (``sampler_crashes``, one row per crash), and the lease holder's steps
fail one after another while it still beats (columns on ``sampler_lease``).
Writers never raise: recording a trouble must not become a second one.
"""
from __future__ import annotations

import logging
from typing import Any, Optional

from sqlalchemy import delete, func, select, update

from helpers.storage.db import db
from helpers.storage.models import SamplerCrash, SamplerLease

log = logging.getLogger(__name__)

# Crashes older than this are forgotten, so the table stays small however long the app runs.
KEEP_DAYS = 30
ERROR_CHARS = 500
# A holder whose steps failed this many times in a row is reported as failing.
FAILING_AFTER = 3


def describe(exc: BaseException) -> str:
    """``TypeName: message``, short enough for a status page."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:ERROR_CHARS]


def record_crash(owner: str, now: float, error: str, restart_in_s: float) -> Optional[int]:
    """Store a crash; its id (to mark the restart), or None when the database refused it."""
    try:
        crash = SamplerCrash(owner=owner[:128], crashed_at=now, error=error[:ERROR_CHARS],
                             restart_at=now + restart_in_s)
        db.session.add(crash)
        db.session.execute(delete(SamplerCrash).where(SamplerCrash.crashed_at < now - KEEP_DAYS * 86_400))
        db.session.commit()
        return crash.id
    except Exception:
        log.exception("could not record the sampler crash")
        db.session.rollback()
        return None


def mark_restarted(crash_id: Optional[int], now: float) -> None:
    if crash_id is None:
        return
    try:
        db.session.execute(update(SamplerCrash).where(SamplerCrash.id == crash_id).values(restarted_at=now))
        db.session.commit()
    except Exception:
        log.exception("could not record the sampler restart")
        db.session.rollback()


def step_failed(owner: str, failures: int, exc: BaseException, now: float) -> None:
    """The holder's ``failures``-th failed step in a row (a non-holder's are not the line's problem)."""
    try:
        db.session.execute(update(SamplerLease).where(SamplerLease.id == 1, SamplerLease.owner == owner)
                           .values(step_failures=failures, step_error=describe(exc), step_failed_at=now))
        db.session.commit()
    except Exception:
        log.debug("could not record the failed step", exc_info=True)
        db.session.rollback()


def step_ok(owner: str) -> None:
    """A step succeeded after failures: clear them."""
    try:
        db.session.execute(update(SamplerLease).where(SamplerLease.id == 1, SamplerLease.owner == owner)
                           .values(step_failures=None, step_error=None, step_failed_at=None))
        db.session.commit()
    except Exception:
        log.debug("could not clear the failed steps", exc_info=True)
        db.session.rollback()


def summary(now: float, grace_s: float) -> dict[str, Any]:
    """What /healthz adds: restarts, the last crash, whether a restart is pending, the failing steps.

    ``restarting`` is true from a crash until its restart, and for at most ``grace_s``
    past the planned restart: a process killed while it waited never marks it.
    """
    restarts = db.session.scalar(select(func.count()).select_from(SamplerCrash)) or 0
    last = db.session.scalars(select(SamplerCrash).order_by(SamplerCrash.id.desc()).limit(1)).first()
    lease = db.session.get(SamplerLease, 1, populate_existing=True)
    failures = (lease.step_failures or 0) if lease is not None and lease.owner is not None else 0
    return {
        "sampler_restarts": restarts,
        "last_crash": None if last is None else {
            "at": last.crashed_at, "error": last.error, "restart_at": last.restart_at,
            "restarted_at": last.restarted_at},
        "restarting": last is not None and last.restarted_at is None and now <= last.restart_at + grace_s,
        "step_failures": failures,
        "step_error": lease.step_error if failures else None,
        "failing": failures >= FAILING_AFTER,
    }
