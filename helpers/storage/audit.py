"""The audit log: every control and settings change, who made it, before → after."""
from __future__ import annotations

import json
from typing import Any, Optional

from sqlalchemy import select

from helpers.storage.db import db
from helpers.storage.models import AuditEntry

SECRET_WORDS = ("password", "secret", "token", "api_key", "apikey", "auth")


def redact(value: Any) -> Any:
    """``value`` with every secret-looking field blanked, however deep (the log is readable by every viewer)."""
    if isinstance(value, dict):
        return {k: "•••" if any(w in str(k).lower() for w in SECRET_WORDS) and v not in (None, "")
                else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def record(t: float, who: str, role: str, action: str, target: str, before: Optional[Any], after: Optional[Any],
           address: Optional[str]) -> None:
    db.session.add(AuditEntry(t=t, who=who, role=role, action=action, target=target[:200],
                              before=None if before is None else json.dumps(redact(before), default=str),
                              after=None if after is None else json.dumps(redact(after), default=str),
                              address=address))
    db.session.commit()


def recent(limit: int, before_id: Optional[int] = None) -> list[dict[str, Any]]:
    """The newest entries first."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return [{"id": e.id, "t": e.t, "who": e.who, "role": e.role, "action": e.action, "target": e.target,
             "before": json.loads(e.before) if e.before else None,
             "after": json.loads(e.after) if e.after else None, "address": e.address}
            for e in db.session.scalars(query)]
