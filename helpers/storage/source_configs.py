"""The ``sources`` rows: a pull source's settings, its uploaded series, and its health."""
from __future__ import annotations

import json
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import undefer

from helpers.storage.db import db
from helpers.storage.models import SourceConfig


def row(kind: str) -> SourceConfig:
    found = db.session.get(SourceConfig, kind)
    if found is None:
        found = SourceConfig(kind=kind, config="{}", state="stopped", readings_total=0)
        db.session.add(found)
        db.session.flush()
    return found


def config(kind: str) -> dict[str, Any]:
    found = db.session.get(SourceConfig, kind)
    return json.loads(found.config) if found else {}


def save_config(kind: str, values: dict[str, Any]) -> None:
    row(kind).config = json.dumps(values)
    db.session.commit()


def payload(kind: str) -> Optional[Any]:
    raw = db.session.scalar(select(SourceConfig.payload).where(SourceConfig.kind == kind))
    return None if raw is None else json.loads(raw)


def payload_info(kind: str) -> Optional[dict[str, Any]]:
    """What was uploaded (name, rows, columns, when): small, so the status and the worker can read it often."""
    raw = db.session.scalar(select(SourceConfig.payload_info).where(SourceConfig.kind == kind))
    return None if raw is None else json.loads(raw)


def save_payload(kind: str, value: Any, info: dict[str, Any]) -> None:
    found = db.session.scalar(select(SourceConfig).options(undefer(SourceConfig.payload))
                              .where(SourceConfig.kind == kind))
    if found is None:
        found = row(kind)
    found.payload = json.dumps(value)
    found.payload_info = json.dumps(info)
    db.session.commit()


def report(kind: str, **fields: Any) -> None:
    """Update a source's health columns (state, last success or error, lag, counts) and commit."""
    found = row(kind)
    added = fields.pop("readings", 0)
    for name, value in fields.items():
        setattr(found, name, value)
    found.readings_total = (found.readings_total or 0) + added
    db.session.commit()


def status(kind: str) -> dict[str, Any]:
    found = db.session.get(SourceConfig, kind)
    if found is None:
        return {"state": "stopped", "last_success_at": None, "last_error": None, "last_error_at": None,
                "next_try_at": None, "lag_s": None, "readings_total": 0}
    return {"state": found.state, "last_success_at": found.last_success_at, "last_error": found.last_error,
            "last_error_at": found.last_error_at, "next_try_at": found.next_try_at, "lag_s": found.lag_s,
            "readings_total": found.readings_total}
