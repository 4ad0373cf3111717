"""GET /api/readings.csv: stored readings with their verdicts as CSV, a range, one sensor or all, streamed in chunks."""
from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timezone

import pytest

from helpers.storage import line as line_store
from helpers.storage import readings as reading_store
from helpers.storage.db import db
from tests.helpers_for_tests import FakeClock, drive, started_sampler

T0 = 1_795_000_000.0


def rows_of(response):
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def reading(sensor_id, t, value, **extra):
    row = {"sensor_id": sensor_id, "t": t, "value": value, "mean": value, "std": 0.1, "z": 0.0, "threshold": 3.0,
           "anomaly": False, "zscore_anomaly": False, "lstm_score": None, "lstm_threshold": None,
           "lstm_anomaly": None, "anomaly_ratio": 0.0, "baseline_state": "tracking", "completeness": 100.0,
           "scenario_id": None}
    row.update(extra)
    return row


def store(app, rows):
    with app.app_context():
        reading_store.insert_readings(rows)
        db.session.commit()


def sensor_ids(app):
    with app.app_context():
        return {s.name: s.id for s in line_store.all_sensors()}


@pytest.fixture
def judged(app):
    """Ten seconds of the simulated line at 1 Hz, judged by the sampler (a 5-reading model, so verdicts exist)."""
    client = app.test_client()
    client.post("/send_control", json={"model_size": 5})
    clock = FakeClock(time.time())
    sampler = started_sampler(app, clock)
    drive(app, sampler, clock, 10.0, tick=0.5)
    return app


def test_header_rows_and_verdicts_match_the_store(judged, client):
    response = client.get("/api/readings.csv?sensor=vibration")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="linewatch-readings-vibration.csv"' in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    header = response.get_data(as_text=True).splitlines()[0]
    assert header == ("sensor,timestamp,t,value,mean,std,z,threshold,anomaly,zscore_anomaly,lstm_score,"
                      "lstm_threshold,lstm_anomaly,anomaly_ratio,baseline_state,scenario_id,z_alarm,z_likelihood")
    rows = rows_of(response)
    with judged.app_context():
        stored = reading_store.readings_since_time(line_store.sensor_by_name("vibration").id, 0)
    assert len(rows) == len(stored) >= 10
    for got, want in zip(rows, stored):
        assert got["sensor"] == "vibration"
        assert float(got["t"]) == want["t"] and float(got["value"]) == want["value"]
        assert datetime.fromisoformat(got["timestamp"]) == datetime.fromtimestamp(want["t"], timezone.utc)
        assert got["anomaly"] == str(int(want["anomaly"])) and got["zscore_anomaly"] == str(int(want["zscore_anomaly"]))
        assert got["baseline_state"] == want["baseline_state"]
        assert (got["z"] == "") == (want["z"] is None)  # no verdict while the model learns
        if want["z"] is not None:
            assert float(got["z"]) == want["z"] and float(got["mean"]) == want["mean"]
        assert got["lstm_score"] == "" and got["lstm_anomaly"] == ""  # the LSTM is off
        assert got["z_alarm"] == ("" if want["z_alarm"] is None else str(int(want["z_alarm"])))
        assert got["z_likelihood"] == ""  # its likelihood collects 300 judged readings first
    assert {r["baseline_state"] for r in rows} >= {"learning", "tracking"}
    assert {r["z_alarm"] for r in rows} >= {"", "0"}  # none while learning, then judged


def test_all_sensors_in_time_order_and_one_sensor_alone(judged, client):
    everything = rows_of(client.get("/api/readings.csv"))
    assert {r["sensor"] for r in everything} == {"vibration", "motor_temperature", "energy_use", "pressure"}
    times = [float(r["t"]) for r in everything]
    assert times == sorted(times)
    one = rows_of(client.get("/api/readings.csv?sensor=pressure"))
    assert one == [r for r in everything if r["sensor"] == "pressure"]
    assert 'filename="linewatch-readings-all.csv"' in client.get("/api/readings.csv").headers["Content-Disposition"]


