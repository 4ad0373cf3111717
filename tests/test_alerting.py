"""States with hysteresis, alert rules with a clear condition and a cooldown, and the alarm lifecycle."""
import pytest

from helpers.core.alerts.rules import BurstWindow, Judged, SensorAlerts
from helpers.core.alerts.usage_state import HIGH, NORMAL, UsageState
from helpers.storage import alarms as store
from helpers.storage import line as line_store
from helpers.storage import readings as reading_store
from helpers.storage import scenarios as scenario_store
from helpers.storage import sessions as session_store
from tests.conftest import make_app
from tests.helpers_for_tests import FakeClock, drive, started_sampler

ENTER, EXIT, HOLD = 0.10, 0.05, 60.0
T0 = 1_800_000_000.0


# --- the state machine at its boundaries ---------------------------------------

def high_state():
    state = UsageState()
    assert state.update(0.0, 0.2, ENTER, EXIT, HOLD).to_state == HIGH
    return state


def test_entering_needs_a_ratio_strictly_above_the_enter_ratio():
    state = UsageState()
    assert state.update(0.0, ENTER, ENTER, EXIT, HOLD) is None and state.state == NORMAL
    change = state.update(1.0, ENTER + 1e-9, ENTER, EXIT, HOLD)
    assert change.to_state == HIGH and "rose above 10.0%" in change.reason


def test_leaving_needs_the_ratio_strictly_below_exit_for_the_whole_hold_time():
    state = high_state()
    assert state.update(10.0, EXIT, ENTER, EXIT, HOLD) is None          # at exit: not below it
    assert state.update(11.0, EXIT - 1e-9, ENTER, EXIT, HOLD) is None   # below: the hold starts
    assert state.update(11.0 + HOLD - 0.001, 0.0, ENTER, EXIT, HOLD) is None
    change = state.update(11.0 + HOLD, 0.0, ENTER, EXIT, HOLD)
    assert change.to_state == NORMAL and "for 60 s" in change.reason


def test_a_ratio_back_at_exit_restarts_the_hold():
    state = high_state()
    state.update(10.0, 0.01, ENTER, EXIT, HOLD)
    state.update(50.0, 0.07, ENTER, EXIT, HOLD)         # between exit and enter: stays high, hold resets
    assert state.update(75.0, 0.01, ENTER, EXIT, HOLD) is None
    assert state.update(75.0 + HOLD - 1, 0.01, ENTER, EXIT, HOLD) is None
    assert state.update(75.0 + HOLD, 0.01, ENTER, EXIT, HOLD).to_state == NORMAL


def test_between_the_two_ratios_nothing_changes_in_either_state():
    normal = UsageState()
    high = high_state()
    for t in range(200):
        assert normal.update(float(t), 0.08, ENTER, EXIT, HOLD) is None
        assert high.update(float(t), 0.08, ENTER, EXIT, HOLD) is None
    assert (normal.state, high.state) == (NORMAL, HIGH)


# --- burst and state alerts -----------------------------------------------------

RULES = {"high_usage_enter": 0.5, "high_usage_exit": 0.2, "high_usage_hold_s": 0.0, "alert_on_state": False,
         "alert_on_burst": True, "burst_count": 3, "burst_readings": 10, "burst_seconds": 0.0,
         "burst_clear_count": 0, "alert_cooldown_s": 100.0}


def feed(alerts, flags, start=0.0, settings=RULES):
    out = []
    for i, flag in enumerate(flags):
        out += alerts.observe(Judged(start + i, bool(flag), 0.0, {"value": 1.0}), settings)[1]
    return out


def test_a_burst_raises_once_and_clears_once_when_its_window_empties():
    alerts = SensorAlerts()
    events = feed(alerts, [1, 1, 1, 1, 1, 1] + [0] * 10)
    assert [(e.kind, e.t, e.notify) for e in events] == [("raise", 2.0, True), ("clear", 15.0, True)]
    assert events[0].numbers["count"] == 3 and events[0].reason == "3 anomalies in the last 10 readings"


def test_a_burst_inside_the_cooldown_is_recorded_but_not_sent_and_neither_is_its_clear():
    alerts = SensorAlerts()
    first = feed(alerts, [1, 1, 1] + [0] * 10)
    again = feed(alerts, [1, 1, 1] + [0] * 10, start=20.0)
    later = feed(alerts, [1, 1, 1], start=200.0)
    assert [e.notify for e in first] == [True, True]
    assert [(e.kind, e.notify) for e in again] == [("raise", False), ("clear", False)]
    assert [(e.kind, e.notify) for e in later] == [("raise", True)]


def test_a_seconds_window_fires_on_sparse_anomalies_the_readings_window_misses():
    settings = {**RULES, "burst_readings": 2, "burst_seconds": 30.0}
    events = feed(SensorAlerts(), [1, 0, 0, 1, 0, 0, 1], settings=settings)
    assert [(e.kind, e.t) for e in events] == [("raise", 6.0)] and "30 s" in events[0].reason


