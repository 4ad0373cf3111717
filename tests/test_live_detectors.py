"""The other detectors live: chosen per sensor, run by the real sampler, stored, explained, exported."""
from __future__ import annotations

import json
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from helpers.storage.db import db
from helpers.storage.models import Reading, Setting
from tests.helpers_for_tests import FakeClock, drive, started_sampler


def _readings(app, sensor_id=None):
    with app.app_context():
        query = db.select(Reading).order_by(Reading.id)
        if sensor_id is not None:
            query = query.where(Reading.sensor_id == sensor_id)
        return [(r.t, r.value, r.anomaly, r.zscore_anomaly, json.loads(r.detectors) if r.detectors else None)
                for r in db.session.scalars(query)]


def _sensor_id(app, name):
    from helpers.storage import line as line_store
    with app.app_context():
        return line_store.sensor_by_name(name).id


@pytest.fixture
def fast(app, client):
    """The line at 20 readings/s with a short z-score model, so detectors warm up within seconds of fake time."""
    client.post("/send_control", json={"sample_rate_hz": 20.0, "model_size": 30})
    return app


def test_a_bad_detector_name_is_refused_naming_the_field_and_nothing_is_stored(client, app):
    before = client.get("/get_control").get_json()
    response = client.post("/send_control", json={"sensor": "vibration",
                                                  "detectors": "robust_zscore+likelihood,nonsense"})
    assert response.status_code == 400
    body = response.get_json()
    assert body["field"] == "detectors" and "nonsense" in body["message"]
    assert client.post("/send_control", json={"detectors": 7}).status_code == 400
    assert client.post("/send_control", json={"verdict_source": "nonsense"}).status_code == 400
    assert client.get("/get_control").get_json() == before


def test_the_choice_is_stored_normalised_and_listed_with_the_catalogue(client):
    response = client.post("/send_control", json={"sensor": "vibration",
                                                  "detectors": " knn , robust_zscore,knn"})
    assert response.status_code == 200
    listed = client.get("/api/detectors").get_json()
    assert listed["sensors"]["vibration"]["detectors"] == ["knn", "robust_zscore"]
    assert listed["sensors"]["motor_temperature"]["detectors"] == []
    names = {d["name"]: d for d in listed["detectors"]}
    assert {"robust_zscore", "knn", "robust_zscore_seasonal+likelihood", "ensemble_max"} <= set(names)
    assert names["knn+likelihood"]["alarm"] == 0.5 and names["knn+likelihood"]["likelihood"]
    assert names["robust_zscore_seasonal"]["seasonal"]
    assert all(d["description"] for d in listed["detectors"])


def test_the_sampler_runs_each_chosen_detector_and_stores_its_verdict_and_why(fast, client):
    client.post("/send_control", json={"sensor": "vibration", "detectors": "robust_zscore,knn"})
    clock = FakeClock(time.time() + 1)
    drive(fast, started_sampler(fast, clock), clock, 30.0)
    rows = _readings(fast, _sensor_id(fast, "vibration"))
    assert len(rows) >= 500
    others = [r[4] for r in rows]
    assert all(set(o) == {"robust_zscore", "knn"} for o in others)
    # Each warms up at its own pace: robust_zscore after 100 readings, knn after 300.
    assert others[50]["robust_zscore"]["score"] is None and others[150]["robust_zscore"]["score"] is not None
    assert others[150]["knn"]["score"] is None and others[-1]["knn"]["score"] is not None
    last = others[-1]["robust_zscore"]
    assert last["why"].startswith("median ") and "score" in last["why"]
    assert last["expected"] is not None and last["spread"] > 0
    assert last["anomaly"] == (last["score"] >= 3.0 / (3.0 + 20.0))
    # Other sensors run none: nothing stored for them.
    assert all(r[4] is None for r in _readings(fast, _sensor_id(fast, "motor_temperature")))


def test_get_data_shows_every_verdict_and_marks_disagreements(fast, client):
    client.post("/send_control", json={"anomaly_level": 60.0})
    client.post("/send_control", json={"sensor": "vibration", "detectors": "robust_zscore"})
    clock = FakeClock(time.time() + 1)
    drive(fast, started_sampler(fast, clock), clock, 40.0)
    points = client.get("/get_data?sensor=vibration&window=10000").get_json()["points"]
    judged = [p for p in points if p["z"] is not None and p["detectors"]["robust_zscore"]["score"] is not None]
    assert judged
    for p in judged:
        other = p["detectors"]["robust_zscore"]["anomaly"]
        assert p["disagree"] == (other != p["zscore_anomaly"])
    # The mean/std z-score and the median/MAD one do not always agree on a disturbed line.
    assert any(p["disagree"] for p in judged) and any(not p["disagree"] for p in judged)


