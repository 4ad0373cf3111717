"""Parsing request input into typed values, or an ApiError naming the field."""
from __future__ import annotations

import math
from typing import Any, Optional

from flask import request
from werkzeug.routing import IntegerConverter

from helpers.storage import line as line_store
from helpers.storage.models import Sensor
from helpers.web.errors import ApiError


def int_arg(name: str, default: Optional[int], minimum: int, maximum: int) -> Optional[int]:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be a whole number, got {raw!r}", name) from None
    if not minimum <= value <= maximum:
        raise ApiError(400, f"{name} must be between {minimum} and {maximum}, got {value}", name)
    return value


def refuse_nul_characters():
    """Refuse a NUL character in a query argument or a JSON body with a 400 naming the field (a
    ``before_request`` hook): PostgreSQL stores none in text, and no name or value needs one."""
    for name, value in request.args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            raise ApiError(400, f"{name!r} must not contain a NUL character", name.replace("\x00", "") or "query")
    if request.is_json and _has_nul(request.get_json(silent=True)):
        raise ApiError(400, "the body must not contain a NUL character", "body")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def json_object() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object", "body")
    return body


def sensor_named(name: Any, field: str = "sensor") -> Sensor:
    if not isinstance(name, str) or not name:
        raise ApiError(400, f"{field} must be a sensor name", field)
    sensor = line_store.sensor_by_name(name)
    if sensor is None:
        raise ApiError(404, f"unknown sensor {name!r}", field)
    return sensor


def number(body: dict[str, Any], name: str, default: Optional[float], minimum: float,
           maximum: float) -> float:
    value = body.get(name, default)
    if value is None:
        raise ApiError(400, f"{name} is required", name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ApiError(400, f"{name} must be a finite number", name)
    if not minimum <= value <= maximum:
        raise ApiError(400, f"{name} must be between {minimum} and {maximum}, got {value}", name)
    return float(value)


class IdConverter(IntegerConverter):
    """``<int:…>`` in a URL up to the largest id the tables in URLs hold (PostgreSQL's INTEGER): a bigger
    number is a 404, not a database overflow (500)."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)
