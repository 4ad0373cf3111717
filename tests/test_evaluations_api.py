"""The Evaluate page's API: bundled examples, runs in the background, uploads validated whole, scores at a threshold."""
import io
import json
import time

import numpy as np
import pytest

from helpers.core.evaluation.nab import examples as bundled
from helpers.core.evaluation.nab.scorer import FileScores, score_corpus
from helpers.runtime.jobs.evaluation import NAB_PROFILES
from tests.conftest import make_app


@pytest.fixture
def client(tmp_path):
    return make_app(tmp_path, SAMPLER_AUTOSTART=False, EVALUATE_MAX_UPLOAD_BYTES=20_000,
                    EVALUATE_MIN_ROWS=20).test_client()


def wait_done(client, run_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"/api/evaluations/{run_id}").get_json()
        if state["status"] in ("done", "failed"):
            return state
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish: {state}")


def csv_bytes(rows):
    return ("timestamp,value\n" + "".join(f"{t},{v}\n" for t, v in rows)).encode()


def series(n=200, spike_at=150):
    rows = [(f"2024-01-01 {i // 60:02d}:{i % 60:02d}:00", 10.0 + (i % 7) * 0.1) for i in range(n)]
    rows[spike_at] = (rows[spike_at][0], 50.0)
    return rows


def test_catalogue_lists_every_bundled_example_with_its_labels(client):
    body = client.get("/api/evaluate/examples").get_json()
    labels = json.loads((bundled.EXAMPLES_DIR / "labels.json").read_text())
    assert {e["name"] for e in body["examples"]} == set(labels)
    for example in body["examples"]:
        assert [list(w) for w in example["windows"]] == labels[example["name"]]
        assert set(example["references"]) == {"numenta", "ARTime", "windowedGaussian"}
    assert {"zscore", "lstm", "robust_zscore_seasonal+likelihood", "knn+likelihood"} <= {d["id"] for d in body["detectors"]}
    assert body["limits"]["max_upload_bytes"] == 20_000


def test_reference_scores_on_an_example_match_the_nab_scorer_run_directly(client):
    """The page's numbers for a published detector are exactly the scorer's, at its corpus threshold."""
    started = client.post("/api/evaluations", json={"example": "speed_7578", "detectors": ["numenta", "zscore"]})
    assert started.status_code == 202
    assert wait_done(client, started.get_json()["id"])["status"] == "done"
    scored = client.post(f"/api/evaluations/{started.get_json()['id']}/score", json={}).get_json()
    example = bundled.examples()["speed_7578"]
    timestamps, _ = bundled.load_series(example)
    threshold = bundled.reference_thresholds()["numenta"]["standard"]
    direct = score_corpus([FileScores("f", timestamps, bundled.reference_scores(example, "numenta"))],
                          {"f": example.windows}, NAB_PROFILES["standard"], threshold=threshold)
    numenta = scored["detectors"]["numenta"]
    assert numenta["threshold"] == threshold
    assert numenta["scores"]["standard"] == pytest.approx(direct.score)
    assert numenta["windows_detected"] == direct.windows_detected == 4
    assert numenta["false_positives"] == direct.false_positives
    assert scored["probationary_rows"] == 169  # floor(0.15 * 1126)


def test_lower_threshold_flags_more_and_best_is_at_least_the_default(client):
    run_id = client.post("/api/evaluations", json={"example": "art_daily_jumpsup",
                                                    "detectors": ["zscore"]}).get_json()["id"]
    wait_done(client, run_id)
    url = f"/api/evaluations/{run_id}/score"
    high = client.post(url, json={"thresholds": {"zscore": 0.9999}}).get_json()["detectors"]["zscore"]
    low = client.post(url, json={"thresholds": {"zscore": 0.9}}).get_json()["detectors"]["zscore"]
    best = client.post(url, json={"thresholds": {"zscore": "best"}}).get_json()["detectors"]["zscore"]
    assert len(low["detections"]) > len(high["detections"])
    assert low["false_positives"] > high["false_positives"]
    assert best["scores"]["standard"] >= max(low["scores"]["standard"], high["scores"]["standard"])


def test_drawn_windows_replace_the_labels_and_are_snapped_to_rows(client):
    run_id = client.post("/api/evaluations", json={"example": "speed_7578", "detectors": ["numenta"]}).get_json()["id"]
    wait_done(client, run_id)
    body = client.post(f"/api/evaluations/{run_id}/score",
                       json={"windows": [["2015-09-15 13:00", "2015-09-15 16:00"]]}).get_json()
    assert body["windows"] == [["2015-09-15 13:01:00", "2015-09-15 15:59:00"]] or body["windows"][0][0] >= "2015-09-15 13:00"
    assert body["detectors"]["numenta"]["windows"] == 1
    none = client.post(f"/api/evaluations/{run_id}/score", json={"windows": []}).get_json()
    assert none["detectors"]["numenta"]["scores"]["standard"] is None and none["note"]


def test_an_upload_with_labels_runs_and_catches_the_spike(client):
    rows = series()
    labels = json.dumps([[rows[145][0], rows[160][0]]]).encode()
    response = client.post("/api/evaluations", data={
        "file": (io.BytesIO(csv_bytes(rows)), "mine.csv"), "labels": (io.BytesIO(labels), "labels.json"),
        "detectors": "zscore"}, content_type="multipart/form-data")
    assert response.status_code == 202, response.get_json()
    assert wait_done(client, response.get_json()["id"])["status"] == "done"
    scored = client.post(f"/api/evaluations/{response.get_json()['id']}/score", json={}).get_json()
    zscore = scored["detectors"]["zscore"]
    assert 150 in zscore["detections"] and zscore["windows_detected"] == 1
    assert zscore["scores"]["standard"] > 50