def test_the_burst_window_counts_exactly():
    window = BurstWindow()
    counts = [window.add(float(t), flag, 3, 2.5) for t, flag in enumerate([1, 0, 1, 1, 0, 0, 0])]
    assert counts == [(1, 1), (1, 1), (2, 2), (2, 2), (2, 2), (1, 1), (0, 0)]


def test_state_alerts_follow_the_state_and_honour_the_switch():
    settings = {**RULES, "alert_on_state": True, "alert_on_burst": False}
    alerts = SensorAlerts()
    change, events = alerts.observe(Judged(1.0, False, 0.6, {}), settings)
    assert change.to_state == HIGH and [(e.rule, e.kind) for e in events] == [("state", "raise")]
    change, events = alerts.observe(Judged(2.0, False, 0.1, {}), settings)
    assert change.to_state == NORMAL and [(e.rule, e.kind) for e in events] == [("state", "clear")]
    quiet = SensorAlerts()
    change, events = quiet.observe(Judged(1.0, False, 0.6, {}), {**settings, "alert_on_state": False})
    assert change.to_state == HIGH and events == []


# --- in the sampler, stored, and through the API --------------------------------

@pytest.fixture
def line(tmp_path):
    app = make_app(tmp_path, SAMPLER_AUTOSTART=False, SAMPLE_RATE_HZ=1.0, MODEL_SIZE=20)
    client = app.test_client()
    # The state and burst rules under test; the z-score's excursion alerts have tests of their own.
    client.post("/send_control", json={"anomaly_list_size": 20, "high_usage_hold_s": 5, "burst_count": 3,
                                       "burst_readings": 10, "alert_cooldown_s": 0, "alert_on_excursion": False})
    clock = FakeClock(T0)
    return app, client, clock, started_sampler(app, clock)


def inject(app, clock, sensor="vibration", seconds=15.0, kind="level_shift", magnitude=8.0):
    with app.app_context():
        started = session_store.current_session().started_at
        scenario_store.create_scenario(line_store.sensor_by_name(sensor), kind, magnitude, clock.now + 1 - started,
                                seconds, clock.now)


def test_no_state_or_alarm_while_learning_then_a_fault_raises_both_and_they_clear(line):
    app, client, clock, sampler = line
    # z > 5 on vibration: the 8-std shifts stand out, while a chance triple of |z| > 3 after the fault (a
    # 20-reading model has heavy tails) would be a new burst that has not cleared yet.
    client.post("/send_control", json={"sensor": "vibration", "z_threshold": 5.0})
    inject(app, clock, seconds=10.0)  # inside the 20-reading learning period: nothing may fire
    drive(app, sampler, clock, 15.0, tick=0.5)
    assert client.get("/api/alarms").get_json()["alarms"] == []
    drive(app, sampler, clock, 20.0, tick=0.5)
    inject(app, clock, seconds=12.0)
    drive(app, sampler, clock, 15.0, tick=0.5)
    states = client.get("/api/states").get_json()
    assert states["sensors"]["vibration"]["state"] == HIGH
    assert states["sensors"]["energy_use"]["state"] == NORMAL
    change = states["timeline"][-1] if states["timeline"][-1]["target"] == "vibration" else \
        next(c for c in states["timeline"] if c["target"] == "vibration")
    assert change["to"] == HIGH and "rose above" in change["reason"]
    # Only vibration's alarms: a 20-reading model on the other sensors can raise (and clear) a chance burst.
    alarms = [a for a in client.get("/api/alarms").get_json()["alarms"] if a["sensor"] == "vibration"]
    assert {a["rule"] for a in alarms} >= {"burst", "state"}
    assert all(a["lifecycle"] == "unacknowledged" for a in alarms), alarms
    # After the fault: the ratio decays, the state holds 5 s below exit, then everything clears.
    drive(app, sampler, clock, 60.0, tick=0.5)
    assert client.get("/api/states").get_json()["sensors"]["vibration"]["state"] == NORMAL
    alarms = client.get("/api/alarms").get_json()["alarms"]
    assert all(a["status"] == "cleared" and a["lifecycle"] == "cleared_unacknowledged"
               for a in alarms if a["sensor"] == "vibration"), (alarms, recent_flags(app, clock))


def recent_flags(app, clock, sensor="vibration", seconds=90.0):
    """(t, value, z, anomaly) of the sensor's last readings: what a failed clearing assertion needs to be read."""
    with app.app_context():
        rows = reading_store.readings_since_time(line_store.sensor_by_name(sensor).id, clock.now - seconds)
    return [(round(r["t"] - T0, 1), round(r["value"], 2), r.get("z") and round(r["z"], 2), r["anomaly"])
            for r in rows]


