"""Pull sources: settings checked whole, the runner's backoff, and CSV replay's timing into the real pipeline."""
from __future__ import annotations

import io

from sqlalchemy import func, select

from helpers.runtime.sources.runner import SourceWorker
from helpers.storage import line as line_store
from helpers.storage import readings as reading_store
from helpers.storage import source_configs as configs
from helpers.storage.db import db
from helpers.storage.models import IngestBatch
from tests.helpers_for_tests import FakeClock, started_sampler

T0 = 1_800_000_000.0


def minutes_csv(n=10, start="2024-03-01 00:00:00", columns=("value",)):
    from datetime import datetime, timedelta
    first = datetime.fromisoformat(start)
    header = "timestamp," + ",".join(columns)
    rows = [f"{first + timedelta(minutes=i)}," + ",".join(str(10 * i + j) for j in range(len(columns)))
            for i in range(n)]
    return ("\n".join([header, *rows]) + "\n").encode()


def upload(client, data, name="incident.csv"):
    return client.post("/api/sources/csv_replay/file", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def queued(app):
    with app.app_context():
        return [row for batch in db.session.scalars(select(IngestBatch.rows).order_by(IngestBatch.id))
                for row in __import__("json").loads(batch)]


def test_the_replay_file_is_checked_and_its_settings_validated(client):
    assert upload(client, minutes_csv(5)).get_json() == {"name": "incident.csv", "rows": 5, "columns": ["value"],
                                                          "span_s": 240.0}
    bad = upload(client, b"timestamp,value\n2024-03-01 00:00:00,1\n2024-03-01 00:01:00,oops\n")
    assert bad.status_code == 400 and "line 3: value 'oops' is not a number" in bad.get_json()["message"]
    backwards = upload(client, b"timestamp,value\n2024-03-01 00:01:00,1\n2024-03-01 00:00:00,2\n")
    assert "go back in time" in backwards.get_json()["message"]
    for body, field in (({"speed": 0}, "speed"), ({"speed": 5000}, "speed"), ({"loop": "yes"}, "loop"),
                        ({"colour": "red"}, "colour"), ({"sensor": ""}, "sensor")):
        response = client.put("/api/sources/csv_replay", json=body)
        assert response.status_code == 400 and response.get_json()["field"] == field, body
    saved = client.put("/api/sources/csv_replay", json={"sensor": "press_force", "speed": 60, "loop": False})
    assert saved.status_code == 200 and saved.get_json()["config"] == {"sensor": "press_force", "speed": 60.0,
                                                                         "loop": False}
    listed = client.get("/api/sources").get_json()
    assert listed["active"] == "simulator" and listed["pull"][0]["status"]["state"] == "stopped"
    assert client.put("/api/sources/teleport", json={}).status_code == 404


def test_the_connection_test_reports_the_file_or_the_problem(client):
    missing = client.post("/api/sources/csv_replay/test")
    assert missing.status_code == 502 and "no file uploaded" in missing.get_json()["message"]
    upload(client, minutes_csv(61))
    client.put("/api/sources/csv_replay", json={"speed": 60})
    ok = client.post("/api/sources/csv_replay/test").get_json()
    assert ok["ok"] and "61 rows over 60.0 min" in ok["message"] and "60 s" in ok["message"]


def test_replay_plays_the_file_spacing_divided_by_the_speed_and_loops(app, client):
    upload(client, minutes_csv(5))
    client.put("/api/sources/csv_replay", json={"sensor": "press_force", "speed": 60, "loop": True})
    clock = FakeClock(T0)
    worker = SourceWorker(app, "csv_replay", clock)
    with app.app_context():
        counts = []
        for _ in range(8):  # one step a second: one file minute per second at 60×
            counts.append(worker.step())
            clock.advance(1.0)
    rows = queued(app)
    assert counts == [1, 1, 1, 1, 1, 1, 1, 1]
    assert [t - T0 for _, t, _ in rows] == [0, 1, 2, 3, 4, 5, 6, 7]  # the loop restarts one gap after the end
    assert [v for _, _, v in rows] == [0, 10, 20, 30, 40, 0, 10, 20]
    with app.app_context():
        assert line_store.sensor_by_name("press_force") is not None
        status = configs.status("csv_replay")
    assert status["state"] == "running" and status["readings_total"] == 8 and status["lag_s"] == 0.0


def test_without_loop_the_replay_ends_and_a_multi_column_file_feeds_a_sensor_per_column(app, client):
    upload(client, minutes_csv(3, columns=("temp_a", "temp_b")))
    client.put("/api/sources/csv_replay", json={"speed": 1000, "loop": False})
    clock = FakeClock(T0)
    worker = SourceWorker(app, "csv_replay", clock)
    with app.app_context():
        worker.step()
        clock.advance(60)
        assert worker.step() == 4 and worker.step() == 0
    names = {sid for sid, _, _ in queued(app)}
    with app.app_context():
        assert {line_store.sensor_by_name("temp_a").id, line_store.sensor_by_name("temp_b").id} == names


def test_a_failing_source_backs_off_and_says_why(app):
    clock = FakeClock(T0)
    worker = SourceWorker(app, "csv_replay", clock)  # no file: every poll fails
    with app.app_context():
        waits = []
        for _ in range(8):
            worker.step()
            waits.append(worker.next_try - clock.now)
            clock.now = worker.next_try
        status = configs.status("csv_replay")
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]
    assert status["state"] == "backing_off" and "no file uploaded" in status["last_error"]


def test_replayed_readings_go_through_the_detectors_into_the_store(app, client):
    upload(client, minutes_csv(40))
    client.put("/api/sources/csv_replay", json={"sensor": "press_force", "speed": 60, "loop": False})
    client.post("/send_control", json={"source": "csv_replay"})
    clock = FakeClock(T0)
    sampler = started_sampler(app, clock)
    worker = SourceWorker(app, "csv_replay", clock)
    with app.app_context():
        for _ in range(40):
            worker.step()
            clock.advance(1.0)
            sampler.step()
        sampler.flush()
        sensor = line_store.sensor_by_name("press_force")
        rows = reading_store.latest_readings(sensor.id, 100)
        left = db.session.scalar(select(func.count()).select_from(IngestBatch))
    assert len(rows) == 40 and left == 0
    assert [r["value"] for r in rows] == [10.0 * i for i in range(40)]
    assert rows[-1]["completeness"] > 0 and rows[-1]["baseline_state"] in ("learning", "tracking", "excluding")


def test_a_new_upload_restarts_a_running_replay_with_the_new_file(app, client):
    upload(client, minutes_csv(5))
    client.put("/api/sources/csv_replay", json={"sensor": "press_force", "speed": 60})
    clock = FakeClock(T0)
    worker = SourceWorker(app, "csv_replay", clock)
    with app.app_context():
        worker.step()
        clock.advance(1.0)
        upload(client, b"timestamp,value\n2024-03-01 00:00:00,-1\n2024-03-01 00:01:00,-2\n")
        worker.step()
    assert [v for _, _, v in queued(app)] == [0, -1]
    assert client.get("/api/sources").get_json()["pull"][0]["file"]["rows"] == 2
