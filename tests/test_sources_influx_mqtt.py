"""The InfluxDB and MQTT pull sources against a real InfluxDB 1.x and Mosquitto on 127.0.0.1, through the runner."""
from __future__ import annotations

import json
import time

import pytest
from paho.mqtt import client as mqtt
from sqlalchemy import select

from helpers.runtime.sources.base import SourceError
from helpers.runtime.sources.influxdb import InfluxDB
from helpers.runtime.sources.mqtt import Mqtt
from helpers.runtime.sources.runner import SourceWorker
from helpers.storage import line as line_store
from helpers.storage import readings as reading_store
from helpers.storage import source_configs as configs
from helpers.storage.db import db
from helpers.storage.models import IngestBatch
from tests.conftest import make_app
from tests.helpers_for_tests import FakeClock, started_sampler
from tests.influxdb_server import InfluxServer
from tests.mosquitto_server import PASSWORD, USER, MosquittoServer

T0 = 1_800_000_000.0
T0_MS = int(T0 * 1000)
WAIT_S = 5.0


@pytest.fixture(scope="session")
def influx():
    """A throwaway InfluxDB 1.x on 127.0.0.1, started from Debian's influxd."""
    server = InfluxServer.start_or_skip()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def broker():
    """A throwaway Mosquitto on 127.0.0.1: one anonymous listener, one with a password file."""
    server = MosquittoServer.start_or_skip()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def clock():
    return FakeClock(T0)


def queued(app):
    """Every queued reading as (sensor name, t, value)."""
    with app.app_context():
        names = {s.id: s.name for s in line_store.all_sensors()}
        return [(names[sid], t, v) for batch in db.session.scalars(select(IngestBatch.rows).order_by(IngestBatch.id))
                for sid, t, v in json.loads(batch)]


def status(app, kind):
    with app.app_context():
        return configs.status(kind)


# --- InfluxDB -------------------------------------------------------------------

def influx_setup(client, influx, request, **changes):
    database = influx.fresh_database(request.node.name[:60])
    config = {"url": influx.url, "database": database, "measurement": "machines", **changes}
    response = client.put("/api/sources/influxdb", json=config)
    assert response.status_code == 200, response.get_json()
    return database


def points(seconds_before, sensors=("press", "oven")):
    """Line protocol: one point per sensor at each of T0 - s, value 10 * s + the sensor's index."""
    return [f"machines,sensor={name},site=a value={10 * s + i:.1f} {T0_MS - s * 1000}"
            for s in seconds_before for i, name in enumerate(sensors)]


def test_influxdb_settings_are_checked_whole_and_the_password_never_shown(client):
    for body, field in (({"url": "ftp://x"}, "url"), ({"interval_s": 0.5}, "interval_s"),
                        ({"measurement": "m", "write_measurement": "m"}, "write_measurement"),
                        ({"sensor_tag": "", "field": "temp"}, "field"), ({"port": 1}, "port")):
        response = client.put("/api/sources/influxdb", json=body)
        assert response.status_code == 400 and response.get_json()["field"] == field, body
    saved = client.put("/api/sources/influxdb", json={"url": "http://db:8086/", "password": "pw", "database": "d",
                                                       "measurement": "m"}).get_json()["config"]
    assert saved["url"] == "http://db:8086" and saved["password_set"] and "password" not in saved
    assert saved["interval_s"] == 60.0 and saved["write_measurement"] == "linewatch_verdicts"
    kept = client.put("/api/sources/influxdb", json={"database": "d", "measurement": "m"}).get_json()["config"]
    assert kept["password_set"]  # a secret left out keeps its value


