"""The JSON routes through the test client: the happy paths and every bad input."""
from __future__ import annotations

import pytest

from helpers.core.line.simulator import DEFAULT_SENSORS
from tests.helpers_for_tests import FakeClock, drive, started_sampler


@pytest.fixture
def sampled(app):
    """An app whose sampler has produced 30 s of readings at 1 Hz, driven by a fake clock."""
    clock = FakeClock(1_800_000_000.0)
    drive(app, started_sampler(app, clock), clock, 30.0, tick=1.0)
    return app


def error_of(response, status, field=None):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) >= {"error", "message"} and body["message"]
    if field is not None:
        assert body["field"] == field
    return body


# --- /get_data -------------------------------------------------------------

def test_get_data_returns_the_latest_points_oldest_first(sampled):
    client = sampled.test_client()
    response = client.get("/get_data?sensor=vibration&window=10")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    points = body["points"]
    assert len(points) == 10
    assert [p["id"] for p in points] == sorted(p["id"] for p in points)
    assert set(points[0]) >= {"id", "t", "timestamp", "value", "mean", "std", "z", "threshold", "anomaly",
                              "anomaly_ratio", "baseline_state", "scenario_id", "completeness"}
    assert body["unit"] == "mm/s" and body["running"] is True
    assert body["completeness"] == pytest.approx(31 / 100 * 100)
    assert body["baseline_state"] == "learning"


def test_get_data_default_window_and_since_cursor(sampled):
    client = sampled.test_client()
    everything = client.get("/get_data?sensor=vibration").get_json()["points"]
    assert len(everything) == 31
    cursor = everything[-5]["id"]
    newer = client.get(f"/get_data?sensor=vibration&since={cursor}").get_json()["points"]
    assert [p["id"] for p in newer] == [p["id"] for p in everything[-4:]]
    nothing_new = client.get(f"/get_data?sensor=vibration&since={everything[-1]['id']}").get_json()
    assert nothing_new["points"] == [] and nothing_new["latest_id"] == everything[-1]["id"]


@pytest.mark.parametrize("query, status, field", [
    ("", 400, "sensor"),
    ("sensor=", 400, "sensor"),
    ("sensor=nope", 404, "sensor"),
    ("sensor=vibration&window=0", 400, "window"),
    ("sensor=vibration&window=10001", 400, "window"),
    ("sensor=vibration&window=abc", 400, "window"),
    ("sensor=vibration&window=1.5", 400, "window"),
    ("sensor=vibration&since=-1", 400, "since"),
    ("sensor=vibration&since=x", 400, "since"),
])
def test_get_data_bad_input(client, query, status, field):
    error_of(client.get(f"/get_data?{query}"), status, field)


# --- /send_control and /get_control ----------------------------------------

def test_send_control_applies_line_wide_settings_and_returns_full_state(client):
    response = client.post("/send_control", json={"z_threshold": 3.5, "anomaly_level": 40, "running": False})
    assert response.status_code == 200
    state = response.get_json()
    assert state["z_threshold"] == 3.5 and state["anomaly_level"] == 40.0 and state["running"] is False
    assert state["sensors"]["vibration"]["effective"]["z_threshold"] == 3.5
    assert client.get("/get_control").get_json() == state


def test_per_sensor_override_and_clearing_it(client):
    state = client.post("/send_control", json={"sensor": "vibration", "z_threshold": 4.5,
                                               "model_size": 50}).get_json()
    assert state["sensors"]["vibration"]["overrides"] == {"z_threshold": 4.5, "model_size": 50}
    assert state["sensors"]["vibration"]["effective"]["z_threshold"] == 4.5
    assert state["sensors"]["pressure"]["effective"]["z_threshold"] == 3.0
    state = client.post("/send_control", json={"sensor": "vibration", "z_threshold": None}).get_json()
    assert state["sensors"]["vibration"]["overrides"] == {"model_size": 50}


def test_settings_survive_a_new_app_on_the_same_database(tmp_path):
    from tests.conftest import make_app
    make_app(tmp_path).test_client().post("/send_control", json={"z_threshold": 2.5})
    assert make_app(tmp_path).test_client().get("/get_control").get_json()["z_threshold"] == 2.5


