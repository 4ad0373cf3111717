"""One verdict, decided once: whose verdicts count under each source, stored per reading, sent as stored."""
from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import text

from helpers.core.settings import SETTINGS
from helpers.core.verdict import VERDICT_SOURCES, Decision, decide
from helpers.storage.db import add_missing_columns, db
from helpers.storage.models import Reading
from tests.helpers_for_tests import FakeClock, drive, started_sampler


# --- the decision ---------------------------------------------------------------------------------

@pytest.mark.parametrize("source, z, lstm, want", [
    ("zscore", True, False, Decision(True, ("zscore",), True)),
    ("zscore", False, None, Decision(False, ("zscore",), False)),
    ("zscore", None, True, Decision(None, (), False)),  # the LSTM's flag is shown, it does not count
    ("lstm", False, True, Decision(True, ("lstm",), True)),
    ("lstm", True, None, Decision(True, ("zscore",), False)),  # the z-score stands in while the LSTM cannot judge
    ("lstm", None, None, Decision(None, (), False)),
    ("either", False, True, Decision(True, ("zscore", "lstm"), True)),
    ("either", False, False, Decision(False, ("zscore", "lstm"), False)),
    ("either", True, None, Decision(True, ("zscore",), False)),
    ("both", True, False, Decision(False, ("zscore", "lstm"), True)),
    ("both", True, True, Decision(True, ("zscore", "lstm"), False)),
    ("both", None, True, Decision(True, ("lstm",), False)),  # one that cannot judge yet abstains
    ("both", True, None, Decision(True, ("zscore",), False)),
])
def test_each_combined_source_decides_which_detectors_count(source, z, lstm, want):
    assert decide(source, z, lstm) == want


def test_a_chosen_detector_counts_alone_and_defers_to_the_zscore_while_it_warms_up():
    assert decide("knn", False, None, {"knn": True, "robust_zscore": False}) == Decision(True, ("knn",), True)
    assert decide("knn", True, True, {"knn": True}) == Decision(True, ("knn",), False)
    # Warming up (None), or not run at all: the z-score's verdict counts.
    assert decide("knn", True, None, {"knn": None}) == Decision(True, ("zscore",), False)
    assert decide("knn", False, None, {}) == Decision(False, ("zscore",), False)
    assert decide("knn", None, None, {"knn": None}) == Decision(None, (), False)


def test_disagreement_is_among_the_detectors_that_judged_whoever_counts():
    assert decide("zscore", False, None, {"robust_zscore": True}).disagree
    assert not decide("zscore", False, None, {"robust_zscore": False, "knn": None}).disagree
    assert decide("zscore", None, True, {"knn": False}).disagree  # the z-score learning: the others still split
    assert not decide("zscore", None, None, {"knn": True}).disagree


def test_the_setting_offers_the_combined_sources_and_the_dashboard_gets_their_texts(client):
    assert SETTINGS["verdict_source"].choices[:4] == tuple(VERDICT_SOURCES) == ("zscore", "lstm", "either", "both")
    control = client.get("/get_control").get_json()
    assert control["verdict_sources"] == [{"name": n, "text": t} for n, t in VERDICT_SOURCES.items()]
    assert all(s["text"] for s in control["verdict_sources"])


# --- stored by the sampler, sent by the API ---------------------------------------------------------

@pytest.fixture
def judged(app, client):
    """20 s of the line at 20 readings/s, vibration judged by robust_zscore (its verdict counting) and the z-score."""
    client.post("/send_control", json={"sample_rate_hz": 20.0, "model_size": 30, "anomaly_level": 60.0})
    client.post("/send_control", json={"sensor": "vibration", "detectors": "robust_zscore",
                                       "verdict_source": "robust_zscore"})
    clock = FakeClock(time.time() + 1)
    drive(app, started_sampler(app, clock), clock, 20.0)
    return app


def _stored(app):
    with app.app_context():
        return {r.id: r for r in db.session.scalars(db.select(Reading))}


def test_the_sampler_stores_the_decision_and_the_api_sends_it_as_stored(judged, client):
    stored = _stored(judged)
    assert stored and all(r.counted is not None and r.disagree is not None for r in stored.values())
    for r in stored.values():
        counted = r.counted.split(",") if r.counted else []
        chosen = json.loads(r.detectors)["robust_zscore"]["anomaly"] if r.detectors else None
        assert counted == (["robust_zscore"] if chosen is not None else ["zscore"] if r.z is not None else [])
    points = client.get("/get_data?sensor=vibration&window=10000").get_json()["points"]
    assert len(points) > 300
    for p in points:
        r = stored[p["id"]]
        assert p["counted"] == [k for k in r.counted.split(",") if k] and p["disagree"] is r.disagree
        judging = p["detectors"]["robust_zscore"]["anomaly"]
        if judging is not None:
            assert p["counted"] == ["robust_zscore"] and p["anomaly"] == judging
            assert p["disagree"] == (p["z"] is not None and judging != p["zscore_anomaly"])
        elif p["z"] is not None:
            assert p["counted"] == ["zscore"] and p["anomaly"] == p["zscore_anomaly"]  # it warms up: the z-score's
    assert {tuple(p["counted"]) for p in points} >= {("zscore",), ("robust_zscore",)}
    assert any(p["disagree"] for p in points) and any(not p["disagree"] for p in points)

    listed = client.get("/api/anomalies?limit=500").get_json()["anomalies"]
    assert listed
    for a in listed:
        r = stored[a["id"]]
        assert a["counted"] == [k for k in r.counted.split(",") if k] and a["disagree"] is r.disagree


def test_readings_stored_before_the_columns_existed_are_decided_by_the_same_rule(judged, client):
    before = client.get("/get_data?sensor=vibration&window=10000").get_json()["points"]
    anomalies = client.get("/api/anomalies?limit=500").get_json()["anomalies"]
    with judged.app_context():
        db.session.execute(db.update(Reading).values(counted=None, disagree=None))
        db.session.commit()
    after = client.get("/get_data?sensor=vibration&window=10000").get_json()["points"]
    assert [(p["counted"], p["disagree"]) for p in after] == [(p["counted"], p["disagree"]) for p in before]
    assert client.get("/api/anomalies?limit=500").get_json()["anomalies"] == anomalies


def test_an_older_database_gets_the_columns(app):
    with app.app_context():
        for column in ("counted", "disagree"):
            with db.engine.begin() as connection:
                connection.execute(text(f'ALTER TABLE readings DROP COLUMN "{column}"'))
        assert sorted(add_missing_columns()) == ["readings.counted", "readings.disagree"]
        assert add_missing_columns() == []
