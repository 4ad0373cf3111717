"""Classroom sessions: a seed repeats the line exactly, export to CSV, replay, the scorecard over HTTP."""
from __future__ import annotations

import csv
import io
import time

import pytest

from helpers.core.line.simulator import DEFAULT_SENSORS
from helpers.storage import sessions as session_store
from tests.helpers_for_tests import FakeClock, drive, started_sampler


def export_text(client, session_id=None):
    url = "/api/session/export.csv" + (f"?session={session_id}" if session_id else "")
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    return response.get_data(as_text=True)


def export(client, session_id=None):
    return list(csv.DictReader(io.StringIO(export_text(client, session_id))))


def readings_by_offset(rows):
    return {(r["sensor"], round(float(r["offset_s"]), 6)): (r["value"], r["anomaly"], r["z"])
            for r in rows if r["record"] == "reading"}


def test_new_session_restarts_the_models_and_bad_seeds_are_rejected(app, client):
    clock = FakeClock(time.time())
    client.post("/send_control", json={"model_size": 5, "sample_rate_hz": 2})
    sampler = started_sampler(app, clock)
    drive(app, sampler, clock, 5.0)
    assert client.get("/get_data?sensor=vibration&window=1").get_json()["completeness"] == 100.0
    for bad in ({"seed": "7"}, {"seed": -1}, {"seed": 2**31}, {"seed": 1.5}, {"seed": True}):
        response = client.post("/api/session", json=bad)
        assert response.status_code == 400 and response.get_json()["field"] == "seed"
    before = client.get("/api/session").get_json()
    created = client.post("/api/session", json={"seed": 42})
    assert created.status_code == 201
    session = created.get_json()
    assert session["seed"] == 42 and session["id"] == before["id"] + 1
    clock.now = session["started_at"]
    drive(app, sampler, clock, 1.0)
    points = client.get("/get_data?sensor=vibration&window=2").get_json()["points"]
    assert [p["baseline_state"] for p in points] == ["learning", "learning"]
    assert client.post("/api/session", json={}).get_json()["seed"] is not None


def test_an_exported_session_replays_exactly(app, client):
    # The session keeps the settings in force when it starts.
    client.post("/send_control", json={"model_size": 10, "sample_rate_hz": 4, "anomaly_level": 30})
    client.post("/send_control", json={"sensor": "pressure", "z_threshold": 2.5})
    session = client.post("/api/session", json={"seed": 7}).get_json()
    clock = FakeClock(session["started_at"])
    sampler = started_sampler(app, clock)
    drive(app, sampler, clock, 4.0)
    for sensor, kind in (("vibration", "spike"), ("energy_use", "drift"), ("pressure", "noise_burst")):
        # start_in_s counts from the wall clock, which the fake clock (4 s on) has not passed yet.
        assert client.post("/api/scenarios", json={"sensor": sensor, "kind": kind, "duration_s": 5,
                                                   "start_in_s": 5}).status_code == 201
    drive(app, sampler, clock, 12.0)
    first_text = export_text(client)
    first = list(csv.DictReader(io.StringIO(first_text)))
    assert first[0]["record"] == "session" and first[0]["seed"] == "7"
    assert sum(r["record"] == "scenario" for r in first) == 3
    assert sum(r["record"] == "reading" and r["scenario_id"] != "" for r in first) > 20

    # Change everything the replay must restore, then replay.
    client.post("/send_control", json={"model_size": 50, "anomaly_level": 0})
    client.post("/send_control", json={"sensor": "pressure", "z_threshold": None})
    upload = {"file": (io.BytesIO(first_text.encode()), "session.csv")}
    replayed = client.post("/api/session/replay", data=upload, content_type="multipart/form-data")
    assert replayed.status_code == 201, replayed.get_json()
    assert replayed.get_json()["scenarios"] == 3
    second_session = replayed.get_json()["session"]
    control = client.get("/get_control").get_json()
    assert control["model_size"] == 10 and control["anomaly_level"] == 30.0
    assert control["sensors"]["pressure"]["overrides"] == {"z_threshold": 2.5}

    clock.now = second_session["started_at"]
    with app.app_context():
        sampler.step()
    end_offset = float([r for r in first if r["record"] == "reading"][-1]["offset_s"])
    drive(app, sampler, clock, end_offset + 0.01)
    second = export(client)
    a, b = readings_by_offset(first), readings_by_offset(second)
    common = set(a) & set(b)
    assert len(common) >= 0.95 * len(a)
    assert all(a[k] == b[k] for k in common), "same seed and scenario offsets give the same readings and verdicts"
    assert [r["kind"] for r in second if r["record"] == "scenario"] == ["spike", "drift", "noise_burst"]