@pytest.mark.parametrize("body, field", [
    ({"z_threshold": "high"}, "z_threshold"),
    ({"z_threshold": -1}, "z_threshold"),
    ({"z_threshold": True}, "z_threshold"),
    ({"anomaly_level": 101}, "anomaly_level"),
    ({"anomaly_level": -0.5}, "anomaly_level"),
    ({"model_size": 1}, "model_size"),
    ({"model_size": 10.5}, "model_size"),
    ({"anomaly_list_size": 0}, "anomaly_list_size"),
    ({"sample_rate_hz": 0}, "sample_rate_hz"),
    ({"sample_rate_hz": 1000}, "sample_rate_hz"),
    ({"relearn_after": "30"}, "relearn_after"),
    ({"running": "yes"}, "running"),
    ({"running": 1}, "running"),
    ({"colour": "red"}, "colour"),
    ({"sensor": "vibration", "running": False}, "running"),
    ({"sensor": "vibration", "anomaly_level": 5}, "anomaly_level"),
    ({"sensor": 5, "z_threshold": 3}, "sensor"),
    ({"rebaseline": 7}, "rebaseline"),
    ({}, "body"),
])
def test_send_control_bad_values_are_rejected_whole(client, body, field):
    before = client.get("/get_control").get_json()
    # A valid change rides along: it must not be applied either.
    error_of(client.post("/send_control", json={**body, "z_threshold": body.get("z_threshold", 7.0)}
                         if field not in ("z_threshold", "body") else body), 400, field)
    assert client.get("/get_control").get_json() == before


@pytest.mark.parametrize("body, status, field", [
    ({"sensor": "nope", "z_threshold": 3}, 404, "sensor"),
    ({"rebaseline": "nope"}, 404, "rebaseline"),
])
def test_send_control_unknown_sensor(client, body, status, field):
    error_of(client.post("/send_control", json=body), status, field)


@pytest.mark.parametrize("data, content_type", [
    ("not json", "application/json"),
    ("[1, 2]", "application/json"),
    ("z_threshold=3", "application/x-www-form-urlencoded"),
])
def test_send_control_body_must_be_a_json_object(client, data, content_type):
    error_of(client.post("/send_control", data=data, content_type=content_type), 400, "body")


def test_wrong_method_is_json_405(client):
    body = error_of(client.get("/send_control"), 405)
    assert body["error"] == "method_not_allowed"


def test_rebaseline_is_recorded_with_its_time(client, app):
    from helpers.storage import baselines as baseline_store
    from helpers.storage import line as line_store
    assert client.post("/send_control", json={"rebaseline": "vibration"}).status_code == 200
    with app.app_context():
        pending = baseline_store.pending_rebaselines()
        sensor = line_store.sensor_by_name("vibration")
    assert [sensor_id for _, sensor_id in pending] == [sensor.id]


# --- /api/sensors, /api/scenarios ------------------------------------------

def test_sensors_report_status(sampled):
    sensors = sampled.test_client().get("/api/sensors").get_json()["sensors"]
    assert [s["name"] for s in sensors] == [p.name for p in DEFAULT_SENSORS]
    assert all(s["last_value"] is not None and s["completeness"] == 31.0 for s in sensors)


def test_inject_scenario_and_list_it(client):
    response = client.post("/api/scenarios", json={"sensor": "pressure", "kind": "drift", "duration_s": 30})
    assert response.status_code == 201
    scenario = response.get_json()["scenario"]
    assert scenario["magnitude"] == 8.0 and scenario["ends_at"] - scenario["starts_at"] == pytest.approx(30)
    listed = client.get("/api/scenarios?sensor=pressure").get_json()["scenarios"]
    assert [s["id"] for s in listed] == [scenario["id"]]
    assert client.get("/api/scenarios?sensor=vibration").get_json()["scenarios"] == []


@pytest.mark.parametrize("body, status, field", [
    ({"kind": "spike", "duration_s": 5}, 400, "sensor"),
    ({"sensor": "nope", "kind": "spike", "duration_s": 5}, 404, "sensor"),
    ({"sensor": "vibration", "kind": "meteor", "duration_s": 5}, 400, "kind"),
    ({"sensor": "vibration", "duration_s": 5}, 400, "kind"),
    ({"sensor": "vibration", "kind": "spike"}, 400, "duration_s"),
    ({"sensor": "vibration", "kind": "spike", "duration_s": 0}, 400, "duration_s"),
    ({"sensor": "vibration", "kind": "spike", "duration_s": 99999}, 400, "duration_s"),
    ({"sensor": "vibration", "kind": "spike", "duration_s": "5"}, 400, "duration_s"),
    ({"sensor": "vibration", "kind": "spike", "duration_s": 5, "magnitude": "big"}, 400, "magnitude"),
    ({"sensor": "vibration", "kind": "spike", "duration_s": 5, "start_in_s": -1}, 400, "start_in_s"),
])
def test_inject_scenario_bad_input_stores_nothing(client, body, status, field):
    error_of(client.post("/api/scenarios", json=body), status, field)
    assert client.get("/api/scenarios").get_json()["scenarios"] == []


