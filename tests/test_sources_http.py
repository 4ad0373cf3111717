"""The system, PromQL and GraphQL pull sources, against real servers on 127.0.0.1 and through the runner's pipeline."""
from __future__ import annotations

import json
import logging
import math
import os
import time

import pytest
from sqlalchemy import select

from helpers.runtime.sources.base import SourceError
from helpers.runtime.sources.graphql import GraphQL
from helpers.runtime.sources.promql import PromQL
from helpers.runtime.sources.runner import SourceWorker
from helpers.runtime.sources.system import SENSORS, System
from helpers.storage import line as line_store
from helpers.storage import source_configs as configs
from helpers.storage.db import db
from helpers.storage.models import IngestBatch
from tests import server_process
from tests.conftest import make_app
from tests.graphql_server import GraphQLServer
from tests.helpers_for_tests import FakeClock
from tests.promql_server import PromQLServer

T0 = 1_800_000_000.0  # a multiple of every step used here
PASSWORD = "hunter2-pw"


@pytest.fixture
def clock():
    return FakeClock(T0)


@pytest.fixture
def gql(clock):
    server = GraphQLServer(clock, password=PASSWORD).start()
    yield server
    server.stop()


@pytest.fixture
def prom():
    server = PromQLServer().start()
    yield server
    server.stop()


def queued(app):
    """Every queued reading as (sensor name, t, value)."""
    with app.app_context():
        names = {s.id: s.name for s in line_store.all_sensors()}
        return [(names[sid], t, v) for batch in db.session.scalars(select(IngestBatch.rows).order_by(IngestBatch.id))
                for sid, t, v in json.loads(batch)]


def gql_config(server, **changes):
    config = {"url": server.url,
              "auth_query": "mutation ($user: String!, $password: String!) "
                            "{ login(user: $user, password: $password) { token expiresIn } }",
              "auth_variables": {"user": "operator", "password": PASSWORD},
              "token_path": "data.login.token", "expires_path": "data.login.expiresIn",
              "data_query": "query ($since: Float) { line { readings(since: $since) { t value } pressure } }",
              "paths": {"press_force": "data.line.readings", "pressure": "data.line.pressure"},
              "interval_s": 0.25}
    config.update(changes)
    return config


def graphql(server, clock, **changes):
    return GraphQL(GraphQL.validate(gql_config(server, **changes), {}), clock)


def promql(server, clock, **changes):
    config = {"url": server.url, "queries": {"speed": "line_speed"}, "mode": "range", "step_s": 5,
              "interval_s": 15}
    config.update(changes)
    return PromQL(PromQL.validate(config, {}), clock)


# --- GraphQL -------------------------------------------------------------------------

@pytest.mark.parametrize("expires_path, lifetime", [("data.login.expiresIn", 3600), ("", 2)])
def test_graphql_renews_the_token_before_it_expires(gql, clock, expires_path, lifetime):
    """Tokens last 2 s; polls every 0.25 s renew at 80 % (1.75 s here) and never send an expired one."""
    gql.points = [(T0 + 0.25 * i, float(i)) for i in range(-4, 40)]
    source = graphql(gql, clock, expires_path=expires_path, token_lifetime_s=lifetime)
    readings = []
    for _ in range(40):
        readings += source.poll()
        clock.advance(0.25)
    assert gql.refused == 0, "no data request went out with an expired token"
    assert gql.logins == 6  # at 0, 1.75, 3.5, 5.25, 7 and 8.75 s
    press = [r for r in readings if r.sensor == "press_force"]
    assert [r.value for r in press] == [float(i) for i in range(40)], "each point once: $since moves on"
    assert gql.sinces[:2] == [T0 - 0.25, T0]
    assert [r.value for r in readings if r.sensor == "pressure"] == [4.2] * 40  # a latest value, at each poll