def test_influxdb_points_become_readings_and_the_next_poll_reads_only_new_ones(app, client, influx, request, clock):
    database = influx_setup(client, influx, request, write_measurement="")
    untagged = f"machines,site=a value=1 {T0_MS - 5000}"  # no sensor tag: left out
    influx.write(database, points([30, 20, 10]) + [untagged])
    worker = SourceWorker(app, "influxdb", clock)
    with app.app_context():
        assert worker.step() == 6
    assert sorted(queued(app)) == [("oven", T0 - 30, 301.0), ("oven", T0 - 20, 201.0), ("oven", T0 - 10, 101.0),
                                   ("press", T0 - 30, 300.0), ("press", T0 - 20, 200.0), ("press", T0 - 10, 100.0)]
    assert worker.next_try == T0 + 60  # read each sensor's new points every interval_s
    influx.write(database, points([-30]))  # stamped after this clock's now: read once its time has come
    with app.app_context():
        clock.advance(20)
        assert worker.step() == 0  # not due yet
        clock.advance(40)
        assert worker.step() == 2
    assert sorted(queued(app)[-2:]) == [("oven", T0 + 30, -299.0), ("press", T0 + 30, -300.0)]
    state = status(app, "influxdb")
    assert state["state"] == "running" and state["readings_total"] == 8 and state["lag_s"] == 30.0


def test_influxdb_without_a_sensor_tag_reads_each_field_as_a_sensor(influx, request, clock):
    database = influx.fresh_database(request.node.name[:60])
    influx.write(database, [f"line1 temp=70.5,pressure=2.5,status=\"ok\" {T0_MS - 2000}",
                            f"line1 temp=71 {T0_MS - 1000}"])
    config = InfluxDB.validate({"url": influx.url, "database": database, "measurement": "line1", "sensor_tag": "",
                                "write_measurement": "", "lookback_s": 60}, {})
    source = InfluxDB(config, clock)
    assert sorted(source.poll()) == [("pressure", T0 - 2, 2.5), ("temp", T0 - 2, 70.5), ("temp", T0 - 1, 71.0)]
    assert source.poll() == []
    assert "3 reading(s) of 2 sensor(s) (pressure, temp)" in InfluxDB(config, clock).test()
    missing = InfluxDB({**config, "database": "nowhere"}, clock)
    with pytest.raises(SourceError, match="database not found: nowhere"):
        missing.poll()


def test_influxdb_with_authentication_wants_the_right_password(client):
    server = InfluxServer.start_or_skip(admin=("linewatch", "pa55-word"))
    try:
        server.fresh_database("plant")
        now_ms = int(time.time() * 1000)  # the connection test runs on the real clock
        server.write("plant", [f"machines,sensor=press value=1 {now_ms - 10_000}",
                               f"machines,sensor=oven value=2 {now_ms - 10_000}"])
        config = {"url": server.url, "database": "plant", "measurement": "machines", "username": "linewatch"}
        wrong = client.post("/api/sources/influxdb/test", json={**config, "password": "guess"}).get_json()
        assert "InfluxDB refused the username or password (401: authorization failed)" in wrong["message"]
        anonymous = client.post("/api/sources/influxdb/test", json={**config, "username": ""}).get_json()
        assert "401" in anonymous["message"]
        right = client.post("/api/sources/influxdb/test", json={**config, "password": "pa55-word"}).get_json()
        assert right["ok"] and "2 reading(s) of 2 sensor(s) (oven, press)" in right["message"]
        assert "verdicts go to linewatch_verdicts" in right["message"]
    finally:
        server.close()


def verdicts_in_influx(influx, database):
    return influx.rows(database, 'SELECT * FROM "linewatch_verdicts" GROUP BY "sensor"')


def stored(app, sensor):
    with app.app_context():
        return reading_store.latest_readings(line_store.sensor_by_name(sensor).id, 1000)


def read_and_judge(app, client, worker, sampler, clock):
    with app.app_context():
        count = worker.step()
        sampler.step()
        sampler.flush()
    return count


