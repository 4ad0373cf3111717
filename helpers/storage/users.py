"""Accounts: created from the command line, passwords hashed with werkzeug, three roles."""
from __future__ import annotations

import time
from typing import Optional

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from helpers.storage.db import db
from helpers.storage.models import User

ROLES = ("viewer", "operator", "admin")
MIN_PASSWORD = 8
# Checked against when a name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("linewatch-no-such-user")


class UserError(ValueError):
    """A request to create or change an account that cannot be done, and why."""


def rank(role: str) -> int:
    """Viewer < operator < admin; -1 for anything else."""
    return ROLES.index(role) if role in ROLES else -1


# Built once: every request asks (the access guard), and building the select cost more than running it.
_ANY_USER = select(User.id).limit(1)


def any_users() -> bool:
    return db.session.connection().execute(_ANY_USER).first() is not None


def create(name: str, password: str, role: str) -> User:
    if not 1 <= len(name) <= 64 or not name.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise UserError("a name of 1 to 64 letters, digits, '.', '-' or '_'")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password of at least {MIN_PASSWORD} characters")
    if find(name) is not None:
        raise UserError(f"a user called {name!r} exists already")
    user = User(name=name, password_hash=generate_password_hash(password), role=role, created_at=time.time())
    db.session.add(user)
    db.session.commit()
    return user


def find(name: str) -> Optional[User]:
    return db.session.scalar(select(User).where(User.name == name))


def get(user_id: int) -> Optional[User]:
    return db.session.get(User, user_id)


def verify(name: str, password: str) -> Optional[User]:
    """The user if the password is theirs, else None (timing does not tell a wrong name from a wrong password)."""
    user = find(name)
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def set_role(name: str, role: str) -> None:
    user = find(name)
    if user is None:
        raise UserError(f"no user called {name!r}")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    user.role = role
    db.session.commit()


def delete(name: str) -> None:
    user = find(name)
    if user is None:
        raise UserError(f"no user called {name!r}")
    db.session.delete(user)
    db.session.commit()


def listing() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.name)))
