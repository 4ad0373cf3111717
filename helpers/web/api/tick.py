"""What the dashboard shows every second, in one answer.

A page used to ask four routes every second (its sensor's readings, the
overview, the settings, the forecast); a class of a hundred pages then sent
400 requests a second for what is one snapshot. One request carries the same
four answers, each exactly as its own route gives it.
"""
from __future__ import annotations

from helpers.storage import settings as settings_store
from helpers.web.api import bp
from helpers.web.api.detectors import forecast
from helpers.web.api.readings import get_data, line_overview, overview_args


@bp.get("/api/tick", endpoint="tick")
def tick():
    """``/get_data``'s parameters for the sensor; ``overview_since`` and ``points`` as ``/api/overview``'s ``since`` and ``points``."""
    overview = line_overview(*overview_args("overview_since"))
    return {"data": get_data(), "overview": overview, "control": settings_store.control_state(), "forecast": forecast()}