def replay_error(client, content, field="file"):
    before = client.get("/api/session").get_json()
    response = client.post("/api/session/replay", data=content, content_type="text/csv")
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["field"] == field and body["message"]
    assert client.get("/api/session").get_json() == before, "nothing stored"
    return body["message"]


HEADER = ("record,sensor,t,offset_s,value,mean,std,z,threshold,anomaly,anomaly_ratio,baseline_state,"
          "completeness,scenario_id,kind,magnitude,start_offset_s,end_offset_s,seed,settings\n")
SESSION_ROW = 'session,,1.0,,,,,,,,,,,,,,,,7,"{""line"": {""z_threshold"": 3.0}, ""overrides"": {}}"\n'


@pytest.mark.parametrize("content, message", [
    ("", "empty"),
    ("a,b\n1,2\n", "missing column"),
    (HEADER, "no session row"),
    (HEADER + SESSION_ROW + SESSION_ROW, "second session row"),
    (HEADER + SESSION_ROW.replace(",7,", ",seven,"), "seed"),
    (HEADER + 'session,,1.0,,,,,,,,,,,,,,,,7,"not json"\n', "settings"),
    (HEADER + 'session,,1.0,,,,,,,,,,,,,,,,7,"{""line"": {""z_threshold"": -4}}"\n', "z_threshold"),
    (HEADER + SESSION_ROW + "scenario,vibration,,,,,,,,,,,,,meteor,1,0,5,,\n", "kind"),
    (HEADER + SESSION_ROW + "scenario,vibration,,,,,,,,,,,,,spike,1,5,2,,\n", "offsets"),
    (HEADER + SESSION_ROW + "scenario,vibration,,,,,,,,,,,,,spike,big,0,2,,\n", "magnitude"),
    (HEADER + SESSION_ROW + "scenario,nope,,,,,,,,,,,,,spike,1,0,2,,\n", "unknown sensor"),
    (HEADER + SESSION_ROW + "gossip,,,,,,,,,,,,,,,,,,,\n", "unknown record"),
])
def test_replay_rejects_bad_files_and_stores_nothing(client, content, message):
    assert message in replay_error(client, content)


def test_replay_needs_a_file(client):
    response = client.post("/api/session/replay", json={"x": 1})
    assert response.status_code == 400 and response.get_json()["field"] == "file"


def test_export_unknown_session_is_404(client):
    assert client.get("/api/session/export.csv?session=999").status_code == 404
    assert client.get("/api/session/export.csv?session=x").status_code == 400


def test_scorecard_over_http_counts_a_caught_spike(app, client):
    session = client.get("/api/session").get_json()
    client.post("/send_control", json={"model_size": 20, "sample_rate_hz": 5})
    clock = FakeClock(max(time.time(), session["started_at"]))
    sampler = started_sampler(app, clock)
    drive(app, sampler, clock, 8.0)
    # 9 s from the wall clock: just after where the fake clock (8 s on) stands.
    client.post("/api/scenarios", json={"sensor": "pressure", "kind": "spike", "duration_s": 2, "magnitude": 12,
                                        "start_in_s": 9})
    drive(app, sampler, clock, 4.0)
    card = client.get("/api/scorecard").get_json()
    zscore = card["detectors"]["zscore"]
    assert card["session"]["id"] == session["id"]
    assert zscore["events"] == 1 and zscore["caught"] == 1 and zscore["details"][0]["status"] == "caught"
    assert 0.0 <= zscore["mean_delay_s"] < 0.5


