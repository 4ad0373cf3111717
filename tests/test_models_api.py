"""LSTM models in the running app: background training, versions, live scoring, fallbacks, the CLI."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import make_app
from tests.helpers_for_tests import FakeClock, drive, started_sampler


@pytest.fixture
def lstm_app(tmp_path):
    app = make_app(tmp_path, MODELS_DIR=str(tmp_path / "models"), TRAINING_EPOCHS=3)
    app.test_client().post("/send_control", json={"sample_rate_hz": 10, "model_size": 30})
    return app


@pytest.fixture
def running(lstm_app):
    """The app with 120 s of readings at 10 Hz, and its sampler and clock to go on with."""
    clock = FakeClock(time.time())
    sampler = started_sampler(lstm_app, clock)
    drive(lstm_app, sampler, clock, 120.0, tick=0.5)
    return lstm_app, sampler, clock


def wait_for_job(client, job_id, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.get(f"/api/training/{job_id}").get_json()["job"]
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    pytest.fail(f"training job {job_id} did not finish in {timeout} s")


def train(client, sensor="vibration", **body):
    response = client.post("/api/models/train", json={"sensor": sensor, **body})
    assert response.status_code == 202, response.get_json()
    return wait_for_job(client, response.get_json()["job"]["id"])


def test_too_little_data_says_how_much_is_needed(lstm_app):
    response = lstm_app.test_client().post("/api/models/train", json={"sensor": "vibration"})
    assert response.status_code == 400
    assert "needs at least" in response.get_json()["message"] and "has 0" in response.get_json()["message"]


@pytest.mark.parametrize("body, status, field", [
    ({}, 400, "sensor"), ({"sensor": "nope"}, 404, "sensor"),
    ({"sensor": "vibration", "from": "yesterday"}, 400, "from"),
    ({"sensor": "vibration", "from": 10, "to": 5}, 400, "from"),
])
def test_train_bad_input(lstm_app, body, status, field):
    response = lstm_app.test_client().post("/api/models/train", json=body)
    assert response.status_code == status and response.get_json()["field"] == field


def test_train_in_background_then_score_live_with_both_verdicts_stored(running):
    app, sampler, clock = running
    client = app.test_client()
    job = train(client)
    assert job["status"] == "done" and job["epoch"] == 3 and len(job["loss_curve"]) == 3
    models = client.get("/api/models?sensor=vibration").get_json()["models"]
    assert [(m["version"], m["status"]) for m in models] == [(1, "active")]
    assert models[0]["readings_used"] > 300 and models[0]["readings_excluded"] >= 0
    card = client.get(f"/api/models/{models[0]['id']}").get_json()
    assert sum(card["error_histogram"]["counts"]) > 0 and card["threshold_percentile"] == pytest.approx(99.0)

    client.post("/send_control", json={"sensor": "vibration", "lstm_enabled": True})
    drive(app, sampler, clock, 5.0, tick=0.5)
    points = client.get("/get_data?sensor=vibration&window=20").get_json()["points"]
    assert all(p["lstm_score"] is not None and p["lstm_threshold"] == pytest.approx(models[0]["threshold"])
               for p in points[-10:])
    # A threshold rule change applies without retraining.
    client.post("/send_control", json={"sensor": "vibration", "lstm_ratio": 2.0})
    drive(app, sampler, clock, 1.0, tick=0.5)
    newest = client.get("/get_data?sensor=vibration&window=1").get_json()["points"][0]
    assert newest["lstm_threshold"] == pytest.approx(2.0 * models[0]["threshold"])
    # verdict_source decides what counts: with "lstm" an LSTM flag is the anomaly.
    client.post("/send_control", json={"sensor": "vibration", "verdict_source": "lstm", "lstm_ratio": 1e-2})
    drive(app, sampler, clock, 2.0, tick=0.5)
    newest = client.get("/get_data?sensor=vibration&window=5").get_json()["points"]
    assert all(p["lstm_anomaly"] and p["anomaly"] for p in newest)
    assert not all(p["zscore_anomaly"] for p in newest)


def test_a_new_version_and_switching_back(running):
    app, _, _ = running
    client = app.test_client()
    train(client)
    train(client)
    first, second = sorted(client.get("/api/models?sensor=vibration").get_json()["models"], key=lambda m: m["version"])
    assert (first["status"], second["status"]) == ("retired", "active")
    card = client.get(f"/api/models/{second['id']}").get_json()
    assert card["predecessor"]["id"] == first["id"]
    assert client.post(f"/api/models/{first['id']}/activate").get_json()["status"] == "active"
    statuses = {m["version"]: m["status"] for m in client.get("/api/models?sensor=vibration").get_json()["models"]}
    assert statuses == {1: "active", 2: "retired"}
    assert client.post("/api/models/999/activate").status_code == 404


def test_a_corrupt_model_file_falls_back_to_the_zscore(running):
    app, sampler, clock = running
    client = app.test_client()
    job = train(client)
    model = client.get("/api/models?sensor=vibration").get_json()["models"][0]
    Path(app.config["MODELS_DIR"], "sensor-vibration", "v1", "model.pt").write_bytes(b"not a torch file")
    client.post("/send_control", json={"sensor": "vibration", "lstm_enabled": True})
    drive(app, sampler, clock, 3.0, tick=0.5)
    points = client.get("/get_data?sensor=vibration&window=10").get_json()["points"]
    assert len(points) == 10 and all(p["lstm_score"] is None and p["z"] is not None for p in points)
    models = client.get("/api/models?sensor=vibration").get_json()["models"]
    assert models[0]["status"] == "failed" and "model.pt" in models[0]["load_error"]
    assert job["model_id"] == model["id"]


def test_a_failing_training_keeps_the_previous_model_and_the_sampler(running, tmp_path):
    app, sampler, clock = running
    client = app.test_client()
    train(client)
    app.config["MODELS_DIR"] = str(tmp_path / "a-file")
    Path(app.config["MODELS_DIR"]).write_text("in the way")
    failed = train(client)
    assert failed["status"] == "failed" and failed["error"]
    models = client.get("/api/models?sensor=vibration").get_json()["models"]
    assert [(m["version"], m["status"]) for m in models] == [(1, "active")]
    before = len(client.get("/get_data?sensor=vibration&window=10000").get_json()["points"])
    drive(app, sampler, clock, 2.0, tick=0.5)
    assert len(client.get("/get_data?sensor=vibration&window=10000").get_json()["points"]) == before + 20


def test_flask_train_cli(running):
    app, _, _ = running
    runner = app.test_cli_runner()
    result = runner.invoke(args=["train", "--sensor", "pressure"])
    assert result.exit_code == 0, result.output
    assert "epoch 3/3" in result.output and "v1 is active" in result.output
    assert runner.invoke(args=["train", "--sensor", "nope"]).exit_code == 2
    late = runner.invoke(args=["train", "--sensor", "pressure", "--from", "2099-01-01T00:00:00+00:00"])
    assert late.exit_code == 2 and "needs at least" in late.output
    assert runner.invoke(args=["train", "--sensor", "pressure", "--from", "soon"]).exit_code == 2


def test_scheduled_retraining_runs_in_shadow_then_is_judged(running):
    from helpers.runtime.jobs import retraining

    app, sampler, clock = running
    client = app.test_client()
    train(client)
    client.post("/send_control", json={"sensor": "vibration", "lstm_enabled": True})
    app.config.update(RETRAIN_INTERVAL_HOURS=1e-9, SHADOW_HOURS=1e-9)
    with app.app_context():
        retraining.tick(app, time.time(), background=False)
    versions = {m["version"]: m["status"] for m in client.get("/api/models?sensor=vibration").get_json()["models"]}
    assert versions == {1: "active", 2: "shadow"}, "a retrained model does not take over at once"
    drive(app, sampler, clock, 30.0, tick=0.5)
    with app.app_context():
        retraining.tick(app, clock.now + 1, background=False)
    models = {m["version"]: m for m in client.get("/api/models?sensor=vibration").get_json()["models"]}
    comparison = models[2]["comparison"]
    assert comparison["shadow"]["readings"] > 200 and comparison["active_version"] == 1
    not_worse = (comparison["shadow"]["false_alarms"] <= comparison["active"]["false_alarms"]
                 and comparison["shadow"]["caught"] >= comparison["active"]["caught"])
    assert comparison["promoted"] == not_worse
    assert (models[2]["status"], models[1]["status"]) == (("active", "retired") if not_worse else ("candidate", "active"))


def test_a_shadow_that_cannot_be_judged_waits_for_a_person(running):
    from helpers.runtime.jobs import retraining
    from helpers.storage import model_registry
    from helpers.storage import line as line_store

    app, _, _ = running
    client = app.test_client()
    train(client)
    with app.app_context():
        sensor = line_store.sensor_by_name("vibration")
        active = model_registry.models_of("sensor:vibration")[0]
        shadow = model_registry.add_model("sensor:vibration", 2, model_registry.SHADOW, "/nonexistent",
                                          time.time() - 10, None, None, {})
        assert retraining.judge_shadow(sensor, shadow, active, time.time()) == "candidate"
    models = {m["version"]: m["status"] for m in client.get("/api/models?sensor=vibration").get_json()["models"]}
    assert models == {1: "active", 2: "candidate"}


def test_the_line_model_scores_all_sensors_together(running):
    app, sampler, clock = running
    client = app.test_client()
    assert client.post("/api/models/train", json={}).status_code == 400
    response = client.post("/api/models/train", json={"line": True})
    assert response.status_code == 202, response.get_json()
    job = wait_for_job(client, response.get_json()["job"]["id"])
    assert job["status"] == "done" and job["target"] == "line:line-1"
    models = client.get("/api/models?line=1").get_json()["models"]
    assert [(m["target"], m["status"]) for m in models] == [("line:line-1", "active")]
    assert client.get("/api/line_scores").get_json() == {"enabled": False, "points": []}
    client.post("/send_control", json={"line_lstm_enabled": True})
    drive(app, sampler, clock, 5.0, tick=0.5)
    scores = client.get("/api/line_scores?window=100").get_json()
    assert scores["enabled"] is True
    # One line vector per reading of the reference sensor (10 Hz), once the first window is full.
    assert 30 <= len(scores["points"]) <= 50
    assert all(p["error"] >= 0 and p["threshold"] == pytest.approx(models[0]["threshold"]) for p in scores["points"])
    ts = [p["t"] for p in scores["points"]]
    assert ts == sorted(ts)


def test_the_scorecard_has_an_lstm_card_once_the_lstm_scores(running):
    app, sampler, clock = running
    client = app.test_client()
    assert list(client.get("/api/scorecard").get_json()["detectors"]) == ["zscore"]
    train(client)
    client.post("/send_control", json={"sensor": "vibration", "lstm_enabled": True, "lstm_ratio": 0.01})
    drive(app, sampler, clock, 3.0, tick=0.5)
    detectors = client.get("/api/scorecard").get_json()["detectors"]
    assert list(detectors) == ["zscore", "lstm"]
    assert detectors["lstm"]["false_alarms"] >= 1, "a tiny threshold makes the LSTM flag normal readings"
