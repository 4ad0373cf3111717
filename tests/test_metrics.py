"""/metrics: Prometheus text read back with the official parser and checked against the database."""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete, event, func, select, update

from app import create_app
from helpers.storage import line as line_store
from helpers.storage import readings as reading_store
from helpers.storage.db import db
from helpers.storage.metrics_queries import LatestReading, SamplerHealth, SensorSnapshot, Snapshot
from helpers.storage.models import Alarm, OutboxMessage, Reading, SamplerLease, SensorCounter, StateChange
from helpers.web.metrics import LinewatchCollector
from tests import server_process
from tests.conftest import make_app
from tests.helpers_for_tests import FakeClock, drive, started_sampler

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_800_000_000.0


def parse(text):
    """Every sample as {(name, ((label, value), ...)): value}."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    return parse(response.get_data(as_text=True))


def value(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


def names(samples):
    return {name for name, _ in samples}


def sensor_ids(app):
    with app.app_context():
        return {s.name: s.id for s in line_store.all_sensors()}


def add_rows(app, *rows):
    with app.app_context():
        db.session.add_all(rows)
        db.session.commit()


def reading(sensor_id, t, **fields):
    row = {"sensor_id": sensor_id, "t": t, "value": 1.0, "mean": 1.0, "std": 0.1, "z": 0.0, "threshold": 3.0,
           "anomaly": False, "zscore_anomaly": False, "anomaly_ratio": 0.0, "baseline_state": "normal",
           "completeness": 100.0}
    row.update(fields)
    return Reading(**row)


@pytest.fixture
def sampled(tmp_path):
    """An app whose sampler has run 30 s at 1 Hz with a 10-reading model: every sensor judging."""
    app = make_app(tmp_path, MODEL_SIZE=10)
    clock = FakeClock(T0)
    drive(app, started_sampler(app, clock), clock, 30.0, tick=1.0)
    return app


# --- the route -----------------------------------------------------------------

def test_content_type_and_no_store(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
    assert response.headers["Cache-Control"] == "no-store"


def test_values_are_the_newest_stored_readings(sampled):
    samples = scrape(sampled.test_client())
    with sampled.app_context():
        for sensor in line_store.all_sensors():
            last = reading_store.latest_readings(sensor.id, 1)[0]
            name = sensor.name
            assert value(samples, "linewatch_sensor_value", sensor=name, unit=sensor.unit) == last["value"]
            assert value(samples, "linewatch_sensor_zscore", sensor=name) == last["z"]
            assert value(samples, "linewatch_sensor_anomaly", sensor=name) == float(last["anomaly"])
            assert value(samples, "linewatch_sensor_anomaly_ratio", sensor=name) == last["anomaly_ratio"]
            assert value(samples, "linewatch_sensor_completeness_ratio", sensor=name) == 1.0
            assert value(samples, "linewatch_sensor_reading_timestamp_seconds", sensor=name) == last["t"]
    assert value(samples, "linewatch_sensor_value", sensor="motor_temperature", unit="°C") > 0
    assert "linewatch_sensor_lstm_score" not in names(samples), "the LSTM is off: no score to report"


def test_anomaly_flag_zscore_and_lstm_score_follow_the_newest_reading(app):
    ids = sensor_ids(app)
    add_rows(app, reading(ids["vibration"], T0, value=2.0),
             reading(ids["vibration"], T0 + 1, value=9.5, z=7.5, anomaly=True, zscore_anomaly=True,
                     anomaly_ratio=0.25, lstm_score=0.042, z_alarm=True, z_alarm_reason="unusual",
                     z_likelihood=0.999995),
             reading(ids["pressure"], T0, value=120.0, z=None, completeness=40.0, baseline_state="learning"))
    samples = scrape(app.test_client())
    assert value(samples, "linewatch_sensor_value", sensor="vibration", unit="mm/s") == 9.5
    assert value(samples, "linewatch_sensor_anomaly", sensor="vibration") == 1.0
    assert value(samples, "linewatch_sensor_anomaly_ratio", sensor="vibration") == 0.25
    assert value(samples, "linewatch_sensor_zscore", sensor="vibration") == 7.5
    assert value(samples, "linewatch_sensor_lstm_score", sensor="vibration") == 0.042
    assert value(samples, "linewatch_sensor_z_alarm", sensor="vibration") == 1.0
    assert value(samples, "linewatch_sensor_z_likelihood", sensor="vibration") == 0.999995
    assert math.isnan(value(samples, "linewatch_sensor_z_alarm", sensor="pressure"))
    assert ("linewatch_sensor_z_likelihood", (("sensor", "pressure"),)) not in samples
    assert ("linewatch_sensor_lstm_score", (("sensor", "pressure"),)) not in samples
    # Learning: no verdict yet, so the z-score is NaN, and completeness is a ratio.
    assert math.isnan(value(samples, "linewatch_sensor_zscore", sensor="pressure"))
    assert value(samples, "linewatch_sensor_completeness_ratio", sensor="pressure") == 0.4
    assert value(samples, "linewatch_sensor_anomaly", sensor="pressure") == 0.0


def test_sensors_without_readings_do_not_break_the_scrape(app):
    ids = sensor_ids(app)
    add_rows(app, reading(ids["energy_use"], T0, value=44.0))
    samples = scrape(app.test_client())
    assert {labels for name, labels in samples if name == "linewatch_sensor_value"} == {
        (("sensor", "energy_use"), ("unit", "kW"))}
    for sensor in ids:  # states and counters exist for every sensor from the start
        assert value(samples, "linewatch_sensor_state", sensor=sensor, state="normal") == 1.0
        assert value(samples, "linewatch_readings_total", sensor=sensor) == 0.0
        assert value(samples, "linewatch_anomalies_total", sensor=sensor) == 0.0


def test_state_is_an_enum_from_the_newest_state_change(app):
    ids = sensor_ids(app)

    def change(sensor_id, t, to_state):
        from_state = "normal" if to_state == "high_usage" else "high_usage"
        return StateChange(sensor_id=sensor_id, t=t, from_state=from_state, to_state=to_state, ratio=0.2, reason="")

    add_rows(app, change(ids["vibration"], T0, "high_usage"),
             change(ids["pressure"], T0, "high_usage"), change(ids["pressure"], T0 + 60, "normal"),
             change(None, T0 + 5, "high_usage"))
    samples = scrape(app.test_client())
    state = {(dict(labels)["sensor"], dict(labels)["state"]): v
             for (name, labels), v in samples.items() if name == "linewatch_sensor_state"}
    assert state == {(s, st): float(st == ("high_usage" if s == "vibration" else "normal"))
                     for s in ids for st in ("normal", "high_usage")}
    assert value(samples, "linewatch_line_state", state="high_usage") == 1.0
    assert value(samples, "linewatch_line_state", state="normal") == 0.0


def test_line_state_is_normal_without_changes(client):
    samples = scrape(client)
    assert value(samples, "linewatch_line_state", state="normal") == 1.0
    assert value(samples, "linewatch_line_state", state="high_usage") == 0.0


def test_counters_come_from_the_database(app):
    ids = sensor_ids(app)

    def alarm(sensor_id, rule):
        return Alarm(sensor_id=sensor_id, rule=rule, status="cleared", raised_at=T0, reason="", details="{}")

    def mail(kind, status):
        return OutboxMessage(kind=kind, subject="s", body="b", recipients="[]", status=status, next_attempt_at=T0,
                             created_at=T0)

    with app.app_context():  # the sampler keeps these rows; a sensor may not have one yet
        db.session.execute(delete(SensorCounter).where(SensorCounter.sensor_id == ids["energy_use"]))
        db.session.merge(SensorCounter(sensor_id=ids["vibration"], readings=1_234_567, anomalies=89))
        db.session.merge(SensorCounter(sensor_id=ids["pressure"], readings=10, anomalies=0))
        db.session.commit()
    add_rows(app, alarm(ids["vibration"], "state"), alarm(ids["vibration"], "state"), alarm(ids["vibration"], "burst"),
             alarm(None, "state"),
             *[mail("raise", "sent") for _ in range(3)], mail("clear", "sent"), mail("raise", "failed"),
             mail("raise", "queued"), mail("clear", "queued"),
             *[mail("test", status) for status in ("sent", "sent", "failed", "queued")])
    samples = scrape(app.test_client())
    assert value(samples, "linewatch_readings_total", sensor="vibration") == 1_234_567
    assert value(samples, "linewatch_anomalies_total", sensor="vibration") == 89
    assert value(samples, "linewatch_readings_total", sensor="pressure") == 10
    assert value(samples, "linewatch_readings_total", sensor="energy_use") == 0, "no counter row yet: 0"
    alarms = {labels: v for (name, labels), v in samples.items() if name == "linewatch_alarms_total"}
    assert alarms == {(("rule", "state"), ("sensor", "vibration")): 2.0,
                      (("rule", "burst"), ("sensor", "vibration")): 1.0,
                      (("rule", "state"), ("sensor", "line")): 1.0}
    assert value(samples, "linewatch_alerts_sent_total") == 4, "test e-mails are not alerts"
    assert value(samples, "linewatch_alerts_failed_total") == 1
    assert value(samples, "linewatch_alerts_queued") == 2


def test_counters_follow_the_real_sampler(tmp_path):
    app = make_app(tmp_path, MODEL_SIZE=10)
    client = app.test_client()
    assert client.post("/send_control", json={"anomaly_level": 40}).status_code == 200
    clock = FakeClock(T0)
    drive(app, started_sampler(app, clock), clock, 60.0, tick=0.5)
    samples = scrape(client)
    with app.app_context():
        stored = dict(db.session.execute(select(Reading.sensor_id, func.count()).group_by(Reading.sensor_id)).all())
        flagged = dict(db.session.execute(select(Reading.sensor_id, func.count()).where(Reading.anomaly.is_(True))
                                          .group_by(Reading.sensor_id)).all())
    assert sum(flagged.values()) > 0
    for name, sensor_id in sensor_ids(app).items():
        assert value(samples, "linewatch_readings_total", sensor=name) == stored[sensor_id] > 0
        assert value(samples, "linewatch_anomalies_total", sensor=name) == flagged.get(sensor_id, 0)


def set_lease(app, **values):
    with app.app_context():
        db.session.execute(update(SamplerLease).where(SamplerLease.id == 1).values(**values))
        db.session.commit()


def test_sampler_health_from_the_lease_row(app):
    client = app.test_client()
    set_lease(app, owner="host:1:abc", heartbeat_at=time.time() - 2.0, lag_s=0.05, loop_s=0.004)
    samples = scrape(client)
    assert value(samples, "linewatch_sampler_lag_seconds") == 0.05
    assert value(samples, "linewatch_sampler_loop_seconds") == 0.004
    assert 2.0 <= value(samples, "linewatch_sampler_heartbeat_age_seconds") < 10.0
    assert value(samples, "linewatch_sampler_up") == 1.0
    set_lease(app, heartbeat_at=time.time() - app.config["SAMPLER_STALE_SECONDS"] - 5)
    assert value(scrape(client), "linewatch_sampler_up") == 0.0
    set_lease(app, owner=None, heartbeat_at=None)  # released: nobody samples
    samples = scrape(client)
    assert value(samples, "linewatch_sampler_up") == 0.0
    assert "linewatch_sampler_heartbeat_age_seconds" not in names(samples)


def test_sampler_lag_and_loop_are_absent_until_stored(client):
    samples = scrape(client)
    assert {"linewatch_sampler_lag_seconds", "linewatch_sampler_loop_seconds"}.isdisjoint(names(samples))
    assert value(samples, "linewatch_sampler_up") == 0.0


def test_collector_from_a_snapshot_without_a_database():
    """The collector only turns a snapshot into families: a snapshot and a clock are all it needs."""
    snap = Snapshot(
        sensors=[SensorSnapshot("s1", "bar", LatestReading(T0, 5.0, None, False, 0.0, None, 50.0), "tripped", 3, 1)],
        line_state=None, alarms={}, outbox={}, sampler=SamplerHealth(T0 - 4.0, None, None))
    families = {f.name: f for f in LinewatchCollector(lambda: snap, 3.0, clock=lambda: T0).collect()}
    states = {s.labels["state"]: s.value for s in families["linewatch_sensor_state"].samples}
    assert states == {"normal": 0.0, "high_usage": 0.0, "tripped": 1.0}, "an unknown state is still shown"
    assert families["linewatch_sampler_heartbeat_age_seconds"].samples[0].value == 4.0
    assert families["linewatch_sampler_up"].samples[0].value == 0.0, "older than stale_after"
    assert math.isnan(families["linewatch_sensor_zscore"].samples[0].value)


# --- cheap at any table size -----------------------------------------------------

def statements_of_a_scrape(app):
    found = []

    def record(conn, cursor, statement, parameters, context, executemany):
        found.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert app.test_client().get("/metrics").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return engine, found


def test_the_scrape_never_scans_the_readings_table(sampled):
    engine, statements = statements_of_a_scrape(sampled)
    assert any("readings" in s for s, _ in statements)
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        if postgres:
            # Tiny test tables make any scan cheap; with scans priced out, a usable index is always taken.
            conn.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in statements:
            explain, scan = ("EXPLAIN ", r"Seq Scan on readings\b") if postgres else ("EXPLAIN QUERY PLAN ",
                                                                                  r"SCAN readings\b")
            plan = " / ".join(str(row[-1]) for row in conn.exec_driver_sql(explain + statement, parameters))
            assert not re.search(scan, plan), f"{statement}\n{plan}"
            if "count(" in statement.lower():
                assert "readings" not in re.findall(r"(?:FROM|JOIN) (\w+)", statement), statement


def test_metrics_on_postgres(postgres_url):
    app = create_app({"DATABASE_URL": postgres_url, "SAMPLER_AUTOSTART": False, "SIMULATOR_SEED": 1,
                      "MODEL_SIZE": 10})
    clock = FakeClock(T0)
    drive(app, started_sampler(app, clock), clock, 20.0, tick=1.0)
    ids = sensor_ids(app)
    add_rows(app, StateChange(sensor_id=ids["pressure"], t=T0, from_state="normal", to_state="high_usage",
                              ratio=0.2, reason=""))
    with app.app_context():
        db.session.merge(SensorCounter(sensor_id=ids["pressure"], readings=1_000_000, anomalies=1))
        db.session.commit()
    samples = scrape(app.test_client())
    with app.app_context():
        last = reading_store.latest_readings(ids["pressure"], 1)[0]
    assert value(samples, "linewatch_sensor_value", sensor="pressure", unit="bar") == last["value"]
    assert value(samples, "linewatch_sensor_state", sensor="pressure", state="high_usage") == 1.0
    assert value(samples, "linewatch_readings_total", sensor="pressure") == 1_000_000
    engine, statements = statements_of_a_scrape(app)
    with engine.connect() as conn:
        # The planner would scan a table this small anyway; the question is whether an index can serve.
        conn.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in statements:
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
            assert "Seq Scan on readings" not in plan, f"{statement}\n{plan}"


# --- promtool, the docs ------------------------------------------------------------

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
needs_promtool = pytest.mark.skipif(not os.path.exists(PROMTOOL),
                                    reason="promtool not installed (Debian package prometheus)")


@needs_promtool
def test_promtool_finds_nothing_to_lint(sampled):
    text = sampled.test_client().get("/metrics").get_data(as_text=True)
    result = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), result


@needs_promtool
def test_the_sample_scrape_config_is_valid():
    result = subprocess.run([PROMTOOL, "check", "config", str(ROOT / "docs/prometheus.yml")], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_dashboard_queries_only_metrics_we_export(sampled):
    dashboard = json.loads((ROOT / "docs/grafana-dashboard.json").read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource" and variables["DS_PROMETHEUS"]["query"] == "prometheus"
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    assert all(p["datasource"]["uid"] == "${DS_PROMETHEUS}" for p in panels)
    exprs = [t["expr"] for p in panels for t in p["targets"]]
    ids = sensor_ids(sampled)
    # So that every family has a sample: an LSTM score, an alarm, a sampler that reported its health.
    add_rows(sampled, reading(ids["vibration"], T0 + 99, lstm_score=0.1),
             Alarm(sensor_id=None, rule="state", status="active", raised_at=T0, reason="", details="{}"))
    set_lease(sampled, owner="host:1:abc", heartbeat_at=time.time(), lag_s=0.01, loop_s=0.002)
    exported = names(scrape(sampled.test_client()))
    used = {m for e in exprs for m in re.findall(r"\blinewatch_[a-z_]+", e)}
    assert used and used <= exported, used - exported
    for wanted in (r"linewatch_sensor_value\b", r"linewatch_sensor_anomaly_ratio\b", r"linewatch_sensor_state\b",
                   r"rate\(linewatch_anomalies_total(\{[^}]*\})?\[5m\]\)", r"linewatch_alerts_sent_total",
                   r"linewatch_alerts_failed_total", r"linewatch_sampler_lag_seconds"):
        assert any(re.search(wanted, e) for e in exprs), wanted


# --- gunicorn with 2 workers ---------------------------------------------------------

@pytest.fixture
def gunicorn_server(tmp_path):
    """gunicorn with 2 workers; the access log names the worker (pid) that answered each request."""
    access_log = tmp_path / "access.log"
    with server_process.gunicorn(tmp_path, SAMPLE_RATE_HZ="5", MODEL_SIZE="10", WEB_CONCURRENCY="2",
                                 ACCESS_LOG=str(access_log),
                                 GUNICORN_CMD_ARGS="--access-logformat '%(p)s %(U)s'") as (base, db_url, _):
        yield base, db_url, access_log


def wait_until_no_new_readings(db_url, quiet=1.5, limit=20.0):
    deadline, last, since = time.time() + limit, None, time.time()
    while time.time() < deadline:
        newest = server_process.query(db_url, "SELECT max(id) FROM readings")[0][0]
        if newest != last:
            last, since = newest, time.time()
        elif time.time() - since >= quiet:
            return
        time.sleep(0.2)
    pytest.fail("the line still produces readings after it was stopped")


def test_every_worker_answers_the_same_for_a_stopped_line(gunicorn_server):
    base, db_url, access_log = gunicorn_server
    time.sleep(3.0)  # a few readings per sensor
    assert requests.post(f"{base}/send_control", json={"running": False}, timeout=5).status_code == 200
    wait_until_no_new_readings(db_url)
    scrapes, deadline = [], time.time() + 30
    while time.time() < deadline:
        # A new connection each time, so that either worker may accept it.
        response = requests.get(f"{base}/metrics", timeout=5, headers={"Connection": "close"})
        assert response.status_code == 200 and response.headers["Content-Type"] == CONTENT_TYPE_LATEST
        scrapes.append(parse(response.text))
        pids = re.findall(r"<(\d+)> /metrics", access_log.read_text())
        if len(scrapes) >= 10 and min(pids.count(p) for p in set(pids)) >= 3 and len(set(pids)) == 2:
            break
    assert len(set(pids)) == 2, f"both workers should have answered /metrics: {pids}"
    # The sampler's own health (heartbeat age, loop time) moves with the clock; all else is the database's.
    steady = [{k: v for k, v in s.items() if not k[0].startswith("linewatch_sampler_")} for s in scrapes]
    assert all(s == steady[0] for s in steady), "a scrape answered differently"
    assert all(value(s, "linewatch_sampler_up") == 1.0 for s in scrapes)
    assert all(value(s, "linewatch_sampler_lag_seconds") >= 0 and value(s, "linewatch_sampler_loop_seconds") >= 0
               for s in scrapes), "the lease holder reports its health"
    newest = dict(server_process.query(
        db_url, "SELECT s.name, r.value FROM sensors s JOIN readings r ON r.id = "
        "(SELECT max(id) FROM readings WHERE sensor_id = s.id)"))
    stored = dict(server_process.query(db_url, "SELECT s.name, count(*) FROM sensors s JOIN readings r "
                                       "ON r.sensor_id = s.id GROUP BY s.name"))
    assert len(newest) == 4

    def by_sensor(name):
        return {dict(labels)["sensor"]: v for (n, labels), v in steady[0].items() if n == name}

    assert by_sensor("linewatch_sensor_value") == newest
    assert by_sensor("linewatch_readings_total") == stored


# --- a real Prometheus ------------------------------------------------------------------

@pytest.mark.skipif(not os.path.exists(server_process.PROMETHEUS),
                    reason="/usr/bin/prometheus not installed (apt-get install prometheus)")
def test_a_real_prometheus_scrapes_the_live_server(live_server, tmp_path):
    with server_process.prometheus(tmp_path, live_server.removeprefix("http://")) as url:
        api = f"{url}/api/v1"
        deadline, results = time.time() + 60, []
        while time.time() < deadline and len(results) < 4:
            try:
                body = requests.get(f"{api}/query", params={"query": "linewatch_readings_total"}, timeout=2).json()
                results = body["data"]["result"]
            except (requests.ConnectionError, ValueError, KeyError):
                pass
            time.sleep(0.5)
        assert {r["metric"]["sensor"] for r in results} == {"vibration", "motor_temperature", "energy_use",
                                                             "pressure"}
        assert all(r["metric"]["job"] == "linewatch" and float(r["value"][1]) >= 0 for r in results)
        targets = requests.get(f"{api}/targets", timeout=5).json()["data"]["activeTargets"]
        assert [(t["health"], t["lastError"]) for t in targets] == [("up", "")]
        # A non-ASCII label value (°C) survives the trip.
        body = requests.get(f"{api}/query", params={"query": 'linewatch_sensor_value{unit="°C"}'}, timeout=5).json()
        assert [r["metric"]["sensor"] for r in body["data"]["result"]] == ["motor_temperature"]