def test_overview_anomalies_and_last_hour(app, client):
    client.post("/send_control", json={"model_size": 10, "sample_rate_hz": 10, "anomaly_level": 100})
    with app.app_context():  # a session that began five minutes ago, so "the last N seconds" has data
        started = session_store.start_session(1, time.time() - 300).started_at
    clock = FakeClock(started)
    sampler = started_sampler(app, clock)
    drive(app, sampler, clock, 299.0, tick=1.0)
    overview = client.get("/api/overview?points=5").get_json()
    assert [s["name"] for s in overview["sensors"]] == [p.name for p in DEFAULT_SENSORS]
    assert all(len(s["points"]) == 5 for s in overview["sensors"])
    assert overview["chance_ratio"] == pytest.approx(0.0027, abs=1e-4)
    newer = client.get(f"/api/overview?since={overview['latest_id'] - 3}").get_json()
    assert sum(len(s["points"]) for s in newer["sensors"]) == 3
    anomalies = client.get("/api/anomalies?limit=7").get_json()["anomalies"]
    assert len(anomalies) == 7 and [a["t"] for a in anomalies] == sorted((a["t"] for a in anomalies), reverse=True)
    assert all(abs(a["z"]) > a["threshold"] and a["zscore_anomaly"] and a["lstm_score"] is None for a in anomalies)
    only = client.get("/api/anomalies?sensor=pressure&limit=3").get_json()["anomalies"]
    assert {a["sensor"] for a in only} == {"pressure"}
    hour = client.get("/get_data?sensor=vibration&seconds=3600").get_json()
    assert hour["downsampled"] is True and len(hour["points"]) <= 2100
    all_anomalies = client.get("/get_data?sensor=vibration&window=10000").get_json()["points"]
    assert sum(p["anomaly"] for p in hour["points"]) == sum(p["anomaly"] for p in all_anomalies)
    # The stored readings end about now; how many fall in the last minute depends on how long driving took.
    before = sum(p["t"] >= time.time() - 60 for p in all_anomalies)
    short = client.get("/get_data?sensor=vibration&seconds=60").get_json()
    after = sum(p["t"] >= time.time() - 60 for p in all_anomalies)
    assert short["downsampled"] is False and after <= len(short["points"]) <= before and before > 0
    for bad in ("seconds=0", "seconds=86401", "seconds=x"):
        assert client.get(f"/get_data?sensor=vibration&{bad}").get_json()["field"] == "seconds"
    assert client.get("/api/anomalies?limit=0").status_code == 400
    assert client.get("/api/overview?points=0").status_code == 400


def test_the_tick_answers_what_the_four_routes_answer(app, client):
    client.post("/send_control", json={"model_size": 10, "sample_rate_hz": 10, "anomaly_level": 100})
    clock = FakeClock(time.time())
    sampler = started_sampler(app, clock)
    drive(app, sampler, clock, 30.0, tick=1.0)
    latest = client.get("/api/overview?points=1").get_json()["latest_id"]
    query = {"sensor": "pressure", "window": 50, "since": latest - 40}
    tick = client.get("/api/tick", query_string={**query, "overview_since": latest - 10, "points": 20}).get_json()
    assert tick["data"] == client.get("/get_data", query_string=query).get_json()
    assert tick["overview"] == client.get(f"/api/overview?since={latest - 10}&points=20").get_json()
    assert tick["control"] == client.get("/get_control").get_json()
    assert tick["forecast"] == client.get("/api/forecast?sensor=pressure").get_json()
    assert 0 < len(tick["data"]["points"]) <= 40
    assert sum(len(s["points"]) for s in tick["overview"]["sensors"]) == 10
    # Each part's parameters are checked as its own route checks them, naming the field.
    for bad, field in (({"sensor": "pump"}, "sensor"), ({"sensor": "pressure", "points": 0}, "points"),
                       ({"sensor": "pressure", "overview_since": -1}, "overview_since"),
                       ({"sensor": "pressure", "window": 0}, "window")):
        answer = client.get("/api/tick", query_string=bad)
        assert answer.status_code in (400, 404) and answer.get_json()["field"] == field
    assert client.get("/api/tick").get_json()["field"] == "sensor"
