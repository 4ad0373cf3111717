"""E-mail routes: the mail settings with the outbox's state, and a test e-mail sent right away."""
from __future__ import annotations

import time

from flask import current_app, request

from helpers.core.alerts.message import parse_addresses
from helpers.runtime.alerting import compose
from helpers.runtime.alerting import mailer
from helpers.storage import outbox
from helpers.web.api import bp
from helpers.web.errors import ApiError, error_response


@bp.get("/api/mail", endpoint="mail_status")
def mail_status():
    """Settings (never the password) and the queue: counts, last send, last error, oldest waiting."""
    return {**mailer.settings(current_app), "outbox": outbox.summary()}


@bp.post("/api/mail/test", endpoint="mail_test")
def mail_test():
    """Send one e-mail now, to ``to`` or the configured recipients: 200, or 502 with the SMTP error."""
    body = request.get_json(silent=True) if request.get_data() else {}
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object (or empty)", "body")
    try:
        to = parse_addresses(body.get("to"))
    except ValueError as exc:
        raise ApiError(400, f"to: {exc}", "to") from None
    if body.get("to") is not None and not to:
        raise ApiError(400, "to must name at least one e-mail address", "to")
    to = to or compose.recipients(current_app.config)
    if not to:
        raise ApiError(409, "no recipients: set ALERT_RECIPIENTS, or give \"to\"", "to")
    error = mailer.send_test(current_app._get_current_object(), to, time.time())
    if error is not None:
        return error_response(502, "smtp_error", error)
    return {"ok": True, "to": to}