def test_influxdb_gets_the_verdicts_back_once_the_sampler_judged_them(tmp_path, influx, request, clock):
    app = make_app(tmp_path, MODEL_SIZE=10)  # a z-score after ten readings
    client = app.test_client()
    database = influx_setup(client, influx, request)
    client.post("/send_control", json={"source": "influxdb"})
    influx.write(database, points(range(40, 0, -1)))
    sampler = started_sampler(app, clock)
    worker = SourceWorker(app, "influxdb", clock)
    assert read_and_judge(app, client, worker, sampler, clock) == 80
    assert verdicts_in_influx(influx, database) == []  # judged after the read: written back at the next poll
    clock.advance(60)
    with app.app_context():
        assert worker.step() == 0
    written = verdicts_in_influx(influx, database)
    assert len(written) == 80
    press = [row for row in written if row["sensor"] == "press"]
    expected = sorted(stored(app, "press"), key=lambda r: r["t"])
    assert [row["time"] / 1000 for row in press] == [r["t"] for r in expected]
    assert [row["value"] for row in press] == [r["value"] for r in expected]
    assert [row["anomaly"] for row in press] == [r["anomaly"] for r in expected]
    assert [row["anomaly_ratio"] for row in press] == pytest.approx([r["anomaly_ratio"] for r in expected])
    assert [row.get("z") for row in press] == pytest.approx([r["z"] for r in expected])  # None while learning
    assert any(row.get("z") is not None for row in press)
    clock.advance(60)
    with app.app_context():
        worker.step()
    assert len(verdicts_in_influx(influx, database)) == 80  # each verdict once


def test_a_failed_write_back_is_reported_and_retried_without_losing_verdicts(app, client, influx, request, clock):
    database = influx_setup(client, influx, request)
    client.post("/send_control", json={"source": "influxdb"})
    # A string "value" makes every float value a field type conflict: InfluxDB refuses the writes.
    influx.write(database, points([30, 20, 10]) + [f'linewatch_verdicts,sensor=blocker value="x" {T0_MS - 3600_000}'])
    sampler = started_sampler(app, clock)
    worker = SourceWorker(app, "influxdb", clock)
    read_and_judge(app, client, worker, sampler, clock)
    influx.write(database, points([-5]))
    clock.advance(60)
    with app.app_context():
        assert worker.step() == 2  # the readings still flow
    state = status(app, "influxdb")
    assert state["state"] == "running" and "writing the verdicts back failed" in state["last_error"]
    assert "field type conflict" in state["last_error"]
    influx.query('DROP MEASUREMENT "linewatch_verdicts"', database)
    with app.app_context():
        sampler.step()
        sampler.flush()
        clock.advance(60)
        worker.step()
    assert len(verdicts_in_influx(influx, database)) == 8


def test_a_stopped_influxdb_backs_off_and_gets_the_verdicts_once_it_is_back(app, client, influx, request, clock):
    database = influx_setup(client, influx, request)
    client.post("/send_control", json={"source": "influxdb"})
    influx.write(database, points([30, 20, 10]))
    sampler = started_sampler(app, clock)
    worker = SourceWorker(app, "influxdb", clock)
    read_and_judge(app, client, worker, sampler, clock)
    influx.stop()
    try:
        clock.advance(60)
        with app.app_context():
            assert worker.step() == 0
            assert worker.step(clock.now + 0.5) == 0  # backing off: not tried again yet
        state = status(app, "influxdb")
        assert state["state"] == "backing_off" and worker.next_try == clock.now + 1
        assert f"InfluxDB at {influx.url} did not answer" in state["last_error"]
        assert "refused" in state["last_error"].lower()
    finally:
        influx.start()
    clock.now = worker.next_try
    with app.app_context():
        assert worker.step() == 0  # the restarted source reads its lookback again; the queue has those
    assert status(app, "influxdb")["state"] == "running"
    written = verdicts_in_influx(influx, database)
    assert sorted((row["sensor"], row["time"]) for row in written) == sorted(
        (name, T0_MS - s * 1000) for s in (30, 20, 10) for name in ("press", "oven"))


# --- MQTT -------------------------------------------------------------------------

def mqtt_config(broker, **changes):
    return Mqtt.validate({"host": "127.0.0.1", "port": broker.port, **changes}, {})


def publish(broker, messages, qos=1):
    """Publish ``(topic, payload)`` pairs and wait until the broker has each."""
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    publisher.connect("127.0.0.1", broker.port)
    publisher.loop_start()
    try:
        for topic, payload in messages:
            publisher.publish(topic, payload, qos=qos).wait_for_publish(WAIT_S)
    finally:
        publisher.disconnect()
        publisher.loop_stop()


