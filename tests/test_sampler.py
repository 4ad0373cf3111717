"""The sampler: rates, settings taking effect, re-baseline, restart, scenarios, faults, and the lease."""
from __future__ import annotations

import logging
import threading
import time

import pytest
from sqlalchemy import func, select

from helpers.core.line.simulator import DEFAULT_SENSORS, LineSimulator
from helpers.runtime import service
from helpers.runtime.sampler import Sampler
from helpers.storage import line as line_store
from helpers.storage import readings as reading_store
from helpers.storage import scenarios as scenario_store
from helpers.storage import sessions as session_store
from helpers.storage.db import db
from helpers.storage.models import BaselineEvent, Reading
from tests.conftest import make_app
from tests.helpers_for_tests import FakeClock, drive, started_sampler

T0 = 1_800_000_000.0


def counts(app):
    with app.app_context():
        rows = db.session.execute(select(Reading.sensor_id, func.count()).group_by(Reading.sensor_id))
        names = {s.id: s.name for s in line_store.all_sensors()}
        return {names[sid]: n for sid, n in rows}


@pytest.fixture
def clock():
    return FakeClock(T0)


@pytest.fixture
def sampler(app, clock):
    return started_sampler(app, clock)


def latest(app, sensor, n=1):
    with app.app_context():
        return reading_store.latest_readings(line_store.sensor_by_name(sensor).id, n)


def test_each_sensor_gets_readings_at_its_own_rate_including_50_hz(app, client, clock, sampler):
    client.post("/send_control", json={"sensor": "vibration", "sample_rate_hz": 50})
    client.post("/send_control", json={"sample_rate_hz": 2})
    drive(app, sampler, clock, 10.0)
    got = counts(app)
    assert got["vibration"] in (500, 501, 502)
    assert all(got[name] in (20, 21, 22) for name in ("motor_temperature", "energy_use", "pressure"))
    ts = [r["t"] for r in latest(app, "vibration", 100)]
    assert all(abs((b - a) - 0.02) < 1e-6 for a, b in zip(ts, ts[1:]))


def test_a_control_change_takes_effect_at_the_next_reading(app, client, clock, sampler):
    client.post("/send_control", json={"model_size": 5})
    drive(app, sampler, clock, 10.0)
    assert latest(app, "pressure")[0]["threshold"] == 3.0
    client.post("/send_control", json={"z_threshold": 4.2})
    drive(app, sampler, clock, 1.0)
    assert latest(app, "pressure")[0]["threshold"] == 4.2


def test_stopping_produces_nothing_and_restarting_does_not_burst(app, client, clock, sampler):
    drive(app, sampler, clock, 3.0)
    before = counts(app)
    client.post("/send_control", json={"running": False})
    drive(app, sampler, clock, 30.0)
    assert counts(app) == before
    client.post("/send_control", json={"running": True})
    drive(app, sampler, clock, 2.0)
    assert all(n - before[name] in (2, 3) for name, n in counts(app).items())


def test_rebaseline_restarts_the_model_and_is_recorded(app, client, clock, sampler):
    client.post("/send_control", json={"model_size": 10})
    drive(app, sampler, clock, 15.0)
    assert latest(app, "vibration")[0]["baseline_state"] == "tracking"
    client.post("/send_control", json={"rebaseline": "vibration"})
    drive(app, sampler, clock, 3.0)
    newest = latest(app, "vibration", 3)
    assert [r["baseline_state"] for r in newest] == ["learning"] * 3
    assert newest[0]["completeness"] == 10.0
    assert latest(app, "pressure")[0]["completeness"] == 100.0
    with app.app_context():
        event = db.session.scalar(select(BaselineEvent).where(BaselineEvent.kind == "rebaseline"))
        assert event.applied_at is not None and event.applied_at >= event.requested_at - 1


def test_after_a_restart_the_model_is_rebuilt_from_history(app, client, clock, sampler):
    client.post("/send_control", json={"model_size": 20})
    drive(app, sampler, clock, 40.0)
    before = sampler.monitors[1]
    restarted = started_sampler(app, clock, LineSimulator(DEFAULT_SENSORS, seed=2))
    after = restarted.monitors[1]
    assert after.detector.completeness == 100.0 and after.detector.state == before.detector.state
    assert list(after.detector._model.values) == list(before.detector._model.values)
    assert after.ratio.ratio == before.ratio.ratio
    drive(app, restarted, clock, 1.0)
    assert latest(app, "vibration")[0]["completeness"] == 100.0


def test_injected_scenario_is_ground_truth_on_its_readings_and_gets_caught(app, clock, sampler):
    app.test_client().post("/send_control", json={"model_size": 30})
    drive(app, sampler, clock, 40.0)
    with app.app_context():
        sensor = line_store.sensor_by_name("energy_use")
        offset = clock.now + 0.5 - session_store.current_session().started_at
        scenario = scenario_store.create_scenario(sensor, "level_shift", 6.0, offset, 10.0, clock.now)
        scenario_id, starts_at, ends_at = scenario.id, scenario.starts_at, scenario.ends_at
    drive(app, sampler, clock, 15.0)
    rows = latest(app, "energy_use", 15)
    inside = [r for r in rows if starts_at <= r["t"] < ends_at]
    assert len(inside) == 10 and all(r["scenario_id"] == scenario_id for r in inside)
    assert all(r["scenario_id"] is None for r in rows if r not in inside)
    assert sum(r["anomaly"] for r in inside) >= 8


