"""POST /api/readings: a batch checked whole and stored atomically, tokens, and the sampler judging it."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from helpers.storage import line as line_store
from helpers.storage import readings as reading_store
from helpers.storage.db import db
from helpers.storage.models import IngestBatch, Reading
from tests.conftest import make_app
from tests.helpers_for_tests import FakeClock, drive, started_sampler

NOW_ISO = "2026-11-26T10:00:00Z"
T = 1_795_000_000.0  # a moment well in the past of every test run


@pytest.fixture
def app(tmp_path):
    app = make_app(tmp_path, INGEST_MAX_BYTES=200_000)
    app.test_client().post("/send_control", json={"source": "push"})
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def batch(n=3, sensor="vibration", start=T, step=1.0):
    return {"readings": [{"sensor": sensor, "timestamp": start + i * step, "value": 1.0 + i} for i in range(n)]}


def stored(app):
    with app.app_context():
        queued = db.session.scalar(select(func.coalesce(func.sum(IngestBatch.count), 0)))
        readings = db.session.scalar(select(func.count()).select_from(Reading))
        return queued, readings


def test_a_json_batch_is_accepted_whole(app, client):
    response = client.post("/api/readings", json=batch(5))
    assert response.status_code == 201 and response.get_json() == {"accepted": 5, "repeated": False}
    assert stored(app) == (5, 0)


def test_a_csv_batch_with_iso_times(app, client):
    body = "sensor,timestamp,value\nvibration,2026-11-26T10:00:00Z,1.5\npressure,2026-11-26 10:00:01,120\n"
    response = client.post("/api/readings", data=body, content_type="text/csv")
    assert response.status_code == 201 and response.get_json()["accepted"] == 2


@pytest.mark.parametrize("reading, field, words", [
    ({"timestamp": T, "value": 1}, "sensor", "missing"),
    ({"sensor": "vibration", "value": 1}, "timestamp", "missing"),
    ({"sensor": "vibration", "timestamp": T}, "value", "missing"),
    ({"sensor": "vibration", "timestamp": T, "value": "abc"}, "value", "not a number"),
    ({"sensor": "vibration", "timestamp": T, "value": "NaN"}, "value", "finite"),
    ({"sensor": "vibration", "timestamp": T, "value": "inf"}, "value", "finite"),
    ({"sensor": "vibration", "timestamp": T, "value": True}, "value", "number"),
    ({"sensor": "vibration", "timestamp": "noon", "value": 1}, "timestamp", "ISO 8601"),
    ({"sensor": "vibration", "timestamp": 4e9, "value": 1}, "timestamp", "future"),
    ({"sensor": "nope", "timestamp": T, "value": 1}, "sensor", "unknown sensor 'nope'"),
])
def test_one_bad_row_names_its_row_and_reason_and_nothing_is_stored(app, client, reading, field, words):
    body = batch(3)
    body["readings"].insert(1, reading)
    response = client.post("/api/readings", json=body)
    assert response.status_code == 400, response.get_json()
    out = response.get_json()
    assert out["field"] == field and out["errors"][0] == {"row": 2, "field": field, "reason": out["errors"][0]["reason"]}
    assert words in out["errors"][0]["reason"] and "nothing was stored" in out["message"]
    assert stored(app) == (0, 0)


def test_every_problem_is_listed_with_its_row(client):
    body = {"readings": [{"sensor": "vibration", "timestamp": "x", "value": "y"}, {"sensor": "", "timestamp": T,
                                                                                  "value": 1}]}
    errors = client.post("/api/readings", json=body).get_json()["errors"]
    assert [(e["row"], e["field"]) for e in errors] == [(1, "timestamp"), (1, "value"), (2, "sensor")]


def test_late_data_is_refused_and_a_batch_is_sorted_per_sensor(app, client):
    unordered = {"readings": [{"sensor": "vibration", "timestamp": T + 5, "value": 1},
                              {"sensor": "vibration", "timestamp": T + 1, "value": 2}]}
    assert client.post("/api/readings", json=unordered).status_code == 201
    late = client.post("/api/readings", json=batch(1, start=T + 3))
    assert late.status_code == 400 and "older than vibration's last reading" in late.get_json()["errors"][0]["reason"]
    assert client.post("/api/readings", json=batch(1, start=T + 5)).status_code == 201  # equal time is fine
    with app.app_context():
        rows = json.loads(db.session.scalars(select(IngestBatch.rows).order_by(IngestBatch.id)).first())
    assert [t for _, t, _ in rows] == [T + 1, T + 5]


def test_size_type_and_shape_limits(client):
    assert client.post("/api/readings", json=batch(10_001, step=0.001)).status_code in (400, 413)
    too_many = client.post("/api/readings", data=json.dumps(batch(10_001, step=0.001)),
                           content_type="application/json", headers={"Content-Length": "10"})
    assert too_many.status_code in (400, 413)
    big = "sensor,timestamp,value\n" + "vibration,1795000000,1.0\n" * 20_000
    assert client.post("/api/readings", data=big, content_type="text/csv").status_code == 413
    assert client.post("/api/readings", data="x", content_type="text/plain").status_code == 415
    assert client.post("/api/readings", json={"readings": []}).get_json()["field"] == "readings"
    assert client.post("/api/readings", json=[1, 2]).get_json()["field"] == "readings"
    bad_csv = client.post("/api/readings", data="a,b\n1,2\n", content_type="text/csv")
    assert bad_csv.status_code == 400 and "sensor,timestamp,value" in bad_csv.get_json()["message"]


def test_a_batch_over_ten_thousand_readings_is_refused(tmp_path):
    app = make_app(tmp_path, INGEST_MAX_BYTES=5_000_000)
    client = app.test_client()
    client.post("/send_control", json={"source": "push"})
    response = client.post("/api/readings", json=batch(10_001, step=0.001))
    assert response.status_code == 400 and "at most 10,000" in response.get_json()["message"]


def test_auto_registration_creates_the_sensor(tmp_path):
    app = make_app(tmp_path, INGEST_AUTO_REGISTER=True)
    client = app.test_client()
    client.post("/send_control", json={"source": "push"})
    assert client.post("/api/readings", json=batch(2, sensor="spindle_speed")).status_code == 201
    assert "spindle_speed" in {s["name"] for s in client.get("/api/sensors").get_json()["sensors"]}
    clock = FakeClock(T + 300)
    drive(app, started_sampler(app, clock), clock, 0.5)
    assert 'linewatch_readings_total{sensor="spindle_speed"} 2.0' in client.get("/metrics").get_data(as_text=True)


def test_pushes_are_refused_while_the_line_runs_its_simulator(tmp_path):
    client = make_app(tmp_path).test_client()
    response = client.post("/api/readings", json=batch(1))
    assert response.status_code == 409 and response.get_json()["field"] == "source"


def test_an_idempotency_key_makes_a_retry_harmless(app, client):
    first = client.post("/api/readings", json=batch(3), headers={"Idempotency-Key": "node-1:42"})
    again = client.post("/api/readings", json=batch(3), headers={"Idempotency-Key": "node-1:42"})
    assert first.status_code == 201 and again.status_code == 200 and again.get_json()["repeated"] is True
    assert stored(app) == (3, 0)


def test_tokens_created_checked_and_revoked(app, client):
    runner = app.test_cli_runner()
    created = runner.invoke(args=["token", "create", "edge-1"])
    assert created.exit_code == 0
    token = created.stdout.strip()
    assert token.startswith("lw_")
    assert runner.invoke(args=["token", "create", "edge-1"]).exit_code != 0
    assert client.post("/api/readings", json=batch(1)).status_code == 401  # a token exists: local is not enough
    wrong = client.post("/api/readings", json=batch(1), headers={"Authorization": "Bearer lw_nope"})
    assert wrong.status_code == 401 and wrong.get_json()["field"] == "Authorization"
    ok = client.post("/api/readings", json=batch(1), headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 201
    assert "edge-1" in runner.invoke(args=["token", "list"]).stdout
    assert runner.invoke(args=["token", "revoke", "edge-1"]).exit_code == 0
    revoked = client.post("/api/readings", json=batch(1, start=T + 10), headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code == 401 and "revoked" in revoked.get_json()["message"]
    with app.app_context():
        from helpers.storage.models import ApiToken
        assert token not in {t.token_hash for t in db.session.scalars(select(ApiToken))}


def test_without_tokens_only_the_local_machine_may_push(client):
    far = client.post("/api/readings", json=batch(1), environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert far.status_code == 403 and "127.0.0.1" in far.get_json()["message"]


def test_the_sampler_judges_pushed_readings_stores_them_and_empties_the_queue(app, client):
    body = {"readings": [{"sensor": "vibration", "timestamp": T + i, "value": 2.0 + 0.01 * (i % 5)}
                         for i in range(200)] + [{"sensor": "vibration", "timestamp": T + 200, "value": 50.0}]}
    assert client.post("/api/readings", json=body).status_code == 201
    clock = FakeClock(T + 300)
    sampler = started_sampler(app, clock)
    drive(app, sampler, clock, 1.0)
    assert stored(app) == (0, 201)
    with app.app_context():
        sensor = line_store.sensor_by_name("vibration")
        rows = reading_store.latest_readings(sensor.id, 201)
    assert [r["t"] for r in rows] == [T + i for i in range(201)]
    assert rows[-1]["anomaly"] and not any(r["anomaly"] for r in rows[:-1])
    # Other sensors were not simulated: the line's source is push.
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Reading).where(Reading.sensor_id != sensor.id)) == 0


def test_a_csv_with_a_nul_or_an_oversized_field_is_refused_naming_the_body(client):
    for body in ("sensor,timestamp,value\nvib\x00ration,2026-01-01T00:00:00,1\n",
                 "sensor,timestamp,value\n" + "x" * 140_000 + ",1,2\n"):  # over csv's field limit
        answer = client.post("/api/readings", data=body, content_type="text/csv")
        assert answer.status_code == 400 and answer.get_json()["field"] == "body"
