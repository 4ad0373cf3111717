"""Which role each state-changing route needs: the one table to read when asking "who may do this?".

Reading (GET) needs a viewer. Writing needs the role below; a route missing
from the table needs an admin, so a new route is safe until someone decides.
"""
from __future__ import annotations

from typing import Any, Mapping

VIEWER, OPERATOR, ADMIN = "viewer", "operator", "admin"

#: Routes anyone may call, signed in or not (sign-in itself, health and metrics for monitors, static files).
OPEN = frozenset({"static", "auth.login", "auth.login_page", "api.healthz", "metrics.metrics",
                  "openapi.spec", "auth.me"})

#: Routes that carry their own bearer token (the ingest API) instead of a signed-in session.
TOKEN = frozenset({"api.push_readings"})

WRITES: dict[str, str] = {
    # Analyses: they store a job and its result, and change nothing on the line.
    "api.start_evaluation": VIEWER,
    "api.evaluation_score": VIEWER,
    "api.start_backtest": VIEWER,
    "auth.logout": VIEWER,
    # The instructor's and the operator's controls.
    "api.scenarios": OPERATOR,
    "api.new_session": OPERATOR,
    "api.replay_session": OPERATOR,
    "api.train_model": OPERATOR,
    "api.activate_model": OPERATOR,
    "api.acknowledge_alarm": OPERATOR,
    "api.classify_alarm": OPERATOR,
    "api.shelve": OPERATOR,
    "api.unshelve": OPERATOR,
    "api.add_maintenance": OPERATOR,
    "api.delete_maintenance": OPERATOR,
    "api.send_control": OPERATOR,  # unless it changes an admin setting, see needed_role
    # Settings, sources, mail: admins (the default for anything not listed).
}

#: Settings that only an admin may change through /send_control: where data comes from and who gets told.
ADMIN_SETTINGS = frozenset({
    "source", "high_usage_enter", "high_usage_exit", "high_usage_hold_s", "alert_on_state", "alert_on_burst",
    "alert_on_excursion",
    "burst_count", "burst_readings", "burst_seconds", "burst_clear_count", "alert_cooldown_s",
})

#: Writes that are not changes to audit (analyses; a session's own sign-out).
NOT_AUDITED = frozenset({"api.start_evaluation", "api.evaluation_score", "api.start_backtest", "auth.logout"})


def needed_role(endpoint: str, method: str, body: Any = None) -> str:
    """The least role that may make this request.

    >>> needed_role("api.get_data", "GET"), needed_role("api.scenarios", "POST")
    ('viewer', 'operator')
    >>> needed_role("api.send_control", "POST", {"z_threshold": 4}), needed_role("api.send_control", "POST", {"source": "push"})
    ('operator', 'admin')
    >>> needed_role("api.configure_source", "PUT")
    'admin'
    """
    if method in ("GET", "HEAD", "OPTIONS"):
        return VIEWER
    role = WRITES.get(endpoint, ADMIN)
    if endpoint == "api.send_control" and isinstance(body, Mapping) and ADMIN_SETTINGS & set(body):
        return ADMIN
    return role
