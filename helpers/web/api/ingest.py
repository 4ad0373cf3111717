"""Readings in and out: ``POST /api/readings`` (a JSON or CSV batch, checked whole) and the CSV export."""
from __future__ import annotations

import time

from flask import current_app, request

from helpers.core.formats import ingest
from helpers.storage import ingest_queue, tokens
from helpers.storage import line as line_store
from helpers.storage import settings as settings_store
from helpers.web.api import bp
from helpers.web.errors import ApiError

LOCAL = ("127.0.0.1", "::1")


def authorise() -> str:
    """Who is pushing: a live bearer token's name, or the local machine while no token exists."""
    header = request.headers.get("Authorization", "")
    now = time.time()
    if header:
        scheme, _, token = header.partition(" ")
        name = tokens.check(token.strip(), now) if scheme.lower() == "bearer" and token.strip() else None
        if name is None:
            raise ApiError(401, "the API token is unknown or revoked", "Authorization")
        return f"token:{name}"
    if tokens.any_active():
        raise ApiError(401, "send an API token: Authorization: Bearer <token> (flask token create NAME)",
                       "Authorization")
    if request.remote_addr not in LOCAL:
        raise ApiError(403, "no API token exists yet, so the ingest API only accepts requests from 127.0.0.1; "
                            "create one with flask token create NAME", "Authorization")
    return "local"


@bp.post("/api/readings", endpoint="push_readings")
def push_readings():
    who = authorise()
    config = current_app.config
    line, _ = settings_store.load_settings()
    if line["source"] != "push":
        raise ApiError(409, f"the line reads from its {line['source']!r} source; set its source to 'push' "
                            f"(POST /send_control {{\"source\": \"push\"}}) to accept pushed readings", "source")
    request.max_content_length = config["INGEST_MAX_BYTES"]  # a bigger body is a 413 before it is read
    key = request.headers.get("Idempotency-Key") or None
    if key is not None and len(key) > 128:
        raise ApiError(400, "Idempotency-Key must be at most 128 characters", "Idempotency-Key")
    now = time.time()
    try:
        if request.mimetype == "application/json":
            body = request.get_json(silent=True)
            if body is None:
                raise ApiError(400, "the body is not valid JSON", "body")
            items = ingest.json_items(body)
        elif request.mimetype == "text/csv":
            items = ingest.csv_items(request.get_data(as_text=True))
        else:
            raise ApiError(415, "send application/json ({\"readings\": [...]}) or text/csv "
                                "(sensor,timestamp,value)", "Content-Type")
        rows = ingest.check_rows(items, now, config["INGEST_MAX_FUTURE_S"])
        count, repeated = ingest_queue.accept(rows, who, line_store.the_line().id, config["INGEST_AUTO_REGISTER"],
                                              now, key)
    except ingest.BatchRejected as exc:
        first = exc.problems[0]
        response = {"error": "bad_request", "message": str(exc), "field": first.field,
                    "errors": [p.as_dict() for p in exc.problems]}
        return response, 400
    return {"accepted": count, "repeated": repeated}, 200 if repeated else 201
