"""The JSON API blueprint; its routes live in one module per concern."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__)


@bp.after_request
def _no_store(response):
    # Everything here is live data or state that another browser may change.
    response.headers["Cache-Control"] = "no-store"
    return response


# Importing the route modules registers their routes on ``bp``.
from helpers.web.api import (alarms, audit_log, backtest, control, detectors, evaluations, export, history,  # noqa: E402,F401
                             ingest, mail, models, readings, sessions, sources, tick)