@pytest.mark.parametrize("refuse_with", ["http", "graphql"])
def test_graphql_logs_in_again_once_when_the_token_is_refused(gql, clock, refuse_with):
    gql.refuse_with = refuse_with
    gql.points = [(T0, 1.0), (T0 + 1, 2.0)]
    source = graphql(gql, clock)
    assert [r.value for r in source.poll() if r.sensor == "press_force"] == [1.0]
    gql.revoke_all()  # a restart or key rotation: the token is no longer known
    clock.advance(1)
    assert [r.value for r in source.poll() if r.sensor == "press_force"] == [2.0]
    assert (gql.logins, gql.refused) == (2, 1)
    # A server that refuses every token: one fresh login, then a clear failure without the token in it.
    gql.refuse_all = True
    clock.advance(1)
    with pytest.raises(SourceError) as failed:
        source.poll()
    assert (gql.logins, gql.refused) == (3, 3)  # refused, logged in again, refused: no third try
    message = str(failed.value)
    assert "refused even right after a fresh login" in message and "not authenticated" in message
    assert "[secret]" in message and not any(token in message for token in gql.issued)


def test_graphql_fails_cleanly_on_a_wrong_password(gql, clock):
    source = graphql(gql, clock, auth_variables={"user": "operator", "password": "wrong-password"})
    with pytest.raises(SourceError, match="invalid user name or password") as failed:
        source.poll()
    assert str(failed.value).startswith("login ") and "wrong-password" not in str(failed.value)
    assert gql.failed_logins == 1 and gql.data_requests == 0
    inline = graphql(gql, clock, auth_variables={},
                     auth_query='mutation { login(user: "operator", password: "also-wrong") { token } }')
    with pytest.raises(SourceError, match="invalid user name or password"):
        inline.poll()
    right = graphql(gql, clock, auth_variables={}, expires_path="",
                    auth_query=f'mutation {{ login(user: "operator", password: "{PASSWORD}") {{ token }} }}')
    assert right.poll() and gql.logins == 1


def test_graphql_paths_that_miss_say_where(gql, clock):
    source = graphql(gql, clock, paths={"press_force": "data.line.reading"})
    with pytest.raises(SourceError, match=r"sensor press_force: no 'reading' in data.line \(it has readings, "
                                          r"pressure\)"):
        source.poll()
    source = graphql(gql, clock, token_path="data.login")
    with pytest.raises(SourceError, match=r"data.login holds an object \(keys: token, expiresIn\), not a token"):
        source.poll()
    gql.points = [(T0, 1.0)]
    source = graphql(gql, clock, time_field="time")
    with pytest.raises(SourceError, match=r"data.line.readings.0 has no time \(its fields: t, value\)"):
        source.poll()


def test_the_graphql_token_never_shows_in_logs_errors_or_the_api(app, client, gql, clock, caplog):
    caplog.set_level(logging.DEBUG)
    gql.points = [(T0 - 1 + i, float(i)) for i in range(6)]
    gql.refuse_with = "graphql"  # its refusals echo the token
    assert client.put("/api/sources/graphql", json=gql_config(gql, interval_s=1)).status_code == 200
    worker = SourceWorker(app, "graphql", clock)
    with app.app_context():
        assert worker.step() == 2  # press_force at T0 (since one interval back), and the pressure now
        gql.revoke_all()
        clock.advance(1)
        assert worker.step() == 2  # refused once, logged in again, read
        gql.refuse_all = True  # from now on every token is refused
        clock.advance(1)
        assert worker.step() == 0
        status = configs.status("graphql")
    assert status["state"] == "backing_off" and "refused even right after a fresh login" in status["last_error"]
    tested = client.post("/api/sources/graphql/test").get_data(as_text=True)
    listed = client.get("/api/sources").get_data(as_text=True)
    entry = next(p for p in json.loads(listed)["pull"] if p["kind"] == "graphql")
    assert entry["config"]["auth_query_set"] and entry["config"]["auth_variables_set"]
    assert "auth_query" not in entry["config"] and "auth_variables" not in entry["config"]
    assert len(gql.issued) >= 5
    for text in (caplog.text, status["last_error"], tested, listed):
        assert not any(token in text for token in gql.issued)
        assert PASSWORD not in text