def test_a_chosen_detector_can_be_the_verdict_that_counts(fast, client):
    client.post("/send_control", json={"anomaly_level": 60.0})
    client.post("/send_control", json={"sensor": "vibration", "verdict_source": "robust_zscore"})
    clock = FakeClock(time.time() + 1)
    drive(fast, started_sampler(fast, clock), clock, 30.0)
    rows = _readings(fast, _sensor_id(fast, "vibration"))
    judged = [r for r in rows if r[4]["robust_zscore"]["anomaly"] is not None]
    assert len(judged) > 100
    assert all(r[2] == r[4]["robust_zscore"]["anomaly"] for r in judged)
    assert any(r[2] != r[3] for r in judged)  # not simply the z-score's verdict
    listed = [a for a in client.get("/api/anomalies?sensor=vibration&limit=50").get_json()["anomalies"]
              if a["detectors"]["robust_zscore"]["anomaly"] is not None]  # not while it warmed up
    assert listed and all(a["detectors"]["robust_zscore"]["anomaly"] for a in listed)
    assert all(a["detectors"]["robust_zscore"]["why"].startswith("median ") for a in listed)


def test_each_reading_keeps_the_verdict_source_it_was_judged_by(fast, client):
    """The verdict table stars the detector that counted then, not the one chosen since."""
    client.post("/send_control", json={"sensor": "vibration", "verdict_source": "robust_zscore"})
    clock = FakeClock(time.time() + 1)
    sampler = started_sampler(fast, clock)
    drive(fast, sampler, clock, 5.0)
    client.post("/send_control", json={"sensor": "vibration", "verdict_source": "zscore"})
    drive(fast, sampler, clock, 5.0)
    points = client.get("/get_data?sensor=vibration&window=1000").get_json()["points"]
    sources = [p["verdict_source"] for p in points]
    switch = sources.index("zscore")
    assert switch > 50 and set(sources[:switch]) == {"robust_zscore"} and set(sources[switch:]) == {"zscore"}


def test_a_detector_chosen_mid_session_learns_from_the_stored_history_first(fast, client):
    clock = FakeClock(time.time() + 1)
    sampler = started_sampler(fast, clock)
    drive(fast, sampler, clock, 10.0)  # 200 readings a sensor, nobody else judging
    client.post("/send_control", json={"sensor": "vibration", "detectors": "robust_zscore"})
    drive(fast, sampler, clock, 1.0)
    fresh = [r[4] for r in _readings(fast, _sensor_id(fast, "vibration")) if r[4] is not None]
    assert fresh and fresh[0]["robust_zscore"]["score"] is not None


def test_after_a_restart_the_detectors_resume_from_the_stored_history(fast, client):
    client.post("/send_control", json={"sensor": "vibration", "detectors": "robust_zscore"})
    clock = FakeClock(time.time() + 1)
    drive(fast, started_sampler(fast, clock), clock, 10.0)
    count = len(_readings(fast, _sensor_id(fast, "vibration")))
    drive(fast, started_sampler(fast, clock), clock, 0.5)  # a new process: nothing in memory
    after = _readings(fast, _sensor_id(fast, "vibration"))[count:]
    assert after and after[0][4]["robust_zscore"]["score"] is not None


def test_metrics_export_each_detectors_verdict(fast, client):
    client.post("/send_control", json={"sensor": "vibration", "detectors": "robust_zscore,knn"})
    clock = FakeClock(time.time() + 1)
    drive(fast, started_sampler(fast, clock), clock, 10.0)
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))}
    samples = {(s.labels["sensor"], s.labels["detector"]): s.value
               for s in families["linewatch_detector_score"].samples}
    newest = _readings(fast, _sensor_id(fast, "vibration"))[-1][4]
    assert samples[("vibration", "robust_zscore")] == pytest.approx(newest["robust_zscore"]["score"])
    assert ("vibration", "knn") in samples  # warming up: NaN, but present
    flags = {(s.labels["sensor"], s.labels["detector"]): s.value for s in families["linewatch_detector_anomaly"].samples}
    assert flags[("vibration", "robust_zscore")] == float(newest["robust_zscore"]["anomaly"])


def test_a_setting_row_holds_the_normalised_names(client, app):
    client.post("/send_control", json={"detectors": "knn,,robust_zscore"})
    with app.app_context():
        stored = db.session.scalar(db.select(Setting.value).where(Setting.key == "detectors", Setting.scope == ""))
    assert json.loads(stored) == "knn,robust_zscore"


