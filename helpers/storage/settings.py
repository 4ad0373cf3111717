"""Settings a user changes: line-wide values, per-sensor overrides, read once per request."""
from __future__ import annotations

import json
from typing import Any, Mapping

from flask import g, has_request_context
from sqlalchemy import delete, select

from helpers.core.settings import SETTINGS, defaults
from helpers.core.verdict import VERDICT_SOURCES
from helpers.storage.db import db
from helpers.storage.models import Setting
from helpers.storage import line as line_store


LINE_SCOPE = ""


_SETTINGS = select(Setting.scope, Setting.key, Setting.value)


def load_settings() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Line-wide values (schema defaults where a row is missing) and per-sensor overrides.

    Read once per web request (the dashboard's tick asks for them from three
    places) and copied to each caller; a request that saves settings reads them anew.
    """
    if not has_request_context():
        return _read_settings()
    if "linewatch_settings" not in g:
        g.linewatch_settings = _read_settings()
    line, overrides = g.linewatch_settings
    return dict(line), {scope: dict(values) for scope, values in overrides.items()}


def forget_read_settings() -> None:
    """The request is about to change settings: what it read before is stale."""
    if has_request_context():
        g.pop("linewatch_settings", None)


def _read_settings() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    line = defaults()
    overrides: dict[str, dict[str, Any]] = {}
    for scope, key, value in db.session.connection().execute(_SETTINGS):
        if key not in SETTINGS:
            continue
        if scope == LINE_SCOPE:
            line[key] = json.loads(value)
        else:
            overrides.setdefault(scope, {})[key] = json.loads(value)
    return line, overrides


def effective(line: Mapping[str, Any], overrides: Mapping[str, Mapping[str, Any]], sensor: str) -> dict[str, Any]:
    """A sensor's settings: its overrides over the line-wide values."""
    values = {k: v for k, v in line.items() if SETTINGS[k].per_sensor}
    values.update(overrides.get(sensor, {}))
    return values


def control_state() -> dict[str, Any]:
    """Everything a dashboard needs to show the controls, line-wide and per sensor."""
    line, overrides = load_settings()
    state: dict[str, Any] = dict(line)
    state["sensors"] = {
        s.name: {"overrides": overrides.get(s.name, {}), "effective": effective(line, overrides, s.name)}
        for s in line_store.all_sensors()
    }
    # The combined verdict sources with what each means (a sensor's chosen detectors can be one too).
    state["verdict_sources"] = [{"name": name, "text": text} for name, text in VERDICT_SOURCES.items()]
    return state


def save_settings(changes: Mapping[str, Any], scope: str = LINE_SCOPE) -> None:
    """Write validated changes in one transaction; ``None`` removes a sensor override."""
    save_scoped({scope: changes})


def save_scoped(changes_by_scope: Mapping[str, Mapping[str, Any]]) -> None:
    """Write validated changes for several scopes in one transaction."""
    session = db.session
    forget_read_settings()
    for scope, changes in changes_by_scope.items():
        for key, value in changes.items():
            session.execute(delete(Setting).where(Setting.scope == scope, Setting.key == key))
            if value is not None:
                session.add(Setting(scope=scope, key=key, value=json.dumps(value)))
    session.commit()


def settings_snapshot() -> dict[str, Any]:
    line, overrides = load_settings()
    return {"line": line, "overrides": overrides}