def test_graphql_through_the_pipeline(app, client, gql, clock):
    gql.points = [(T0 - 2, 5.0), (T0 - 1, 6.0), (T0, 7.0)]
    client.put("/api/sources/graphql", json=gql_config(gql, interval_s=1, paths={"press_force": "data.line.readings"}))
    worker = SourceWorker(app, "graphql", clock)
    with app.app_context():
        assert worker.step() == 1  # since one interval back: T0 only
        gql.points.append((T0 + 1, 8.0))
        clock.advance(1)
        assert worker.step() == 1
        status = configs.status("graphql")
    assert queued(app) == [("press_force", T0, 7.0), ("press_force", T0 + 1, 8.0)]
    assert status["state"] == "running" and status["readings_total"] == 2


# --- PromQL --------------------------------------------------------------------------

def test_promql_range_mode_reads_each_step_since_the_last_poll(prom, clock):
    prom.series["line_speed"] = [({"job": "line"}, lambda t: {T0 - 10: "NaN", T0 + 10: "+Inf"}.get(t, f"{t - T0:g}"))]
    source = promql(prom, clock)
    assert source.poll() == [("speed", T0 - 15, -15.0), ("speed", T0 - 5, -5.0), ("speed", T0, 0.0)]  # NaN left out
    clock.advance(17)
    assert [r.t - T0 for r in source.poll()] == [5, 15]  # +Inf at 10 left out
    clock.advance(2)
    assert source.poll() == [] and len(prom.requests) == 2, "the next step is not due: nothing asked"
    (path, first, _), (_, second, _) = prom.requests
    assert path == "/api/v1/query_range"
    assert (first["start"], first["end"], first["step"]) == (f"{T0 - 15:.3f}", f"{T0:.3f}", "5")
    assert (float(second["start"]), float(second["end"])) == (T0 + 5, T0 + 15)


def test_promql_instant_mode_reads_vectors_and_scalars(prom, clock):
    prom.series["line_speed"] = [({"job": "line"}, lambda t: "42.5")]
    prom.scalars["scalar(line_speed)"] = "7"
    source = promql(prom, clock, mode="instant", queries={"speed": "line_speed", "speed_s": "scalar(line_speed)"})
    assert source.poll() == [("speed", T0, 42.5), ("speed_s", T0, 7.0)]
    assert prom.requests[0][:2] == ("/api/v1/query", {"query": "line_speed", "time": f"{T0:.3f}"})
    assert source.test() == f"{prom.url}: speed = 42.5; speed_s = 7"


def test_promql_refuses_several_series_and_shows_the_servers_error(prom, clock):
    prom.series["motor_temp"] = [({"motor": str(i)}, lambda t: "60") for i in range(5)]
    source = promql(prom, clock, mode="instant", queries={"temp": "motor_temp"})
    with pytest.raises(SourceError) as several:
        source.poll()
    assert str(several.value) == ('query for temp (motor_temp) returned 5 series ({motor="0"}, {motor="1"}, '
                                  '{motor="2"} and 2 more); a sensor needs one: aggregate it, e.g. sum(motor_temp), '
                                  'or select one series by its labels')
    prom.errors["rate(x[5m"] = (400, "bad_data", '1:10: parse error: unclosed left bracket')
    source = promql(prom, clock, queries={"rate": "rate(x[5m"})
    with pytest.raises(SourceError, match=r"query for rate \(rate\(x\[5m\) failed: bad_data: 1:10: parse error: "
                                          r"unclosed left bracket"):
        source.poll()


def test_promql_sends_the_bearer_token_or_basic_auth(prom, clock):
    prom.token = "prom-secret-token"
    prom.series["line_speed"] = [({}, lambda t: "1")]
    with pytest.raises(SourceError, match="refused the credentials \\(HTTP 401\\): unauthorized: missing or wrong"):
        promql(prom, clock, mode="instant").poll()
    assert promql(prom, clock, mode="instant", token="prom-secret-token").poll() == [("speed", T0, 1.0)]
    assert prom.requests[-1][2] == "Bearer prom-secret-token"
    prom.token = None
    promql(prom, clock, mode="instant", username="grafana", password="pw").poll()
    assert prom.requests[-1][2] == "Basic Z3JhZmFuYTpwdw=="  # grafana:pw


