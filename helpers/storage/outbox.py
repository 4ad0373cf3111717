"""The e-mail outbox: queue a message in the caller's transaction, claim due ones, record how sending went.

The queue is a table, so an alert survives a restart and a slow or dead mail
server never blocks the sampler. Any number of senders (one per worker) may
run: a message is claimed by one atomic UPDATE before it is sent, so it goes
out once; a claim left by a sender that died expires and the message is retried.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from sqlalchemy import func, or_, select, update

from helpers.storage.db import db
from helpers.storage.models import OutboxMessage

log = logging.getLogger(__name__)

STATUSES = ("queued", "sent", "failed")


def enqueue(alarm_id: Optional[int], kind: str, subject: str, body: str, html: Optional[str], to: Sequence[str],
            now: float) -> OutboxMessage:
    """Queue one composed e-mail, due now. Only adds to the session: the caller commits it with the alarm,
    so both are stored or neither is."""
    message = OutboxMessage(alarm_id=alarm_id, kind=kind, subject=subject, body=body, html=html or None,
                            recipients=json.dumps(list(to)), status="queued", attempts=0, next_attempt_at=now,
                            created_at=now)
    db.session.add(message)
    return message


def record_test(subject: str, body: str, html: Optional[str], to: list[str], now: float,
                error: Optional[str]) -> OutboxMessage:
    """Store a test e-mail with its outcome (sent, or failed with the error), never to be retried."""
    message = OutboxMessage(kind="test", subject=subject, body=body, html=html, recipients=json.dumps(to),
                            status="failed" if error else "sent", attempts=1, next_attempt_at=now, created_at=now,
                            sent_at=None if error else now, last_error=error, last_error_at=now if error else None)
    db.session.add(message)
    db.session.commit()
    return message


@dataclass(frozen=True)
class Claimed:
    """A claimed message, detached from the session: what a sender needs to send it."""

    id: int
    subject: str
    body: str
    html: Optional[str]
    recipients: list[str]
    attempts: int
    created_at: float


def _claim_free(now: float):
    return or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now)


def claim_due(owner: str, now: float, hold_s: float, limit: int) -> list[Claimed]:
    """Claim up to ``limit`` queued messages that are due and not claimed by a live sender, oldest first."""
    due = (OutboxMessage.status == "queued", OutboxMessage.next_attempt_at <= now, _claim_free(now))
    ids = list(db.session.scalars(select(OutboxMessage.id).where(*due)
                                  .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit)))
    db.session.commit()  # end the read, so the UPDATE below starts a fresh write (SQLite)
    if not ids:
        return []
    # The WHERE is checked again at the UPDATE: of two senders, only one claims each row.
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids), *due)
                       .values(claimed_by=owner, claimed_until=now + hold_s)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    rows = db.session.scalars(select(OutboxMessage)
                              .where(OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == owner,
                                     OutboxMessage.status == "queued")
                              .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id))
    claimed = [Claimed(m.id, m.subject, m.body, m.html, json.loads(m.recipients), m.attempts, m.created_at)
               for m in rows]
    db.session.commit()
    return claimed


def _finish(message_id: int, owner: str, **values: Any) -> bool:
    """Update a message this owner holds and drop the claim; False when the claim was lost meanwhile."""
    result = db.session.execute(update(OutboxMessage)
                                .where(OutboxMessage.id == message_id, OutboxMessage.claimed_by == owner)
                                .values(claimed_by=None, claimed_until=None, **values)
                                .execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount == 1


def mark_sent(message: Claimed, owner: str, now: float, warning: Optional[str] = None) -> bool:
    """Sent; ``warning`` records recipients the server refused while it took the others."""
    values: dict[str, Any] = {"status": "sent", "sent_at": now, "attempts": message.attempts + 1}
    if warning:
        values.update(last_error=warning, last_error_at=now)
    return _finish(message.id, owner, **values)


def mark_failed_attempt(message: Claimed, owner: str, now: float, error: str, base_s: float, max_s: float,
                        give_up_s: float) -> bool:
    """One more failed attempt: retry after an exponential backoff, or give up at the deadline."""
    attempts = message.attempts + 1
    deadline = message.created_at + give_up_s
    values: dict[str, Any] = {"attempts": attempts, "last_error": error, "last_error_at": now}
    if now >= deadline:
        values["status"] = "failed"
    else:
        # Never later than the deadline, where the next step gives it up.
        values["next_attempt_at"] = min(now + backoff_s(attempts, base_s, max_s), deadline)
    return _finish(message.id, owner, **values)


def give_up(message: Claimed, owner: str, now: float, give_up_hours: float) -> bool:
    """Not sent within MAIL_GIVE_UP_HOURS: failed, keeping the last error (or saying why if there was none)."""
    row = db.session.get(OutboxMessage, message.id)
    error = row.last_error if row is not None and row.last_error else f"not sent within {give_up_hours:g} h"
    return _finish(message.id, owner, status="failed", last_error=error, last_error_at=now)


def release(message: Claimed, owner: str) -> bool:
    """Hand a claimed message back untried (the connection died before its turn)."""
    return _finish(message.id, owner)


def backoff_s(attempts: int, base_s: float, max_s: float) -> float:
    """Seconds before the next try after ``attempts`` failures: base, 2×base, 4×base, … capped at ``max_s``."""
    return min(base_s * 2 ** min(max(attempts - 1, 0), 30), max_s)


def counts() -> dict[str, int]:
    """Alert e-mails per status (queued, sent, failed), for /metrics and GET /api/mail; test e-mails are not alerts."""
    result = dict.fromkeys(STATUSES, 0)
    for status, n in db.session.execute(select(OutboxMessage.status, func.count())
                                        .where(OutboxMessage.kind != "test").group_by(OutboxMessage.status)):
        result[status] = n
    return result


def summary() -> dict[str, Any]:
    """Alert counts, and the mail server's latest outcome (test e-mails included): GET /api/mail's ``outbox``."""
    last_sent = db.session.scalar(select(func.max(OutboxMessage.sent_at)))
    oldest = db.session.scalar(select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status == "queued"))
    error = db.session.execute(select(OutboxMessage.last_error, OutboxMessage.last_error_at)
                               .where(OutboxMessage.last_error_at.is_not(None))
                               .order_by(OutboxMessage.last_error_at.desc(), OutboxMessage.id.desc())
                               .limit(1)).first()
    return {**counts(), "last_sent_at": last_sent, "last_error": error[0] if error else None,
            "last_error_at": error[1] if error else None, "oldest_queued_at": oldest}
