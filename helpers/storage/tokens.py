"""API tokens: created and revoked by an admin, stored as SHA-256 hashes, checked on every ingest request."""
from __future__ import annotations

import hashlib
import secrets
from typing import Optional

from sqlalchemy import func, select

from helpers.storage.db import db
from helpers.storage.models import ApiToken

PREFIX = "lw_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(name: str, now: float) -> str:
    """A new token for ``name``; the plain token is returned once and never stored."""
    token = PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiToken(name=name, token_hash=_hash(token), created_at=now))
    db.session.commit()
    return token


def revoke(name: str, now: float) -> bool:
    token = db.session.scalar(select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None)))
    if token is None:
        return False
    token.revoked_at = now
    db.session.commit()
    return True


def listing() -> list[ApiToken]:
    return list(db.session.scalars(select(ApiToken).order_by(ApiToken.id)))


def any_active() -> bool:
    return bool(db.session.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.revoked_at.is_(None))))


def check(token: str, now: float) -> Optional[str]:
    """The name of the live token, or None (unknown or revoked)."""
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(token),
                                                   ApiToken.revoked_at.is_(None)))
    if row is None:
        return None
    if row.last_used_at is None or now - row.last_used_at > 60:  # at most one write a minute per token
        row.last_used_at = now
        db.session.commit()
    return row.name
