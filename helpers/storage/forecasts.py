"""Each sensor's latest forecast: replaced at every flush, read by the dashboard and /metrics."""
from __future__ import annotations

import json
from typing import Any, Optional, Sequence

from sqlalchemy import delete, select

from helpers.storage.db import db
from helpers.storage.models import SensorForecast


def save(sensor_id: int, detector: str, t: float, step_s: float,
         points: Sequence[tuple[float, float, float]]) -> None:
    """Replace the sensor's forecast (in the caller's transaction)."""
    row = db.session.get(SensorForecast, sensor_id)
    if row is None:
        row = SensorForecast(sensor_id=sensor_id)
        db.session.add(row)
    row.detector, row.t, row.step_s = detector, t, step_s
    row.points = json.dumps([[round(v, 6) for v in point] for point in points])


def drop(sensor_ids: Sequence[int]) -> None:
    """Forget the forecasts of sensors whose forecasting detector was switched off."""
    if sensor_ids:
        db.session.execute(delete(SensorForecast).where(SensorForecast.sensor_id.in_(list(sensor_ids))))


def _as_dict(row: SensorForecast) -> dict[str, Any]:
    points = json.loads(row.points)
    return {"detector": row.detector, "t": row.t, "step_s": row.step_s,
            "points": [{"t": row.t + (i + 1) * row.step_s, "mean": m, "low": lo, "high": hi}
                       for i, (m, lo, hi) in enumerate(points)]}


def latest(sensor_id: int) -> Optional[dict[str, Any]]:
    """The sensor's forecast as ``{detector, t, step_s, points: [{t, mean, low, high}]}``, or None."""
    row = db.session.get(SensorForecast, sensor_id)
    return None if row is None else _as_dict(row)


def every_sensor() -> dict[int, dict[str, Any]]:
    """Every stored forecast by sensor id (for /metrics)."""
    return {row.sensor_id: _as_dict(row) for row in db.session.scalars(select(SensorForecast))}
