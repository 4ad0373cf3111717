"""Signing in and out, and "who am I" for the dashboard."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session

from helpers.storage import users
from helpers.web import access
from helpers.web.errors import ApiError

bp = Blueprint("auth", __name__)


def _safe_next(target: str) -> str:
    """Only a path on this server: a sign-in link must not bounce anyone elsewhere."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


@bp.get("/login", endpoint="login_page")
def login_page():
    return render_template("login.html", next=_safe_next(request.args.get("next", "/")), error=None)


@bp.post("/login", endpoint="login")
def login():
    data = request.get_json(silent=True) if request.is_json else request.form
    name, password = (data or {}).get("name"), (data or {}).get("password")
    if not isinstance(name, str) or not isinstance(password, str) or not name or not password:
        if request.is_json:
            raise ApiError(400, "name and password are required", "name" if not name else "password")
        return render_template("login.html", next=_safe_next(request.form.get("next", "/")),
                               error="Enter your name and password."), 400
    user = users.verify(name, password)
    if user is None:
        if request.is_json:
            raise ApiError(401, "wrong name or password", "password")
        return render_template("login.html", next=_safe_next(request.form.get("next", "/")),
                               error="Wrong name or password."), 401
    session.clear()  # a new session id on sign-in: no fixation
    session["uid"] = user.id
    token = access.csrf_token()
    if request.is_json:
        return {"user": user.name, "role": user.role, "csrf_token": token}
    return redirect(_safe_next(request.form.get("next", "/")))


@bp.post("/logout", endpoint="logout")
def logout():
    session.clear()
    return {"signed_out": True}


@bp.get("/api/me", endpoint="me")
def me():
    """Who the dashboard is talking for, and whether the app is in its no-accounts, local-only mode."""
    who = access.current_identity()
    return {"user": who.name if who else None, "role": who.role if who else None,
            "signed_in": bool(who and who.signed_in), "accounts": users.any_users(),
            "local": access.is_loopback(request.remote_addr), "csrf_token": access.csrf_token()}
