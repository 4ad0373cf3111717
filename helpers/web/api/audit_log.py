"""The audit log for the dashboard: control and settings changes, newest first."""
from __future__ import annotations

from helpers.storage import audit
from helpers.web.api import bp
from helpers.web.params import int_arg


@bp.get("/api/audit", endpoint="audit_log")
def audit_log():
    limit = int_arg("limit", 50, 1, 500)
    before = int_arg("before", None, 1, 2**63 - 1)
    return {"entries": audit.recent(limit, before)}