def test_promql_through_the_pipeline(app, client, prom, clock):
    prom.series["line_speed"] = [({}, lambda t: f"{(t - T0) / 5:g}")]
    client.put("/api/sources/promql", json={"url": prom.url, "queries": {"speed": "line_speed"}, "step_s": 5,
                                            "interval_s": 5})
    worker = SourceWorker(app, "promql", clock)
    with app.app_context():
        assert worker.step() == 2
        clock.advance(5)
        assert worker.step() == 1
    assert queued(app) == [("speed", T0 - 5, -1.0), ("speed", T0, 0.0), ("speed", T0 + 5, 1.0)]


@pytest.mark.skipif(not os.path.exists(server_process.PROMETHEUS),
                    reason="/usr/bin/prometheus not installed (Debian package prometheus; scripts/test installs it)")
def test_a_real_prometheus_scraping_the_app_is_read_back(live_server, tmp_path):
    (tmp_path / "reader").mkdir()
    reader = make_app(tmp_path / "reader")  # the app whose source reads Prometheus (its own database)
    query = "sum(linewatch_readings_total)"
    with server_process.prometheus(tmp_path, live_server.removeprefix("http://")) as url:
        instant = PromQL(PromQL.validate({"url": url, "queries": {"seen": query}, "mode": "instant",
                                          "timeout_s": 2}, {}), time.time)
        deadline, readings = time.time() + 60, []
        while time.time() < deadline and not readings:  # until Prometheus has scraped
            try:
                readings = instant.poll()
            except SourceError:
                pass
            time.sleep(0.5)
        assert readings and readings[0].sensor == "seen" and readings[0].value >= 0
        time.sleep(3)
        ranged = PromQL(PromQL.validate({"url": url, "queries": {"seen": query}, "mode": "range", "step_s": 1,
                                         "interval_s": 5}, {}), time.time).poll()
        assert len(ranged) >= 2 and all(r.t == int(r.t) for r in ranged)
        assert [r.value for r in ranged] == sorted(r.value for r in ranged), "a counter only grows"
        client = reader.test_client()
        assert client.put("/api/sources/promql", json={"url": url, "queries": {"linewatch_readings": query},
                                                       "mode": "instant"}).status_code == 200
        assert client.post("/api/sources/promql/test").get_json()["message"].startswith(f"{url}: linewatch_readings = ")
        with reader.app_context():
            assert SourceWorker(reader, "promql").step() == 1
        [(name, t, value)] = queued(reader)
        assert name == "linewatch_readings" and value >= readings[0].value and abs(t - time.time()) < 30


# --- system --------------------------------------------------------------------------

def test_system_readings_are_in_range_and_the_first_poll_has_no_rates(clock):
    source = System(System.validate({"prefix": "box_"}, {}), clock)
    first = source.poll()
    assert [r.sensor for r in first] == ["box_memory_percent"] and 0 <= first[0].value <= 100
    time.sleep(0.05)  # the CPU counters move in 10 ms ticks: let real time pass between the polls
    clock.advance(1)
    second = {r.sensor.removeprefix("box_"): r.value for r in source.poll()}
    counters = System.counters()
    expected = {"cpu_percent", "memory_percent"} | {s for s in SENSORS if ("disk_read" in counters and "disk" in s)
                                                    or ("net_recv" in counters and "net" in s)}
    assert set(second) == expected
    assert 0 <= second["cpu_percent"] <= 100 and 0 <= second["memory_percent"] <= 100
    assert all(v >= 0 and math.isfinite(v) for v in second.values())
    assert source.interval_s == 1.0 and "CPUs, memory" in source.test()


def test_system_through_the_pipeline(app, client, clock):
    assert client.put("/api/sources/system", json={"interval_s": 2}).get_json()["config"] == {
        "prefix": "host_", "interval_s": 2.0}
    worker = SourceWorker(app, "system", clock)
    with app.app_context():
        assert worker.step() == 1
        clock.advance(2)
        time.sleep(0.05)  # the CPU counters move in 10 ms ticks
        assert worker.step() >= 2
    rows = queued(app)
    assert {name for name, _, _ in rows} >= {"host_memory_percent", "host_cpu_percent"}
    assert {t for _, t, _ in rows} == {T0, T0 + 2}


