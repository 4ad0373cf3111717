"""Retention: old readings thinned to minute min/mean/max in small batches, then deleted; the sampler goes on."""
from __future__ import annotations

import random
import time

import pytest
import requests

from helpers.runtime.retention import RetentionChore
from helpers.storage import retention
from helpers.storage import line as line_store
from helpers.storage import readings as reading_store
from helpers.storage.db import db
from helpers.storage.models import Reading, ReadingRollup
from tests.conftest import make_app, sampling_server

DAY = 86_400.0
NOW = 1_795_000_000.0


def _reading(sensor_id, t, value, anomaly=False):
    return {"sensor_id": sensor_id, "t": t, "value": value, "mean": None, "std": None, "z": None,
            "threshold": 3.0, "anomaly": anomaly, "zscore_anomaly": anomaly, "lstm_score": None,
            "lstm_threshold": None, "lstm_anomaly": None, "anomaly_ratio": 0.0, "baseline_state": "learning",
            "completeness": 0.0, "scenario_id": None}


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path, RETENTION_RAW_DAYS=1.0, RETENTION_ROLLUP_DAYS=3.0, RETENTION_BATCH=250)


def _store(app, rows):
    with app.app_context():
        reading_store.insert_readings(rows)
        db.session.commit()


def _sensor_ids(app):
    with app.app_context():
        return [s.id for s in line_store.all_sensors()][:2]


def test_old_readings_become_minute_rollups_in_bounded_batches_and_recent_ones_stay(app):
    rng = random.Random(4)
    a, b = _sensor_ids(app)
    old = [_reading(sid, NOW - 2 * DAY + i * 0.7, rng.gauss(10, 2), rng.random() < 0.05)
           for i in range(900) for sid in (a, b)]  # ~10.5 minutes of both sensors, interleaved
    recent = [_reading(a, NOW - 3600 + i, 5.0) for i in range(100)]
    _store(app, old + recent)
    chore = RetentionChore(app)
    with app.app_context():
        passes = []
        while chore.due(NOW):
            passes.append(chore.run(NOW))
        assert max(passes) <= 250 and sum(passes) == len(old)
        assert len(passes) >= len(old) // 250  # small batches, not one sweep
        left = db.session.scalars(db.select(Reading.t)).all()
        assert sorted(left) == sorted(r["t"] for r in recent)
        stored = {(r.sensor_id, r.minute): r for r in db.session.scalars(db.select(ReadingRollup))}
    expected = {}
    for r in old:
        expected.setdefault((r["sensor_id"], (r["t"] // 60) * 60), []).append(r)
    assert set(stored) == set(expected)
    for key, rows in expected.items():
        values = [r["value"] for r in rows]
        got = stored[key]
        assert got.n == len(rows) and got.low == min(values) and got.high == max(values)
        assert got.mean == pytest.approx(sum(values) / len(values), rel=1e-12)
        assert got.anomalies == sum(r["anomaly"] for r in rows)


def test_rollups_past_their_retention_are_deleted_and_served_until_then(app):
    a, _ = _sensor_ids(app)
    _store(app, [_reading(a, NOW - 5 * DAY + i * 60, float(i)) for i in range(10)]
           + [_reading(a, NOW - 2 * DAY + i * 60, float(i)) for i in range(10)])
    chore = RetentionChore(app)
    with app.app_context():
        while chore.due(NOW):
            chore.run(NOW)
        minutes = retention.rollups(a, NOW - 10 * DAY, NOW)
    assert [m["t"] for m in minutes] == [(NOW - 2 * DAY + i * 60) // 60 * 60 for i in range(10)]
    assert minutes[3] == {"t": minutes[3]["t"], "n": 1, "min": 3.0, "mean": 3.0, "max": 3.0, "anomalies": 0}


def test_the_rollups_route_checks_its_input(client):
    assert client.get("/api/rollups?sensor=nonsense").status_code == 404
    bad = client.get("/api/rollups?sensor=vibration&seconds=abc")
    assert bad.status_code == 400 and bad.get_json()["field"] == "seconds"
    assert client.get("/api/rollups?sensor=vibration").get_json() == {"sensor": "vibration", "minutes": []}


def test_a_running_sampler_thins_behind_itself_and_keeps_its_rate(tmp_path):
    # Raw readings kept for 3 s: the sampler's own chore thins what is older, while it samples at 10 Hz.
    with sampling_server(tmp_path, RETENTION_RAW_DAYS=3 / DAY, RETENTION_CHECK_SECONDS=0.5,
                         RETENTION_BATCH=50) as server:
        time.sleep(8.0)
        with server.app.app_context():
            oldest = db.session.scalar(db.select(db.func.min(Reading.t)))
            raw = db.session.scalar(db.select(db.func.count()).select_from(Reading))
            folded = db.session.scalar(db.select(db.func.sum(ReadingRollup.n))) or 0
        assert folded > 0
        assert oldest > time.time() - 3 - 3  # nothing much older than the raw retention (+ a check interval)
        # Every reading produced is either still raw or counted in a rollup: 4 sensors at 10 Hz for ~8 s.
        assert raw + folded >= 0.8 * 4 * 10 * 8
        assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
