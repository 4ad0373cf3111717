"""GET /api/openapi.json describes every route; requests drawn from it (and garbage) never get a 500.

The fuzz test builds hypothesis strategies from the document's own schemas,
mixes in malformed values, bodies and content types, and checks each answer:
no 5xx, every 4xx is the one JSON error shape naming a field, and a 4xx
changed nothing in the database.
"""
from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from helpers.storage.db import db
from tests.conftest import make_app
from tests.helpers_for_tests import FakeClock, drive, started_sampler

SENSORS = ("vibration", "motor_temperature", "energy_use", "pressure")
# They reach out by design (a source's server, the SMTP server): the fuzz leaves them alone.
NOT_FUZZED = {("POST", "/api/sources/{kind}/test"), ("POST", "/api/mail/test"),
              # A refused form login answers with the login page (HTML), as a browser needs.
              ("POST", "/login")}
# Pages, not API: the document leaves them out.
NOT_JSON_ROUTES = {"static", "pages.index", "pages.evaluate", "metrics.metrics", "auth.login_page"}


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("fuzz"), MODEL_SIZE=20)
    clock = FakeClock(1_795_000_000.0)
    sampler = started_sampler(app, clock)
    drive(app, sampler, clock, 30.0)  # some stored history for the routes that read it
    app.test_client().post("/send_control", json={"source": "push"})
    return app


@pytest.fixture(scope="module")
def document(fuzz_app):
    response = fuzz_app.test_client().get("/api/openapi.json")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    return response.get_json()


def flask_path(rule: str) -> str:
    """/api/alarms/<int:alarm_id>/ack → /api/alarms/{alarm_id}/ack"""
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_the_document_is_openapi_3_1_and_describes_exactly_the_routes_there_are(fuzz_app, document):
    assert document["openapi"].startswith("3.1")
    described = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    served = {(method, flask_path(rule.rule)) for rule in fuzz_app.url_map.iter_rules()
              if rule.endpoint not in NOT_JSON_ROUTES for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served - described == set(), "routes the document does not describe"
    assert described - served == set(), "the document describes routes that do not exist"
    for path, ops in document["paths"].items():
        for op in ops.values():
            assert op["summary"] and "4XX" in op["responses"]
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{([a-z_]+)}", path)), path


# --- strategies from the document's schemas ---------------------------------------

def json_values():
    return st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                     max_size=4), max_leaves=12)


def from_schema(schema: dict, name: str = ""):
    """Values that satisfy ``schema`` (the subset of JSON Schema the document uses)."""
    if name in ("sensor", "rebaseline"):
        return st.sampled_from(SENSORS) | st.text(max_size=12)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "oneOf" in schema:
        return st.one_of([from_schema(s) for s in schema["oneOf"]])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": k}) for k in kind])
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False)
    if kind == "string":
        return st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 30), 30))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        items = from_schema(schema["items"]) if "items" in schema else json_values()
        return st.lists(items, min_size=min(schema.get("minItems", 0), 3), max_size=5)
    if kind == "object" and schema.get("properties"):
        props = schema["properties"]
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries({k: from_schema(v, k) for k, v in props.items() if k in required},
                                     optional={k: from_schema(v, k) for k, v in props.items() if k not in required})
    return st.dictionaries(st.text(max_size=10), json_values(), max_size=4)


def param_value(param: dict):
    """A value for a parameter as text: a valid one, a wrong one, or none at all."""
    schema = param["schema"]
    valid = from_schema(schema, param["name"]).map(lambda v: json.dumps(v) if not isinstance(v, str) else v)
    if param["in"] == "path":
        if schema.get("type") == "integer":
            return st.integers(0, 5).map(str) | st.integers(-10, 2**70).map(str) | st.text(min_size=1, max_size=8)
        return valid | st.text(min_size=1, max_size=12)
    wrong = st.text(max_size=12) | st.sampled_from(["-1", "1e400", "NaN", "9" * 30, "", "0x10", "[]"])
    return st.one_of(st.none(), valid, valid, wrong)  # mostly well-formed, so the checks behind parsing run too