# --- the runner and the settings -----------------------------------------------------

def test_a_failing_server_backs_off_while_another_source_goes_on(app, client, gql, clock):
    down = f"http://127.0.0.1:{server_process.free_port()}"  # nothing listens there
    client.put("/api/sources/promql", json={"url": down, "queries": {"speed": "line_speed"}, "interval_s": 1})
    gql.points = [(T0 + i, float(i)) for i in range(5)]
    client.put("/api/sources/graphql", json=gql_config(gql, interval_s=1, paths={"press_force": "data.line.readings"}))
    failing, working = SourceWorker(app, "promql", clock), SourceWorker(app, "graphql", clock)
    with app.app_context():
        stored = []
        for _ in range(4):
            assert failing.step() == 0
            stored.append(working.step())
            clock.advance(1)
        bad, good = configs.status("promql"), configs.status("graphql")
    assert bad["state"] == "backing_off" and failing.failures == 3  # tried at 0, 1 and 3 s (backing off 1, 2 s)
    assert bad["last_error"].startswith(f"SourceError: cannot reach {down}/api/v1/query_range: ")
    assert "refused" in bad["last_error"]
    assert good["state"] == "running" and stored == [1, 1, 1, 1] and good["readings_total"] == 4


@pytest.mark.parametrize("kind, body, field", [
    ("system", {"prefix": "p" * 60}, "prefix"),
    ("system", {"interval_s": 0}, "interval_s"),
    ("promql", {"url": "ftp://prometheus"}, "url"),
    ("promql", {"url": "http://admin:pw@prometheus:9090"}, "url"),
    ("promql", {"url": ""}, "url"),
    ("promql", {"queries": {"speed": " "}}, "queries"),
    ("promql", {"queries": ["up"]}, "queries"),
    ("promql", {"mode": "sideways"}, "mode"),
    ("promql", {"step_s": 0}, "step_s"),
    ("promql", {"token": "t", "username": "u"}, "token"),
    ("promql", {"password": "p"}, "username"),
    ("promql", {"token": "two words"}, "token"),
    ("graphql", {"url": "graphql.example"}, "url"),
    ("graphql", {"auth_variables": "{not json"}, "auth_variables"),
    ("graphql", {"auth_variables": {"user": "u"}}, "auth_variables"),
    ("graphql", {"auth_query": "mutation { login }", "token_path": ""}, "token_path"),
    ("graphql", {"paths": {"press": "data..x"}, "data_query": "{ x }"}, "paths"),
    ("graphql", {"paths": {"press": "data.x"}}, "data_query"),
    ("graphql", {"since_format": "unix"}, "since_format"),
    ("graphql", {"token_lifetime_s": 0}, "token_lifetime_s"),
    ("graphql", {"colour": "red"}, "colour"),
])
def test_bad_settings_are_refused_naming_the_field(client, kind, body, field):
    response = client.put(f"/api/sources/{kind}", json=body)
    assert response.status_code == 400 and response.get_json()["field"] == field, response.get_json()


def test_secrets_are_kept_when_left_out_and_never_sent_back(client, gql):
    saved = client.put("/api/sources/graphql", json=gql_config(gql, auth_variables=json.dumps(
        {"user": "operator", "password": PASSWORD}))).get_json()["config"]
    assert saved["auth_query_set"] and saved["auth_variables_set"] and PASSWORD not in json.dumps(saved)
    again = client.put("/api/sources/graphql", json={**gql_config(gql), "auth_query": None,
                                                     "auth_variables": None, "interval_s": 2})
    assert again.status_code == 200 and again.get_json()["config"]["auth_variables_set"]
    assert client.post("/api/sources/graphql/test").get_json()["ok"]
    promql_saved = client.put("/api/sources/promql", json={"token": "abc123"}).get_json()["config"]
    assert promql_saved["token_set"] and "abc123" not in json.dumps(promql_saved)