def test_acknowledge_classify_and_real_faults_stay_out_of_training_data(line):
    app, client, clock, sampler = line
    drive(app, sampler, clock, 30.0, tick=0.5)
    inject(app, clock, seconds=12.0)
    drive(app, sampler, clock, 15.0, tick=0.5)
    alarm = next(a for a in client.get("/api/alarms").get_json()["alarms"] if a["sensor"] == "vibration")
    assert client.post(f"/api/alarms/{alarm['id']}/ack", json={"note": "x"}).get_json()["field"] == "by"
    acked = client.post(f"/api/alarms/{alarm['id']}/ack", json={"by": "Ana", "note": "checking the bearing"})
    assert acked.status_code == 200 and acked.get_json()["lifecycle"] == "acknowledged"
    assert acked.get_json()["acked_by"] == "Ana"
    assert client.post(f"/api/alarms/{alarm['id']}/ack", json={"by": "Bo"}).status_code == 409
    bad = client.post(f"/api/alarms/{alarm['id']}/classify", json={"by": "Ana", "classification": "maybe"})
    assert bad.status_code == 400 and bad.get_json()["field"] == "classification"
    marked = client.post(f"/api/alarms/{alarm['id']}/classify", json={"by": "Ana", "classification": "real_fault"})
    assert marked.get_json()["classification"] == "real_fault"
    assert client.get("/api/scorecard").get_json()["operator_marks"]["real_fault"] == 1
    with app.app_context():
        sensor = line_store.sensor_by_name(alarm["sensor"])
        spans = store.real_fault_spans(sensor.id, clock.now)
        values, excluded, first_t, last_t = reading_store.training_readings(sensor.id, None, None, 10_000)
        rows = reading_store.readings_since_time(sensor.id, 0)
    inside = [r for r in rows if spans[0][0] <= r["t"] <= spans[0][1]]
    assert inside and len(values) <= len(rows) - len(inside)


def test_a_shelved_sensor_and_a_maintenance_window_record_alarms_without_sending(line):
    app, client, clock, sampler = line
    drive(app, sampler, clock, 30.0, tick=0.5)
    import time as real_time
    shelf = client.post("/api/shelves", json={"sensor": "vibration", "minutes": 60, "by": "Ana", "reason": "repair"})
    assert shelf.status_code == 201
    # Shelves and windows are real-time; the fake clock runs in 2027, so cover it explicitly.
    with app.app_context():
        store.add_maintenance(line_store.sensor_by_name("pressure").id, clock.now - 1, clock.now + 3600, "pump swap",
                              "Bo", real_time.time())
        shelf_row = store.db.session.get(store.Shelf, shelf.get_json()["id"])
        shelf_row.created_at, shelf_row.until = clock.now - 1, clock.now + 3600
        store.db.session.commit()
    inject(app, clock, "vibration", seconds=12.0)
    inject(app, clock, "pressure", seconds=12.0)
    drive(app, sampler, clock, 15.0, tick=0.5)
    alarms = client.get("/api/alarms").get_json()["alarms"]
    by_sensor = {a["sensor"]: a for a in alarms if a["rule"] == "burst"}
    assert not by_sensor["vibration"]["notify"] and "shelved by Ana" in by_sensor["vibration"]["suppressed"]
    assert not by_sensor["pressure"]["notify"] and "maintenance window by Bo" in by_sensor["pressure"]["suppressed"]


@pytest.mark.parametrize("path, body, field", [
    ("/api/shelves", {"sensor": "vibration", "minutes": 0, "by": "a"}, "minutes"),
    ("/api/shelves", {"sensor": "nope", "minutes": 5, "by": "a"}, "sensor"),
    ("/api/shelves", {"sensor": "vibration", "minutes": 5}, "by"),
    ("/api/maintenance", {"ends_at": 1.0, "by": "a"}, "ends_at"),
    ("/api/maintenance", {"by": "a"}, "ends_at"),
])
def test_bad_alarm_requests_name_the_field(client, path, body, field):
    response = client.post(path, json=body)
    assert response.status_code in (400, 404) and response.get_json()["field"] == field


def test_the_flood_indicator_counts_the_last_ten_minutes(line):
    app, client, clock, sampler = line
    flood = client.get("/api/alarms").get_json()["flood"]
    assert flood == {"last_10_min": 0, "limit": 10, "flood": False}


def test_the_exit_ratio_must_stay_below_the_enter_ratio(client):
    bad = client.post("/send_control", json={"high_usage_exit": 0.2})
    assert bad.status_code == 400 and bad.get_json()["field"] == "high_usage_exit"
    bad = client.post("/send_control", json={"sensor": "vibration", "high_usage_enter": 0.05})
    assert bad.status_code == 400 and bad.get_json()["field"] == "high_usage_enter"
    both = client.post("/send_control", json={"high_usage_enter": 0.3, "high_usage_exit": 0.2})
    assert both.status_code == 200
    assert client.get("/get_control").get_json()["high_usage_exit"] == 0.2
