"""The gate every request passes: who is asking, may they, is it cross-site, and what changed.

Without any user account the app is open, but only to 127.0.0.1: a request
from another address may read and is refused any change, with the reason. Once
an account exists every request needs a signed-in session (or, for the ingest
API, a bearer token), and every change by a session must carry its CSRF token.
Successful changes are written to the audit log.
"""
from __future__ import annotations

import ipaddress
import logging
import secrets
import time
from typing import Any, Optional
from urllib.parse import urlsplit

from flask import Flask, g, redirect, request, session, url_for

from helpers.storage import app_secrets, audit, users
from helpers.storage import settings as settings_store
from helpers.web import policy
from helpers.web.errors import error_response

log = logging.getLogger(__name__)

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSRF_HEADER = "X-CSRF-Token"

CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
                           "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")

NO_USERS = ("no user accounts exist yet, so changes are accepted only from 127.0.0.1; "
            "create one with `flask user create NAME --role admin` and sign in")


class Identity:
    """Who is asking: a signed-in user, or the local machine while no accounts exist."""

    def __init__(self, name: str, role: str, signed_in: bool):
        self.name, self.role, self.signed_in = name, role, signed_in


def is_loopback(address: Optional[str]) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def csrf_token() -> str:
    """This session's CSRF token (made on first use); pages put it in a meta tag for api.js."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _cross_site() -> bool:
    """An unsafe request whose Origin (or Referer) is another site: a browser was made to send it."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source or source == "null":
        return bool(source)
    return urlsplit(source).netloc != request.host


def current_identity() -> Optional[Identity]:
    uid = session.get("uid")
    if uid is not None:
        user = users.get(uid)
        if user is not None:
            return Identity(user.name, user.role, True)
        session.clear()  # the account was deleted
    if not users.any_users():
        return Identity("local", policy.ADMIN, False) if is_loopback(request.remote_addr) \
            else Identity("anonymous", policy.VIEWER, False)
    return None


def _refuse(status: int, message: str):
    if status == 401 and request.method in SAFE_METHODS and request.blueprint == "pages":
        return redirect(url_for("auth.login_page", next=request.full_path.rstrip("?")))
    return error_response(status, "unauthorized" if status == 401 else "forbidden", message)


def guard():
    endpoint = request.endpoint or ""
    if endpoint in policy.OPEN and request.method in SAFE_METHODS:
        return None
    unsafe = request.method not in SAFE_METHODS
    if unsafe and _cross_site():
        return _refuse(403, "cross-site request refused: its Origin is not this server")
    if endpoint in policy.OPEN or endpoint in policy.TOKEN:
        return None
    who = current_identity()
    if who is None:
        return _refuse(401, "sign in first (POST /login)")
    g.identity = who
    body = request.get_json(silent=True) if unsafe and request.is_json else None
    needed = policy.needed_role(endpoint, request.method, body)
    if unsafe and not who.signed_in and who.role != policy.ADMIN:
        return _refuse(403, NO_USERS)
    if unsafe and who.signed_in and not secrets.compare_digest(request.headers.get(CSRF_HEADER, ""),
                                                               session.get("csrf", "")):
        return _refuse(403, f"missing or wrong {CSRF_HEADER} header (reload the page)")
    if users.rank(who.role) < users.rank(needed):
        return _refuse(403, f"{who.name} is a {who.role}; this needs the {needed} role")
    if unsafe and endpoint not in policy.NOT_AUDITED:
        g.audit_before = _settings_snapshot() if endpoint in SETTINGS_ENDPOINTS else None
    return None


# Routes whose change is best told as settings before → after.
SETTINGS_ENDPOINTS = frozenset({"api.send_control", "api.import_setting"})


def _settings_snapshot() -> dict[str, Any]:
    line, overrides = settings_store.load_settings()
    return {"line": dict(line), **{f"sensor:{k}": dict(v) for k, v in overrides.items()}}


def _changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose value differs, per scope."""
    old, new = {}, {}
    for scope in sorted(set(before) | set(after)):
        b, a = before.get(scope, {}), after.get(scope, {})
        for key in sorted(set(b) | set(a)):
            if b.get(key) != a.get(key):
                old.setdefault(scope, {})[key] = b.get(key)
                new.setdefault(scope, {})[key] = a.get(key)
    return old, new


def _request_values():
    """What a change asked for: its body's values, with the ids in its URL (the alarm's, the source's kind)."""
    body = request.get_json(silent=True) if request.is_json else (dict(request.form) or None)
    if not request.view_args:
        return body
    values = dict(request.view_args)
    if isinstance(body, dict):
        values.update(body)
    elif body is not None:
        values["body"] = body
    return values


def record_change(response):
    """Audit a successful change (after the route committed it)."""
    if request.method in SAFE_METHODS or not hasattr(g, "audit_before") or not 200 <= response.status_code < 300:
        return response
    who = g.identity
    before = g.audit_before
    if before is not None:
        before, after = _changed(before, _settings_snapshot())
    else:
        after = _request_values()
    audit.record(time.time(), who.name, who.role, request.endpoint or "", request.path, before, after,
                 request.remote_addr)
    return response


def security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    return response


def init_app(app: Flask) -> None:
    """Sign sessions with SECRET_KEY, or a key made on first start and kept in the database."""
    with app.app_context():
        app.secret_key = app.config.get("SECRET_KEY") or app_secrets.get_or_create("session_signing_key")
        host = app.config["BIND"].rpartition(":")[0].strip("[]")
        if not users.any_users() and not (host == "localhost" or is_loopback(host)):
            log.warning("bound to %s with no user accounts: changes are refused from every address but "
                        "127.0.0.1 until an admin runs `flask user create NAME --role admin`", host)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.before_request(guard)
    app.after_request(record_change)
    app.after_request(security_headers)
    app.context_processor(lambda: {"csrf_token": csrf_token, "current_user": getattr(g, "identity", None)})