@pytest.mark.parametrize("rows, labels, field, words", [
    ([("2024-01-01 00:00:00", "x")], None, "file", "line 2: value 'x' is not a number"),
    ([("2024-01-01 00:00:00", 1.0), ("yesterday", 2.0)], None, "file", "line 3: timestamp"),
    ([(f"2024-01-01 00:{i:02d}:00", 1.0) for i in range(5)], None, "file", "5 rows"),
    (series(), b"[[1, 2, 3]]", "labels", "window 1"),
    (series(), b"not json", "labels", "not JSON"),
    (series(), b'[["2030-01-01", "2030-01-02"]]', "labels", "no row"),
])
def test_bad_uploads_are_refused_naming_the_field_and_nothing_is_stored(client, rows, labels, field, words):
    data = {"file": (io.BytesIO(csv_bytes(rows)), "bad.csv"), "detectors": "zscore"}
    if labels is not None:
        data["labels"] = (io.BytesIO(labels), "labels.json")
    response = client.post("/api/evaluations", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    body = response.get_json()
    assert body["field"] == field and words in body["message"], body
    assert client.get("/api/evaluations/1").status_code == 404


def test_an_upload_over_the_limit_is_413_and_other_content_types_415(client):
    big = csv_bytes([(f"2024-01-01 00:00:{i % 60:02d}", i) for i in range(3000)])
    response = client.post("/api/evaluations", data={"file": (io.BytesIO(big), "big.csv"), "detectors": "zscore"},
                           content_type="multipart/form-data")
    assert response.status_code in (400, 413)
    assert "limit" in response.get_json()["message"] or response.status_code == 413
    huge = b"x" * 400_000
    response = client.post("/api/evaluations", data={"file": (io.BytesIO(huge), "huge.csv"), "detectors": "zscore"},
                           content_type="multipart/form-data")
    assert response.status_code == 413 and response.get_json()["error"] == "too_large"
    response = client.post("/api/evaluations", data="hello", content_type="text/plain")
    assert response.status_code == 415


@pytest.mark.parametrize("body, field", [
    ({"example": "nope", "detectors": ["zscore"]}, "example"),
    ({"example": "speed_7578", "detectors": []}, "detectors"),
    ({"example": "speed_7578", "detectors": ["oracle"]}, "detectors"),
    ({"example": "speed_7578", "detectors": ["zscore"], "windows": [["2015-09-16", "2015-09-15"]]}, "windows"),
])
def test_bad_example_runs_are_refused(client, body, field):
    response = client.post("/api/evaluations", json=body)
    assert response.status_code == 400 and response.get_json()["field"] == field


def test_bad_thresholds_are_refused(client):
    run_id = client.post("/api/evaluations", json={"example": "speed_7578", "detectors": ["numenta"]}).get_json()["id"]
    wait_done(client, run_id)
    for thresholds in ({"numenta": 2}, {"numenta": "high"}, {"zscore": 0.5}):
        response = client.post(f"/api/evaluations/{run_id}/score", json={"thresholds": thresholds})
        assert response.status_code == 400 and response.get_json()["field"] == "thresholds"
    assert client.post("/api/evaluations/999/score", json={}).status_code == 404


def test_a_detector_that_fails_is_reported_and_the_others_still_score(client):
    rows = series(n=30, spike_at=20)  # far too short for the LSTM to train on 15 % of it
    response = client.post("/api/evaluations", data={
        "file": (io.BytesIO(csv_bytes(rows)), "short.csv"), "detectors": ["lstm", "zscore"]},
        content_type="multipart/form-data")
    state = wait_done(client, response.get_json()["id"])
    assert state["status"] == "done"
    assert "NotEnoughDataError" in state["detector_errors"]["lstm"]
    served = client.get(f"/api/evaluations/{state['id']}/series").get_json()
    assert list(served["scores"]) == ["zscore"] and len(served["scores"]["zscore"]) == 30
    assert np.isfinite(served["scores"]["zscore"]).all()


def test_the_new_detectors_run_on_the_page_with_timestamps_and_beat_the_plain_zscore(client):
    """The seasonal one needs the series' timestamps; each starts at its own alarm level."""
    body = client.get("/api/evaluate/examples").get_json()
    offered = {d["id"]: d["default_threshold"] for d in body["detectors"]}
    assert offered["robust_zscore_seasonal+likelihood"] == 0.5
    run_id = client.post("/api/evaluations", json={"example": "machine_temperature_system_failure",
                                                    "detectors": ["zscore", "robust_zscore_seasonal+likelihood"]}
                         ).get_json()["id"]
    state = wait_done(client, run_id, timeout=120)
    assert state["status"] == "done" and state["detector_errors"] == {}
    scored = client.post(f"/api/evaluations/{run_id}/score", json={}).get_json()["detectors"]
    seasonal, plain = scored["robust_zscore_seasonal+likelihood"], scored["zscore"]
    assert seasonal["threshold"] == 0.5
    assert seasonal["scores"]["standard"] > plain["scores"]["standard"]
    assert seasonal["false_positives"] < plain["false_positives"]
