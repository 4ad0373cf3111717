"""Secrets the app makes for itself: created once, in the database, so every worker and restart agrees."""
from __future__ import annotations

import secrets

from sqlalchemy.exc import IntegrityError

from helpers.storage.db import db
from helpers.storage.models import AppSecret


def get_or_create(name: str) -> str:
    """The named secret; the first process to ask makes it (a race is settled by the primary key)."""
    row = db.session.get(AppSecret, name)
    if row is not None:
        return row.value
    db.session.add(AppSecret(name=name, value=secrets.token_urlsafe(48)))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
    return db.session.get(AppSecret, name).value