def step_until(app, worker, clock, want, timeout=WAIT_S):
    """Step the worker (one fake second apart) until ``want`` readings were queued in all; the count."""
    total, deadline = 0, time.monotonic() + timeout
    with app.app_context():
        while total < want and time.monotonic() < deadline:
            clock.now = max(clock.now + 1, worker.next_try)
            total += worker.step()
            time.sleep(0.02)
    return total


def test_mqtt_settings_are_checked(client):
    for body, field in (({"topics": []}, "topics"), ({"topics": "a/#/b"}, "topics"), ({"topics": ["a/b+"]}, "topics"),
                        ({"mode": "xml"}, "mode"), ({"qos": 2}, "qos"), ({"port": 70000}, "port"),
                        ({"topic_sensors": {"a": 1}}, "topic_sensors"), ({"buffer_size": 0}, "buffer_size")):
        response = client.put("/api/sources/mqtt", json=body)
        assert response.status_code == 400 and response.get_json()["field"] == field, body
    saved = client.put("/api/sources/mqtt", json={"topics": "plant/+/temp, plant/press/#", "password": "pw"})
    config = saved.get_json()["config"]
    assert config["topics"] == ["plant/+/temp", "plant/press/#"] and config["password_set"]
    assert config["port"] == 1883 and config["mode"] == "topic" and config["qos"] == 0


def test_mqtt_topic_mode_one_sensor_per_topic_and_a_malformed_payload_is_reported(app, client, broker, clock):
    client.put("/api/sources/mqtt", json={"port": broker.port, "topics": "plant/#", "qos": 1,
                                          "topic_sensors": {"plant/line1/temp": "oven_temp"}})
    worker = SourceWorker(app, "mqtt", clock)
    with app.app_context():
        assert worker.step() == 0  # connected and subscribed
    assert status(app, "mqtt")["state"] == "running"
    publish(broker, [("plant/press/force", b"21.5"), ("plant/press/force", b"on"),
                     ("plant/line1/temp", json.dumps({"value": 180, "timestamp": T0 - 5}).encode()),
                     ("plant/pump/flow", json.dumps({"value": "3.5"}).encode())])
    assert step_until(app, worker, clock, 3) == 3
    rows = sorted(queued(app))
    assert [(name, value) for name, _, value in rows] == [("flow", 3.5), ("force", 21.5), ("oven_temp", 180.0)]
    assert rows[2][1] == T0 - 5 and rows[0][1] >= T0  # its own timestamp; else the arrival time
    state = status(app, "mqtt")
    assert state["state"] == "running" and state["readings_total"] == 3
    assert "1 malformed message(s) left out" in state["last_error"] and "plant/press/force" in state["last_error"]
    assert "'on' is not a number or JSON" in state["last_error"]
    worker.source.close()


def test_mqtt_json_mode_payloads_name_their_sensors(app, broker, clock):
    source = Mqtt(mqtt_config(broker, topics=["lines/+/readings"], mode="json"), clock)
    try:
        assert source.poll() == []
        publish(broker, [("lines/3/readings", json.dumps({"value": 9}).encode()),
                         ("lines/1/readings", json.dumps({"sensor": "oven", "value": 1.5}).encode()),
                         ("lines/2/readings", json.dumps([{"sensor": "press", "value": 2, "timestamp": T0 - 3},
                                                          {"sensor": "pump", "value": -1,
                                                           "timestamp": "2027-01-15T07:59:58Z"}]).encode()),
                         ("lines/3/readings", json.dumps({"readings": [{"sensor": "fan", "value": 0,
                                                                        "timestamp": T0_MS - 1000}]}).encode()),
                         ("elsewhere", b'{"sensor": "x", "value": 1}')])
        got, deadline = [], time.monotonic() + WAIT_S
        with app.app_context():
            while len(got) < 4 and time.monotonic() < deadline:
                got += source.poll()
                time.sleep(0.02)
            state = configs.status("mqtt")
        assert sorted(got) == [("fan", T0 - 1, 0.0), ("oven", T0, 1.5), ("press", T0 - 3, 2.0),
                               ("pump", T0 - 2, -1.0)]
        assert 'expected {"sensor", "value", "timestamp"?}' in state["last_error"]
    finally:
        source.close()