def test_a_range_in_iso_or_epoch_seconds_is_half_open(app, client):
    ids = sensor_ids(app)
    store(app, [reading(ids["vibration"], T0 + i, float(i), anomaly=i == 5, zscore_anomaly=i == 5,
                        lstm_score=0.5 if i == 5 else None, lstm_threshold=0.4 if i == 5 else None,
                        lstm_anomaly=True if i == 5 else None) for i in range(10)])
    iso = datetime.fromtimestamp(T0 + 3, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    local = datetime.fromtimestamp(T0 + 3).strftime("%Y-%m-%dT%H:%M:%S")  # no zone: the server's local time
    for start in (iso, str(T0 + 3), int(T0 + 3), local, iso.replace("Z", "+00:00")):
        rows = rows_of(client.get("/api/readings.csv", query_string={"sensor": "vibration", "from": start,
                                                                      "to": T0 + 7}))
        assert [float(r["t"]) for r in rows] == [T0 + 3, T0 + 4, T0 + 5, T0 + 6]
    flagged = rows[2]
    assert (flagged["anomaly"], flagged["zscore_anomaly"], flagged["lstm_anomaly"]) == ("1", "1", "1")
    assert (float(flagged["lstm_score"]), float(flagged["lstm_threshold"])) == (0.5, 0.4)
    assert rows[1]["anomaly"] == "0" and rows[1]["lstm_anomaly"] == ""
    assert len(rows_of(client.get(f"/api/readings.csv?from={T0 + 8}"))) == 2
    assert len(rows_of(client.get(f"/api/readings.csv?to={T0 + 2}"))) == 2
    empty = client.get(f"/api/readings.csv?from={T0 + 100}")
    assert empty.status_code == 200 and rows_of(empty) == [] and empty.get_data(as_text=True).startswith("sensor,")


@pytest.mark.parametrize("query, status, field", [
    ("sensor=nope", 404, "sensor"),
    ("from=yesterday", 400, "from"),
    ("to=2026-13-01", 400, "to"),
    ("from=nan", 400, "from"),
    (f"from={T0 + 10}&to={T0}", 400, "from"),
])
def test_bad_parameters_get_the_json_error(client, query, status, field):
    response = client.get(f"/api/readings.csv?{query}")
    assert response.status_code == status and response.mimetype == "application/json"
    assert response.get_json()["field"] == field


def test_an_empty_sensor_parameter_means_every_sensor(app, client):
    ids = sensor_ids(app)
    store(app, [reading(ids["pressure"], T0, 1.0), reading(ids["vibration"], T0 + 1, 2.0)])
    assert [r["sensor"] for r in rows_of(client.get("/api/readings.csv?sensor="))] == ["pressure", "vibration"]


def test_a_large_export_is_streamed_in_chunks_never_held_whole(app, client):
    ids = sensor_ids(app)
    n = 20_000
    store(app, [reading(ids["vibration"] if i % 2 else ids["pressure"], T0 + i * 0.01, float(i)) for i in range(n)])
    response = client.get("/api/readings.csv")
    pieces = []
    for piece in response.response:  # the WSGI iterable, as a server sends it
        pieces.append(piece)
    response.close()
    body = b"".join(p if isinstance(p, bytes) else p.encode() for p in pieces).decode()
    assert len(body.splitlines()) == n + 1
    assert len(pieces) >= 1 + n // reading_store.CHUNK  # the header, then one piece per chunk
    assert max(len(p) for p in pieces) < len(body) / 3
    # The query side fetches at most CHUNK rows per query, one sensor or several merged.
    with app.app_context():
        sensors = line_store.all_sensors()
        chunks = list(reading_store.export_chunks(sensors, None, None, chunk=3_000))
        per_sensor = list(reading_store.sensor_chunks(ids["vibration"], None, None, chunk=3_000))
    assert sum(len(c) for c in chunks) == n and max(len(c) for c in chunks) <= 3_000
    assert [len(c) for c in per_sensor] == [3_000, 3_000, 3_000, 1_000]
    assert [row[1] for c in chunks for row in c] == sorted(T0 + i * 0.01 for i in range(n))


def test_keyset_pagination_keeps_rows_that_share_a_time(app):
    ids = sensor_ids(app)
    store(app, [reading(ids["vibration"], T0 + i // 3, float(i)) for i in range(10)])
    with app.app_context():
        chunks = list(reading_store.sensor_chunks(ids["vibration"], None, None, chunk=2))
    assert [row[1] for c in chunks for row in c] == [float(i) for i in range(10)]


def test_the_dashboard_links_the_export(client):
    page = client.get("/").get_data(as_text=True)
    assert 'id="export-readings"' in page and 'data-base-url="/api/readings.csv"' in page


def test_the_export_on_postgresql(postgres_url):
    from app import create_app

    app = create_app({"DATABASE_URL": postgres_url, "SAMPLER_AUTOSTART": False, "SIMULATOR_SEED": 1})
    ids = sensor_ids(app)
    store(app, [reading(ids["vibration"] if i % 2 else ids["pressure"], T0 + i // 4, float(i)) for i in range(50)])
    with app.app_context():
        chunks = list(reading_store.export_chunks(line_store.all_sensors(), T0 + 2, T0 + 10, chunk=7))
        db.session.remove()
    got = [row for c in chunks for row in c]
    assert sorted(row[2] for row in got) == [float(i) for i in range(8, 40)]
    assert [row[1] for row in got] == sorted(row[1] for row in got) and max(len(c) for c in chunks) == 7
    rows = rows_of(app.test_client().get(f"/api/readings.csv?sensor=vibration&from={T0 + 2}&to={T0 + 10}"))
    assert [float(r["value"]) for r in rows] == [float(i) for i in range(9, 40, 2)]