def test_a_failing_reading_is_logged_and_the_line_goes_on(app, clock, caplog):
    class FlakySource(LineSimulator):
        def sample(self, sensor, t, anomaly_level=0.0, scenario=None):
            if sensor == "pressure" and int(t) % 2 == 0:
                raise RuntimeError("sensor bus glitch")
            return super().sample(sensor, t, anomaly_level, scenario)

    flaky = started_sampler(app, clock, FlakySource(DEFAULT_SENSORS, seed=1))
    with caplog.at_level(logging.ERROR):
        drive(app, flaky, clock, 10.0)
    got = counts(app)
    assert got["vibration"] in (10, 11) and 4 <= got["pressure"] <= 6
    assert "sensor bus glitch" in caplog.text


def test_the_loop_survives_a_failing_step(app):
    class OnceBroken(Sampler):
        failures = 0

        def step(self):
            if self.failures == 0:
                self.failures += 1
                raise RuntimeError("database hiccup")
            return super().step()

    app.test_client().post("/send_control", json={"sample_rate_hz": 20})
    stop = threading.Event()
    sampler = OnceBroken(app, LineSimulator(DEFAULT_SENSORS, seed=1))
    thread = threading.Thread(target=sampler.run, args=(stop,))
    thread.start()
    try:
        deadline = time.time() + 10
        while time.time() < deadline and sum(counts(app).values()) < 40:
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(10)
    assert sampler.failures == 1 and sum(counts(app).values()) >= 40


def test_two_candidates_sample_once_and_the_second_takes_over(tmp_path):
    app = make_app(tmp_path, SAMPLER_LEASE_SECONDS=1.0, SAMPLER_HEARTBEAT_SECONDS=0.2)
    app.test_client().post("/send_control", json={"sample_rate_hz": 10})
    stops = [threading.Event(), threading.Event()]
    samplers = [Sampler(app, LineSimulator(DEFAULT_SENSORS, seed=i)) for i in range(2)]
    threads = [threading.Thread(target=s.run, args=(e,)) for s, e in zip(samplers, stops)]
    for th in threads:
        th.start()
    try:
        time.sleep(3.0)
        first = counts(app)
        assert max(first.values()) <= 10 * 3.0 + 3, "one sampler, not two"
        holder = next(i for i, s in enumerate(samplers) if s.readings_stored)
        stops[holder].set()
        threads[holder].join(10)
        time.sleep(3.0)
        other = samplers[1 - holder]
        assert other.readings_stored > 0, "the standby took over the lease"
    finally:
        for e in stops:
            e.set()
        for th in threads:
            th.join(10)


def test_app_starts_its_sampler_on_first_request_and_readings_arrive(tmp_path):
    app = make_app(tmp_path, SAMPLER_AUTOSTART=True, SAMPLE_RATE_HZ=20.0, MODEL_SIZE=10)
    client = app.test_client()
    try:
        client.get("/healthz")
        deadline = time.time() + 10
        points = []
        while time.time() < deadline:
            points = client.get("/get_data?sensor=vibration&window=100").get_json()["points"]
            if len(points) >= 20:
                break
            time.sleep(0.2)
        assert len(points) >= 20
        assert points[-1]["baseline_state"] in ("tracking", "excluding")
        assert client.get("/healthz").status_code == 200
    finally:
        service.stop_running()


def test_the_lease_passes_to_a_second_candidate_once_the_holder_stops_renewing_it(tmp_path):
    """``hold_lease`` without the loop: one holder at a time, taken over after the lease expires, the loser's
    unsaved readings dropped (storing them would duplicate what the new holder samples)."""
    app = make_app(tmp_path, SAMPLER_LEASE_SECONDS=5.0, SAMPLER_HEARTBEAT_SECONDS=1.0, SAMPLER_FLUSH_SECONDS=60.0)
    clock = FakeClock(1_800_000_000.0)
    first, second = (Sampler(app, LineSimulator(DEFAULT_SENSORS, seed=i), clock=clock) for i in (1, 2))
    with app.app_context():
        assert first.hold_lease(clock()) is True and first.monitors  # taking it started the sampler
        assert second.hold_lease(clock()) is False
        clock.advance(0.5)
        first.step()
        assert first._buffer  # judged, not stored yet
        clock.advance(6.0)  # the first did not renew within the lease's 5 s
        assert second.hold_lease(clock()) is True
        assert first.hold_lease(clock()) is False and first._buffer == [] and not first.holding


def test_chores_thin_old_readings_without_the_loop(tmp_path):
    """``chores`` is callable on its own: with retention due, readings past RETENTION_RAW_DAYS become rollups."""
    app = make_app(tmp_path, RETENTION_RAW_DAYS=1.0)
    clock = FakeClock(1_800_000_000.0)
    sampler = started_sampler(app, clock)
    drive(app, sampler, clock, 5.0)
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(Reading))
        assert before > 0
        sampler.chores(clock() + 2 * 86_400.0)  # two days on, every stored reading is past its raw days
        assert db.session.scalar(select(func.count()).select_from(Reading)) == 0
        assert sampler.retention.thinned == before
