"""Backtests: the current settings re-run reproduce what was recorded; other settings change the counts; errors name the field."""
import time

import numpy as np
import pytest

from helpers.core.evaluation import backtest as core
from helpers.storage import line as line_store
from helpers.storage import scenarios as scenario_store
from helpers.storage import sessions as session_store
from tests.conftest import make_app
from tests.helpers_for_tests import FakeClock, drive, started_sampler

T0 = 1_800_000_000.0


@pytest.fixture
def history(tmp_path):
    """An app with 3 minutes of stored readings at 1 Hz and two injected scenarios on vibration."""
    app = make_app(tmp_path, SAMPLER_AUTOSTART=False, SAMPLE_RATE_HZ=1.0, MODEL_SIZE=30)
    clock = FakeClock(T0)
    sampler = started_sampler(app, clock)
    drive(app, sampler, clock, 60.0, tick=0.5)
    with app.app_context():
        sensor = line_store.sensor_by_name("vibration")
        started = session_store.current_session().started_at
        scenario_store.create_scenario(sensor, "level_shift", 6.0, clock.now + 10 - started, 15.0, clock.now)
        scenario_store.create_scenario(sensor, "spike", 8.0, clock.now + 80 - started, 3.0, clock.now)
    drive(app, sampler, clock, 120.0, tick=0.5)
    return app, clock


def run(client, body, timeout=30):
    response = client.post("/api/backtest", json=body)
    assert response.status_code == 202, response.get_json()
    job_id = response.get_json()["id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/backtest/{job_id}").get_json()
        if job["status"] in ("done", "failed"):
            assert job["status"] == "done", job["error"]
            return job["result"]
        time.sleep(0.05)
    raise AssertionError("backtest did not finish")


def test_current_settings_from_the_first_reading_reproduce_the_recorded_verdicts(history):
    app, clock = history
    result = run(app.test_client(), {"sensor": "vibration", "from": T0 - 1, "to": clock.now + 1,
                                     "detector": "zscore", "settings": {}})
    assert result["readings"] == 181  # a reading at the start, then one a second
    assert result["current"]["anomalies"] == result["recorded_anomalies"] == result["proposed"]["anomalies"]
    assert result["settings"]["current"] == {"z_threshold": 3.0, "model_size": 30, "relearn_after": 30}


def test_a_lower_threshold_flags_more_catches_both_scenarios_and_beats_chance(history):
    app, clock = history
    result = run(app.test_client(), {"sensor": "vibration", "from": T0 - 1, "to": clock.now + 1,
                                     "detector": "zscore", "settings": {"z_threshold": 1.5}})
    current, proposed = result["current"], result["proposed"]
    assert proposed["anomalies"] > current["anomalies"]
    assert proposed["alerts"] >= 1 and proposed["alerts"] <= proposed["anomalies"]
    assert proposed["scenarios"]["events"] == 2 and proposed["scenarios"]["caught"] == 2
    assert current["scenarios"]["caught"] == 2
    assert result["chance"]["current"]["events"] == 2
    assert 0 < result["chance"]["current"]["expected_caught"] < current["scenarios"]["caught"]
    # Every reading is in exactly one hour and one shift.
    for side in ("current", "proposed"):
        assert sum(h[f"{side}_anomalies"] for h in result["hourly"]) == result[side]["anomalies"]
        assert sum(s[f"{side}_anomalies"] for s in result["shifts"]) == result[side]["anomalies"]
        assert sum(s[f"{side}_alerts"] for s in result["shifts"]) == result[side]["alerts"]
    assert sum(s["readings"] for s in result["shifts"]) == result["readings"]
    assert [s["name"] for s in result["shifts"]] == ["Early", "Late", "Night"]


def test_a_higher_threshold_flags_fewer(history):
    app, clock = history
    result = run(app.test_client(), {"sensor": "vibration", "from": T0 - 1, "to": clock.now + 1,
                                     "settings": {"z_threshold": 50}})
    assert result["proposed"]["anomalies"] < result["current"]["anomalies"]
    assert result["proposed"]["scenarios"]["caught"] <= result["current"]["scenarios"]["caught"]


@pytest.mark.parametrize("body, status, field", [
    ({"sensor": "nope", "from": T0}, 404, "sensor"),
    ({"from": T0}, 400, "sensor"),
    ({"sensor": "vibration"}, 400, "from"),
    ({"sensor": "vibration", "from": T0 + 100, "to": T0}, 400, "from"),
    ({"sensor": "vibration", "from": T0 - 5000, "to": T0 - 4000}, 400, "from"),
    ({"sensor": "vibration", "from": T0, "detector": "oracle"}, 400, "detector"),
    ({"sensor": "vibration", "from": T0, "settings": {"model_size": 1}}, 400, "model_size"),
    ({"sensor": "vibration", "from": T0, "settings": {"lstm_ratio": 2}}, 400, "lstm_ratio"),
    ({"sensor": "vibration", "from": T0, "detector": "lstm"}, 409, "detector"),
])
def test_bad_requests_name_the_field_and_start_nothing(history, body, status, field):
    app, _ = history
    client = app.test_client()
    response = client.post("/api/backtest", json={"to": T0 + 1000, **body})
    assert response.status_code == status and response.get_json()["field"] == field, response.get_json()
    assert client.get("/api/backtest/1").status_code == 404


def test_too_long_a_stretch_is_refused(tmp_path, history):
    app, clock = history
    app.config["BACKTEST_MAX_READINGS"] = 100
    response = app.test_client().post("/api/backtest", json={"sensor": "vibration", "from": T0 - 1,
                                                             "to": clock.now + 1})
    assert response.status_code == 400 and "at most 100" in response.get_json()["message"]


def test_shifts_wrap_over_midnight():
    shifts = core.parse_shifts("06:00 Early,14:00 Late,22:00 Night")
    midnight = time.mktime((2026, 11, 26, 0, 0, 0, 0, 0, -1))
    times = np.array([midnight + h * 3600 + 60 for h in (0, 5, 6, 13, 14, 21, 22, 23)])
    assert [shifts[i].name for i in core.shift_index(times, shifts)] == \
        ["Night", "Night", "Early", "Early", "Late", "Late", "Night", "Night"]
    with pytest.raises(ValueError, match="HH:MM"):
        core.parse_shifts("6 Early")


def test_lstm_rethreshold_scales_stored_thresholds():
    flags = core.lstm_flags([1.0, 2.0, None, 3.0], [1.5, 1.5, 1.5, None], 1.0)
    assert flags.tolist() == [False, True, False, False]
    assert core.lstm_flags([1.0, 2.0], [1.5, 1.5], 0.5).tolist() == [True, True]


def test_chance_is_one_minus_the_miss_probability_per_event():
    from helpers.core.evaluation.scorecard import Event
    times = np.arange(100.0)
    out = core.chance(0.1, times, [Event(1, "a", "spike", 10.0, 14.0)], grace_s=5.0)
    assert out["per_event"][0]["readings"] == 10
    assert out["expected_caught"] == pytest.approx(1 - 0.9 ** 10)