def test_list_scenarios_bad_input(client):
    error_of(client.get("/api/scenarios?sensor=nope"), 404, "sensor")
    error_of(client.get("/api/scenarios?limit=0"), 400, "limit")


# --- /healthz --------------------------------------------------------------

def test_healthz_is_503_without_a_sampler_and_200_with_a_fresh_heartbeat(client, app):
    from helpers.storage import lease
    body = error_of(client.get("/healthz"), 503)
    assert body.get("status") == "down"
    import time
    with app.app_context():
        assert lease.try_acquire("test-owner", time.time(), 10.0)
    ok = client.get("/healthz")
    assert ok.status_code == 200 and ok.get_json()["heartbeat_age_s"] < 5
    with app.app_context():
        assert lease.try_acquire("test-owner", time.time() - 60, 10.0)
    stale = client.get("/healthz")
    assert stale.status_code == 503 and stale.get_json()["status"] == "stale"


def test_index_page_is_served(client):
    response = client.get("/")
    assert response.status_code == 200 and b"Linewatch" in response.data


def test_per_sensor_settings_export_and_import_as_json(client):
    client.post("/send_control", json={"sensor": "pressure", "time_steps": 30})
    exported = client.get("/api/settings/time_steps.json").get_json()
    assert exported == {"vibration": 15, "motor_temperature": 15, "energy_use": 15, "pressure": 30}
    state = client.post("/api/settings/lstm_ratio.json", json={"vibration": 1.5}).get_json()
    assert state["sensors"]["vibration"]["effective"]["lstm_ratio"] == 1.5
    state = client.post("/api/settings/time_steps.json", json={"energy_use": 20}).get_json()
    effective = {name: s["effective"]["time_steps"] for name, s in state["sensors"].items()}
    assert effective == {"vibration": 15, "motor_temperature": 15, "energy_use": 20, "pressure": 15}, \
        "sensors not named take the default"


@pytest.mark.parametrize("key, body, status, field", [
    ("time_steps", {"vibration": 1}, 400, "vibration"),
    ("time_steps", {"vibration": 20, "nope": 20}, 400, "nope"),
    ("time_steps", {"vibration": "20"}, 400, "vibration"),
    ("lstm_ratio", {"pressure": 0}, 400, "pressure"),
    ("running", {"pressure": True}, 404, "key"),
    ("colour", {}, 404, "key"),
])
def test_settings_import_rejects_bad_files_whole(client, key, body, status, field):
    before = client.get("/get_control").get_json()
    error_of(client.post(f"/api/settings/{key}.json", json=body), status, field)
    assert client.get("/get_control").get_json() == before


def test_get_data_around_a_moment_returns_the_readings_centred_on_it(tmp_path):
    """An alert e-mail links to ``/?sensor=…&at=T``; the dashboard asks for the readings around T."""
    from tests.conftest import make_app
    from tests.helpers_for_tests import FakeClock, drive, started_sampler

    app = make_app(tmp_path, SAMPLE_RATE_HZ=1.0)
    clock = FakeClock(1_800_000_000.0)
    drive(app, started_sampler(app, clock), clock, 120.0, tick=1.0)
    body = app.test_client().get("/get_data?sensor=vibration&around=1800000060&seconds=20").get_json()
    assert [p["t"] for p in body["points"]] == [1_800_000_050.0 + i for i in range(20)]
    bad = app.test_client().get("/get_data?sensor=vibration&around=soon")
    assert bad.status_code == 400 and bad.get_json()["field"] == "around"


def test_a_nul_character_is_refused_naming_the_field(client):
    """PostgreSQL stores no NUL in text: refused up front, on every database alike."""
    response = client.get("/get_data?sensor=vib%00ration")
    assert response.status_code == 400 and response.get_json()["field"] == "sensor"
    response = client.post("/send_control", json={"rebaseline": "pres\x00sure"})
    assert response.status_code == 400 and response.get_json()["field"] == "body"


def test_an_id_beyond_the_tables_integer_range_is_not_found(client):
    for path in ("/api/models/2147483648", "/api/training/2147483648", "/api/evaluations/9223372036854775807"):
        assert client.get(path).status_code == 404, path
    assert client.get("/api/alarms?since=2147483648").status_code == 400