def test_a_forecasting_detector_stores_its_forecast_for_the_dashboard_and_metrics(fast, client):
    client.post("/send_control", json={"sensor": "vibration", "detectors": "forecast"})
    clock = FakeClock(time.time() + 1)
    sampler = started_sampler(fast, clock)
    assert client.get("/api/forecast?sensor=vibration").get_json()["points"] == []
    drive(fast, sampler, clock, 16.0)  # 320 readings: the first fit starts, in the background
    forecaster = sampler.monitors[_sensor_id(fast, "vibration")].others.detectors["forecast"]
    assert forecaster.background  # the sampler never waits for a fit
    deadline = time.time() + 60
    while not forecaster.ready and time.time() < deadline:
        drive(fast, sampler, clock, 0.5)
        time.sleep(0.2)
    assert forecaster.ready
    drive(fast, sampler, clock, 2.0)
    ahead = client.get("/api/forecast?sensor=vibration").get_json()
    newest = _readings(fast, _sensor_id(fast, "vibration"))[-1]
    assert ahead["detector"] == "forecast" and ahead["step_s"] == pytest.approx(0.05)
    assert len(ahead["points"]) == 120  # 60 s ahead at 20 Hz, capped at 120 points
    assert ahead["t"] <= newest[0] and ahead["points"][0]["t"] == pytest.approx(ahead["t"] + 0.05)
    widths = [p["high"] - p["low"] for p in ahead["points"]]
    assert all(p["low"] < p["mean"] < p["high"] for p in ahead["points"]) and widths[-1] >= widths[0]
    assert newest[4]["forecast"]["why"].startswith("forecast ")
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))}
    bounds = {(s.labels["bound"], s.labels["ahead_seconds"]): s.value for s in families["linewatch_forecast"].samples
              if s.labels["sensor"] == "vibration"}
    assert bounds[("mean", "0.05")] == pytest.approx(ahead["points"][0]["mean"])
    assert bounds[("high", "6")] == pytest.approx(ahead["points"][-1]["high"])
    client.post("/send_control", json={"sensor": "vibration", "detectors": ""})
    drive(fast, sampler, clock, 0.5)
    assert client.get("/api/forecast?sensor=vibration").get_json()["points"] == []


def test_a_supervised_knn_model_trained_from_labels_runs_live_by_name(fast, client, tmp_path):
    import random
    from helpers.storage import line as line_store
    from helpers.storage import scenarios as scenario_store
    from helpers.storage import sessions as session_store
    rng = random.Random(5)
    lines = ["timestamp,value,label"]
    for i in range(3000):
        incident = i % 300 >= 290  # labelled incidents: the vibration jumps by 2 mm/s
        value = rng.gauss(2.8, 0.25) + (2.0 if incident else 0.0)
        lines.append(f"2024-01-01 00:{i // 60 % 60:02d}:{i % 60:02d},{value:.4f},{int(incident)}")
    fast.config["MODELS_DIR"] = str(tmp_path / "models")
    labelled = tmp_path / "labelled.csv"
    labelled.write_text("\n".join(lines) + "\n")
    runner = fast.test_cli_runner()
    trained = runner.invoke(args=["train-knn", str(labelled), "--name", "vib-jumps", "--window", "3"])
    assert trained.exit_code == 0, trained.output
    assert "detectors=knn_model:vib-jumps" in trained.output
    assert runner.invoke(args=["train-knn", str(labelled), "--name", "../escape"]).exit_code != 0
    listed = {d["name"] for d in client.get("/api/detectors").get_json()["detectors"]}
    assert "knn_model:vib-jumps" in listed
    client.post("/send_control", json={"sensor": "vibration", "detectors": "knn_model:vib-jumps,knn_model:absent"})
    clock = FakeClock(time.time() + 1)
    sampler = started_sampler(fast, clock)
    drive(fast, sampler, clock, 10.0)
    with fast.app_context():
        session = session_store.current_session()
        scenario_store.create_scenario(line_store.sensor_by_name("vibration"), "level_shift", 8.0,
                                clock.now + 1 - session.started_at, 2.0, clock.now)
    drive(fast, sampler, clock, 5.0)
    rows = _readings(fast, _sensor_id(fast, "vibration"))
    verdicts = [r[4]["knn_model:vib-jumps"] for r in rows]
    assert all("most similar labelled stretches were incidents" in v["why"] for v in verdicts[5:])
    flagged = [i for i, v in enumerate(verdicts) if v["anomaly"]]
    during = [i for i, r in enumerate(rows) if clock.now - 4.0 <= r[0] <= clock.now - 2.0]
    assert set(during) & set(flagged)  # the shift is caught
    assert len(flagged) <= len(during) + 10  # and the quiet line mostly is not flagged
    missing = rows[-1][4]["knn_model:absent"]
    assert missing["score"] is None and "cannot be used" in missing["why"]