def body_for(op: dict):
    """``(content type, raw bytes)`` or None: schema-valid JSON, any JSON, garbage, or another content type."""
    content = op.get("requestBody", {}).get("content", {})
    options = [st.none(), json_values().map(lambda v: ("application/json", json.dumps(v).encode())),
               st.binary(max_size=40).map(lambda b: ("application/json", b)),
               st.text(max_size=60).map(lambda t: ("text/csv", t.encode())),
               st.binary(max_size=40).map(lambda b: ("application/octet-stream", b))]
    if "application/json" in content:
        valid = from_schema(content["application/json"]["schema"])
        options += [valid.map(lambda v: ("application/json", json.dumps(v).encode()))] * 3
    if "text/csv" in content:
        options.append(st.lists(st.lists(st.text(alphabet="ab1.,:-TZ 0", max_size=8), min_size=1, max_size=4),
                                max_size=5).map(lambda rows: ("text/csv", "\n".join(
                                    ["sensor,timestamp,value", *(",".join(r) for r in rows)]).encode())))
    return st.one_of(options)


def request_for(path: str, method: str, op: dict):
    params = op.get("parameters", [])
    return st.fixed_dictionaries({
        "values": st.fixed_dictionaries({p["name"]: param_value(p) for p in params}),
        "body": body_for(op) if method in ("post", "put") else st.none(),
    }).map(lambda drawn: (method, path, params, drawn["values"], drawn["body"]))


# --- the checks -----------------------------------------------------------------

def snapshot() -> str:
    """A digest of every table's rows: what a refused request must leave as it was."""
    digest = hashlib.sha256()
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)).all():
            digest.update(repr(tuple(row)).encode())
        digest.update(table.name.encode())
    db.session.rollback()
    return digest.hexdigest()


def send(client, method, path, params, values, body):
    url, query, headers = path, {}, {}
    for param in params:
        value = values[param["name"]]
        if param["in"] == "path":
            url = url.replace("{" + param["name"] + "}", quote(value, safe=""))
        elif value is not None and param["in"] == "query":
            query[param["name"]] = value
        elif value is not None and param["in"] == "header":
            # An HTTP client cannot send CR, LF or NUL in a header (werkzeug refuses them before any request).
            text = value.encode("latin-1", "replace").decode("latin-1")
            headers[param["name"]] = "".join(" " if c in "\r\n\x00" else c for c in text)
    kwargs = {"query_string": query, "headers": headers}
    if body is not None:
        kwargs.update(content_type=body[0], data=body[1])
    return client.open(url, method=method.upper(), **kwargs)


def operations():
    from helpers.web.openapi import spec
    return sorted((path, method) for path, ops in spec()["paths"].items() for method in ops
                  if (method.upper(), path) not in NOT_FUZZED)


@pytest.mark.parametrize("path, method", operations())
def test_fuzzed_requests_never_fail_and_refusals_store_nothing(fuzz_app, document, monkeypatch, path, method):
    from helpers.runtime.jobs import runner as jobs, training
    # A valid request starts work in a thread; the fuzz is about the request, not hours of scoring.
    monkeypatch.setattr(jobs, "start", lambda *args, **kwargs: None)
    monkeypatch.setattr(training, "start_in_background", lambda *args, **kwargs: None)
    client = fuzz_app.test_client()
    op = document["paths"][path][method]

    @settings(max_examples=40, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(request_for(path, method, op))
    def check(drawn):
        with fuzz_app.app_context():
            before = snapshot()
            response = send(client, *drawn)
            after = snapshot() if 400 <= response.status_code < 500 else before
        # A 5xx only where the route declares it (/healthz's 503 while no sampler runs).
        assert response.status_code < 500 or str(response.status_code) in op["responses"], (drawn, response.status_code, response.get_data(as_text=True)[:500])
        if 400 <= response.status_code < 500:
            error = response.get_json(silent=True)
            assert isinstance(error, dict), (drawn, response.get_data(as_text=True)[:200])
            # The field may be a body key the client chose (a sensor's name in a settings file), even "".
            assert error.get("error") and error.get("message") and isinstance(error.get("field"), str), (drawn, error)
            assert after == before, f"{response.status_code} {error} changed the database ({drawn})"

    check()
