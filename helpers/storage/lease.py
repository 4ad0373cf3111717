"""The sampler lease: one row in the database that at most one process holds at a time.

Every web worker (and a ``flask sampler`` process) may try to take it; the
holder renews it with each heartbeat, and a lease whose heartbeat is older
than the TTL is free for the next taker. One atomic UPDATE decides, so the
rule holds across gunicorn workers, restarts and — with PostgreSQL — machines.
"""
from __future__ import annotations

from typing import Optional

from sqlalchemy import case, or_, update

from helpers.storage.db import db
from helpers.storage.models import SamplerLease


def try_acquire(owner: str, now: float, ttl: float) -> bool:
    """Take or renew the lease; True when ``owner`` holds it afterwards."""
    result = db.session.execute(
        update(SamplerLease)
        .where(SamplerLease.id == 1)
        .where(or_(SamplerLease.owner == owner, SamplerLease.owner.is_(None),
                   SamplerLease.heartbeat_at.is_(None), SamplerLease.heartbeat_at < now - ttl))
        # A new holder starts with no failed steps: the last one's are not its own.
        .values(owner=owner, heartbeat_at=now,
                step_failures=case((SamplerLease.owner == owner, SamplerLease.step_failures), else_=None)))
    db.session.commit()
    return result.rowcount == 1


def release(owner: str) -> None:
    db.session.execute(
        update(SamplerLease).where(SamplerLease.id == 1, SamplerLease.owner == owner)
        .values(owner=None, heartbeat_at=None))
    db.session.commit()


def heartbeat_age(now: float) -> Optional[float]:
    """Seconds since the sampler's last heartbeat; None when no sampler holds the lease."""
    lease = db.session.get(SamplerLease, 1, populate_existing=True)
    if lease is None or lease.heartbeat_at is None:
        return None
    return max(now - lease.heartbeat_at, 0.0)


def report_health(owner: str, lag_s: float, loop_s: float) -> None:
    """The holder's worst lag behind schedule and longest step since its last beat (for /metrics)."""
    db.session.execute(update(SamplerLease).where(SamplerLease.id == 1, SamplerLease.owner == owner)
                       .values(lag_s=lag_s, loop_s=loop_s))
    db.session.commit()
