"""The API described for machines: an OpenAPI 3.1 document at ``GET /api/openapi.json``.

One entry per route, with its parameters and request body, written beside the
registries the routes validate against (settings, scenario kinds, sources), so
the enums and ranges cannot drift from them. Clients generate code from it, and
the fuzz test (tests/test_openapi.py) draws its requests from it.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional

from flask import Blueprint, current_app

bp = Blueprint("openapi", __name__)

BIG = 2**63 - 1
TIME = {"oneOf": [{"type": "number"}, {"type": "string"}],
        "description": "ISO 8601 (without a zone: UTC) or epoch seconds"}
TEXT_64 = {"type": "string", "maxLength": 64}
NOTE = {"type": "string", "maxLength": 1000}


class Route(NamedTuple):
    method: str
    path: str  # OpenAPI form: /api/alarms/{alarm_id}/ack
    summary: str
    params: tuple = ()  # (name, "query" | "path" | "header", schema, required)
    body: Optional[dict] = None  # media type -> schema
    responses: tuple = (200,)


def q(name: str, schema: dict, required: bool = False) -> tuple:
    return (name, "query", schema, required)


def p(name: str, schema: Optional[dict] = None) -> tuple:
    return (name, "path", schema or {"type": "integer", "minimum": 0}, True)


def whole(minimum: int, maximum: int) -> dict:
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


def number(minimum: float, maximum: float) -> dict:
    return {"type": "number", "minimum": minimum, "maximum": maximum}


def obj(properties: dict, required: tuple = (), extra: bool = False) -> dict:
    schema = {"type": "object", "properties": properties, "additionalProperties": extra}
    if required:
        schema["required"] = list(required)
    return schema


def json_body(schema: dict) -> dict:
    return {"application/json": schema}


def _setting_schema(spec) -> dict:
    if spec.choices:
        return {"enum": list(spec.choices)}
    kind = {bool: "boolean", int: "integer", float: "number", str: "string"}[spec.kind]
    schema = {"type": kind}
    if spec.minimum is not None:
        schema["minimum"] = spec.minimum
    if spec.maximum is not None:
        schema["maximum"] = spec.maximum
    if spec.help:
        schema["description"] = spec.help
    return schema


def routes() -> list[Route]:
    """Every API route; built on demand from the registries the routes check against."""
    from helpers.core.line.scenarios import SCENARIO_KINDS
    from helpers.core.settings import SETTINGS
    from helpers.runtime.jobs.backtest import SETTING_KEYS
    from helpers.runtime.sources import KINDS
    from helpers.storage.alarms import CLASSIFICATIONS
    from helpers.web.api.history import MAX_ROLLUP_SECONDS as rollup_max

    settings = {name: _setting_schema(spec) for name, spec in SETTINGS.items()}
    per_sensor = [name for name, spec in SETTINGS.items() if spec.per_sensor]
    sensor = {"type": "string", "minLength": 1}
    since = whole(0, BIG)
    kind = {"enum": list(KINDS)}
    multipart_file = {"multipart/form-data": obj({"file": {"type": "string", "format": "binary"}}, ("file",), True)}
    reading = obj({"sensor": {"type": "string", "maxLength": 64}, "timestamp": TIME,
                   "value": {"oneOf": [{"type": "number"}, {"type": "string"}]}}, ("sensor", "timestamp", "value"))
    data_query = (q("sensor", sensor, True), q("window", whole(1, 10_000)), q("since", since),
                  q("seconds", whole(1, 86_400)), q("around", whole(0, 10**11)))
    return [
        # readings and health
        Route("GET", "/get_data", "One sensor's readings: the last window, since an id, the last seconds or around a moment",
              data_query),
        Route("GET", "/api/overview", "Every sensor's status and its newest points",
              (q("since", since), q("points", whole(1, 1000)))),
        Route("GET", "/api/tick", "What the dashboard shows every second: /get_data, /api/overview, /get_control "
              "and /api/forecast in one answer",
              (*data_query, q("overview_since", since), q("points", whole(1, 1000)))),
        Route("GET", "/api/line_scores", "The line model's verdicts", (q("window", whole(1, 10_000)), q("since", since))),
        Route("GET", "/api/anomalies", "The newest anomalies", (q("sensor", sensor), q("limit", whole(1, 500)))),
        Route("GET", "/api/sensors", "The sensors and their status"),
        Route("POST", "/api/scenarios", "Inject an anomaly into a sensor for a while", body=json_body(obj(
            {"sensor": sensor, "kind": {"enum": list(SCENARIO_KINDS)}, "duration_s": number(0.001, 3600),
             "magnitude": number(-1000, 1000), "start_in_s": number(0, 3600)}, ("sensor", "kind", "duration_s"))),
              responses=(201,)),
        Route("GET", "/api/scenarios", "The injected scenarios", (q("sensor", sensor), q("limit", whole(1, 1000)))),
        Route("GET", "/healthz", "The sampler's health: 200 ok, 503 down, stale or degraded (a crash, failing steps)",
              responses=(200, 503)),
        Route("POST", "/api/readings", "Push a batch of readings, checked whole and stored atomically",
              (("Idempotency-Key", "header", {"type": "string", "maxLength": 128}, False),),
              {"application/json": obj({"readings": {"type": "array", "items": reading, "minItems": 1,
                                                     "maxItems": 10_000}}, ("readings",)),
               "text/csv": {"type": "string", "description": "sensor,timestamp,value with a header line"}},
              responses=(201, 200)),
        Route("GET", "/api/readings.csv", "Stored readings as CSV",
              (q("sensor", {"type": "string"}), q("from", {"type": "string"}), q("to", {"type": "string"}))),
        # control
        Route("GET", "/get_control", "Every setting, line-wide and per sensor"),
        Route("POST", "/send_control", "Change settings (line-wide, or one sensor's with sensor); re-baseline a sensor",
              body=json_body(obj({"sensor": sensor, "rebaseline": sensor, **settings}))),
        Route("GET", "/api/settings/{key}.json", "One per-sensor setting for every sensor",
              (p("key", {"enum": per_sensor}),)),
        Route("POST", "/api/settings/{key}.json", "Set one per-sensor setting for every sensor, checked whole",
              (p("key", {"enum": per_sensor}),), json_body({"type": "object"})),
        # alarms
        Route("GET", "/api/alarms", "Alarms, the flood indicator, shelves and maintenance windows",
              (q("limit", whole(1, 1000)), q("since", whole(0, 2**31 - 1)), q("active", {"enum": ["1", "true", "0"]}))),
        Route("POST", "/api/alarms/{alarm_id}/ack", "Acknowledge an alarm", (p("alarm_id"),),
              json_body(obj({"by": TEXT_64, "note": NOTE}, ("by",)))),
        Route("POST", "/api/alarms/{alarm_id}/classify", "Mark an alarm a false alarm or a real fault", (p("alarm_id"),),
              json_body(obj({"by": TEXT_64, "classification": {"enum": [*CLASSIFICATIONS, None]}}, ("by",)))),
        Route("POST", "/api/shelves", "Silence a sensor's alarms for a while", body=json_body(obj(
            {"sensor": sensor, "by": TEXT_64, "reason": NOTE, "minutes": number(1, 7 * 24 * 60)},
            ("sensor", "by", "minutes"))), responses=(201,)),
        Route("DELETE", "/api/shelves/{shelf_id}", "End a shelf", (p("shelf_id"),)),
        Route("POST", "/api/maintenance", "A maintenance window (one sensor, or the line without sensor)",
              body=json_body(obj({"sensor": {"type": ["string", "null"]}, "by": TEXT_64, "note": NOTE,
                                  "starts_at": number(0, 1e11), "ends_at": number(0, 1e11)}, ("by", "ends_at"))),
              responses=(201,)),
        Route("DELETE", "/api/maintenance/{window_id}", "Delete a maintenance window", (p("window_id"),)),
        Route("GET", "/api/states", "Each sensor's and the line's usage state, and the recent changes",
              (q("limit", whole(1, 1000)),)),
        # backtest
        Route("POST", "/api/backtest", "Re-run a sensor's detector with other settings over its history",
              body=json_body(obj({"sensor": sensor, "from": TIME, "to": TIME, "detector": {"enum": list(SETTING_KEYS)},
                                  "settings": {"type": "object"}}, ("sensor", "from"))), responses=(202,)),
        Route("GET", "/api/backtest/{job_id}", "A backtest's progress and result", (p("job_id"),)),
        # evaluate
        Route("GET", "/api/evaluate/examples", "The bundled NAB series and the detectors on offer"),
        Route("GET", "/api/evaluate/examples/{example_id}", "A bundled series",
              (p("example_id", {"type": "string"}),)),
        Route("POST", "/api/evaluations", "Evaluate detectors on a bundled example (JSON) or an upload (multipart)",
              body={"application/json": obj({"example": {"type": "string"},
                                             "detectors": {"type": "array", "items": {"type": "string"}},
                                             "windows": {"type": "array"}}, ("example",)),
                    "multipart/form-data": obj({"file": {"type": "string", "format": "binary"},
                                                "labels": {"type": "string", "format": "binary"},
                                                "windows": {"type": "string"}, "detectors": {"type": "string"}},
                                               ("file",))}, responses=(202,)),
        Route("GET", "/api/evaluations/{run_id}", "An evaluation's progress and result", (p("run_id"),)),
        Route("GET", "/api/evaluations/{run_id}/series", "An evaluation's series and detections", (p("run_id"),)),
        Route("POST", "/api/evaluations/{run_id}/score", "Score an evaluation at other thresholds", (p("run_id"),),
              json_body(obj({"thresholds": {"type": "object"}, "windows": {"type": "array"}}))),
        # mail
        Route("GET", "/api/mail", "Mail settings (never the password) and the outbox"),
        Route("POST", "/api/mail/test", "Send a test e-mail now: 200, or 502 with the SMTP error",
              body=json_body(obj({"to": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}})),
              responses=(200, 502)),
        # models
        Route("POST", "/api/models/train", "Train a sensor's (or the line's) LSTM in the background",
              body=json_body(obj({"sensor": sensor, "line": {"type": "boolean"}, "from": TIME, "to": TIME})),
              responses=(202,)),
        Route("GET", "/api/training/{job_id}", "A training's progress", (p("job_id"),)),
        Route("GET", "/api/models", "A sensor's (or the line's) model versions",
              (q("sensor", sensor), q("line", {"enum": ["1", "true"]}))),
        Route("GET", "/api/models/{model_id}", "A model's card", (p("model_id"),)),
        Route("POST", "/api/models/{model_id}/activate", "Make a model version the active one", (p("model_id"),)),
        # sessions
        Route("GET", "/api/session", "The current session"),
        Route("POST", "/api/session", "Start a new session (optionally seeded)",
              body=json_body(obj({"seed": {"type": ["integer", "null"], "minimum": 0, "maximum": 2**31 - 1}})),
              responses=(201,)),
        Route("GET", "/api/scorecard", "Caught, missed and false alarms per detector", (q("session", whole(1, 2**31 - 1)),)),
        Route("GET", "/api/session/export.csv", "A session as CSV", (q("session", whole(1, 2**31 - 1)),)),
        Route("POST", "/api/session/replay", "Replay an exported session",
              body={"text/csv": {"type": "string"}, **multipart_file}, responses=(201,)),
        # sources
        Route("GET", "/api/sources", "The pull sources, their settings and health, and the ingest queue"),
        Route("PUT", "/api/sources/{kind}", "A pull source's settings, checked whole", (p("kind", kind),),
              json_body({"type": "object"})),
        Route("POST", "/api/sources/{kind}/test", "Try a source once: 200, 502 with its error or 504",
              (p("kind", kind),), json_body({"type": "object"}), responses=(200, 502, 504)),
        Route("POST", "/api/sources/csv_replay/file", "The CSV the replay source plays", body=multipart_file,
              responses=(201,)),
        # detectors
        Route("GET", "/api/detectors", "The detectors a sensor can run live, and each sensor's choice"),
        Route("GET", "/api/forecast", "A sensor's latest forecast", (q("sensor", sensor, True),)),
        # history
        Route("GET", "/api/rollups", "A sensor's thinned history: per-minute min, mean and max",
              (q("sensor", sensor, True), q("seconds", whole(60, rollup_max)), q("until", whole(0, 10**11)))),
        # accounts
        Route("POST", "/login", "Sign in (JSON here; the login page posts a form and gets the page back)",
              body={"application/json": obj({"name": {"type": "string"}, "password": {"type": "string"},
                                             "next": {"type": "string"}}, ("name", "password")),
                    "application/x-www-form-urlencoded": obj({"name": {"type": "string"},
                                                              "password": {"type": "string"},
                                                              "next": {"type": "string"}}, ("name", "password"))}),
        Route("POST", "/logout", "Sign out"),
        Route("GET", "/api/me", "Who the dashboard talks for, the role, and the CSRF token"),
        Route("GET", "/api/audit", "Control and settings changes: who, what, before and after, when",
              (q("limit", whole(1, 500)), q("before", whole(1, BIG)))),
        Route("GET", "/api/openapi.json", "This document"),
    ]


ERROR = obj({"error": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"},
             "errors": {"type": "array"}}, ("error", "message"), True)


def _operation(route: Route) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": route.summary, "operationId": f"{route.method.lower()} {route.path}"}
    if route.params:
        op["parameters"] = [{"name": name, "in": where, "required": required, "schema": schema}
                            for name, where, schema, required in route.params]
    if route.body:
        op["requestBody"] = {"required": True, "content": {kind: {"schema": schema}
                                                           for kind, schema in route.body.items()}}
    csv = route.path.endswith(".csv")
    op["responses"] = {str(code): {"description": "ok" if code < 300 else "see the error",
                                   "content": {"text/csv" if csv and code < 300 else "application/json": {}}}
                       for code in route.responses}
    op["responses"]["4XX"] = {"description": "bad input: which field, and why",
                              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return op


def spec() -> dict[str, Any]:
    paths: dict[str, dict] = {}
    for route in routes():
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {"openapi": "3.1.0",
            "info": {"title": "Linewatch", "version": "1",
                     "description": "Real-time anomaly detection on a production line. Errors share one shape."},
            "paths": paths, "components": {"schemas": {"Error": ERROR}}}


@bp.get("/api/openapi.json", endpoint="spec")
def openapi_json():
    response = current_app.json.response(spec())
    response.headers["Cache-Control"] = "no-store"
    return response