def test_mqtt_keeps_a_bounded_buffer_dropping_the_oldest(app, broker, clock):
    source = Mqtt(mqtt_config(broker, topics=["burst"], mode="json", buffer_size=3), clock)
    try:
        source.poll()
        publish(broker, [("burst", json.dumps([{"sensor": "s", "value": v, "timestamp": T0 + v}
                                               for v in range(5)]).encode())])
        got, deadline = [], time.monotonic() + WAIT_S
        with app.app_context():
            while not got and time.monotonic() < deadline:
                got = source.poll()
                time.sleep(0.02)
            state = configs.status("mqtt")
        assert [r.value for r in got] == [2.0, 3.0, 4.0]
        assert "the buffer was full: 2 oldest reading(s) dropped" in state["last_error"]
    finally:
        source.close()


def test_mqtt_wants_the_right_password(client, broker):
    wrong = client.post("/api/sources/mqtt/test", json={"port": broker.auth_port, "username": USER,
                                                        "password": "nope"})
    assert wrong.status_code == 502 and "refused the connection: Not authorized" in wrong.get_json()["message"]
    right = client.post("/api/sources/mqtt/test", json={"port": broker.auth_port, "username": USER,
                                                        "password": PASSWORD, "topics": "plant/#"})
    assert right.get_json() == {"ok": True, "message": f"connected to 127.0.0.1:{broker.auth_port}, "
                                                       f"subscribed to plant/#"}


def test_a_restarted_broker_is_reported_then_received_from_again(app, client, broker, clock):
    client.put("/api/sources/mqtt", json={"port": broker.port, "topics": "restart/#"})
    worker = SourceWorker(app, "mqtt", clock)
    with app.app_context():
        worker.step()
    publish(broker, [("restart/a", b"1")])
    assert step_until(app, worker, clock, 1) == 1
    broker.stop()
    try:
        deadline = time.monotonic() + WAIT_S
        with app.app_context():
            while status(app, "mqtt")["state"] != "backing_off" and time.monotonic() < deadline:
                clock.now = max(clock.now + 1, worker.next_try)
                worker.step()
                time.sleep(0.02)
        state = status(app, "mqtt")
        assert state["state"] == "backing_off"
        assert f"broker at 127.0.0.1:{broker.port}" in state["last_error"]
    finally:
        broker.start()
    deadline = time.monotonic() + WAIT_S
    with app.app_context():
        while status(app, "mqtt")["state"] != "running" and time.monotonic() < deadline:
            clock.now = worker.next_try
            worker.step()
            time.sleep(0.02)
    assert status(app, "mqtt")["state"] == "running"
    publish(broker, [("restart/a", b"2")])
    assert step_until(app, worker, clock, 1) == 1
    assert [v for _, _, v in queued(app)] == [1.0, 2.0]
    worker.source.close()


def test_paho_reconnects_the_same_source_when_the_broker_comes_back(broker, clock):
    source = Mqtt(mqtt_config(broker, topics=["again"]), clock)
    try:
        source.poll()
        broker.stop()
        try:
            deadline = time.monotonic() + WAIT_S
            with pytest.raises(SourceError, match="lost the connection to the broker"):
                while time.monotonic() < deadline:
                    source.poll()
                    time.sleep(0.02)
        finally:
            broker.start()
        deadline, got = time.monotonic() + 10, []
        while not got and time.monotonic() < deadline:
            try:
                source.poll()
                publish(broker, [("again", b"7")])
                while not got and time.monotonic() < deadline:
                    got = source.poll()
                    time.sleep(0.02)
            except SourceError:
                time.sleep(0.1)  # not reconnected yet
        assert [r.value for r in got] == [7.0]
    finally:
        source.close()
