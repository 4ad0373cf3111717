"""The edge node against a real server: outages, lost answers and restarts lose nothing and store nothing twice."""
from __future__ import annotations

import csv
import io
import json
import logging
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select

from helpers.core.line.simulator import DEFAULT_SENSORS
from helpers.edge.node import Answer, Node, ReplayFile, SimulatedLine, Spool, urllib_post
from helpers.runtime.service import SamplerThread
from helpers.storage import ingest_queue, tokens
from helpers.storage.db import db
from helpers.storage.models import Reading
from tests.conftest import RestartableServer, make_app
from tests.helpers_for_tests import FakeClock

TICK = 0.25


@pytest.fixture
def push_server(tmp_path):
    """A live server whose line reads pushed data, with a token; the test can take its HTTP side down."""
    app = make_app(tmp_path, MODEL_SIZE=20, SAMPLER_FLUSH_SECONDS=0.1)
    app.test_client().post("/send_control", json={"source": "push"})
    with app.app_context():
        token = tokens.create("edge-1", time.time())
    sampler = SamplerThread(app).start()
    server = RestartableServer(app)
    try:
        yield server, token
    finally:
        server.stop()
        sampler.stop()


class Recording:
    """A producer that notes every reading it hands the node: what the server must end up with, once each."""

    def __init__(self, inner):
        self.inner = inner
        self.seen: list[tuple[str, float]] = []

    @property
    def finished(self):
        return self.inner.finished

    def due(self, now):
        readings = self.inner.due(now)
        self.seen += [(sensor, t) for sensor, t, _ in readings]
        return readings

    def next_due(self):
        return self.inner.next_due()

    def state(self):
        return self.inner.state()

    def restore(self, state, now):
        self.inner.restore(state, now)


class Scripted:
    """Given readings, each handed out once its time has come."""

    def __init__(self, readings):
        self.pending = list(readings)

    @property
    def finished(self):
        return not self.pending

    def due(self, now):
        out = [r for r in self.pending if r[1] <= now]
        self.pending = [r for r in self.pending if r[1] > now]
        return out

    def next_due(self):
        return self.pending[0][1] if self.pending else None

    def state(self):
        return {}

    def restore(self, state, now):
        pass


def drive(node, clock, seconds):
    """Move the clock on in ticks; at each the node produces, then sends while the server takes batches."""
    for _ in range(round(seconds / TICK)):
        clock.advance(TICK)
        node.produce(clock())
        while node.send_step(clock()):
            pass


def stored_readings(server, expected, timeout=30.0):
    """(sensor, t) of every stored reading, via the CSV export, once the sampler has judged ``expected`` of them."""
    deadline = time.time() + timeout
    while True:
        with server.app.app_context():
            count = db.session.scalar(select(func.count()).select_from(Reading))
            queued, _ = ingest_queue.backlog()
            db.session.remove()
        if (count >= expected and not queued) or time.time() > deadline:
            break
        time.sleep(0.1)
    with urllib.request.urlopen(f"{server.url}/api/readings.csv", timeout=10) as response:
        rows = list(csv.DictReader(io.StringIO(response.read().decode())))
    return [(r["sensor"], float(r["t"])) for r in rows], rows


def node_for(server, token, producer, spool_path, clock, **options):
    options = {"backoff_base_s": 0.5, "backoff_max_s": 4.0, "jitter": lambda: 1.0, "timeout_s": 5.0, **options}
    return Node(server.url, token, producer, Spool(str(spool_path)), clock=clock, **options)


def test_an_outage_and_a_lost_answer_lose_nothing_and_duplicate_nothing(push_server, tmp_path):
    server, token = push_server
    clock = FakeClock(time.time() - 60)
    producer = Recording(SimulatedLine(DEFAULT_SENSORS, rate_hz=10, seed=1))
    keys = []

    def post(url, body, headers, timeout):
        keys.append(headers["Idempotency-Key"])
        answer = urllib_post(url, body, headers, timeout)
        if len(keys) == 3:
            raise TimeoutError("the answer was lost")  # stored by the server; the node never heard
        return answer

    node = node_for(server, token, producer, tmp_path / "spool.db", clock, post=post)
    drive(node, clock, 5.0)
    assert keys.count(keys[2]) == 2, "the batch whose answer was lost went again, with the same key"
    server.stop()
    drive(node, clock, 10.0)
    batches, waiting = node.spool.backlog()
    assert batches >= 8 and waiting >= 8 * 40 and node.failures >= 3
    server.start()
    drive(node, clock, 10.0)
    while node.spool.backlog() != (0, 0):
        drive(node, clock, TICK)
        node._seal(clock(), everything=True)
    assert node.failures == 0 and node.rejected == 0

    stored, rows = stored_readings(server, len(producer.seen))
    assert len(producer.seen) >= 24 * 10 * 4
    assert len(stored) == len(set(stored)), "no reading stored twice"
    assert sorted(stored) == sorted(producer.seen), "every produced reading stored"
    assert {r["baseline_state"] for r in rows} >= {"learning", "tracking"}  # judged by the detectors
    assert {r["z"] != "" for r in rows} == {True, False}


def test_a_restarted_node_sends_what_its_spool_kept(push_server, tmp_path):
    server, token = push_server
    clock = FakeClock(time.time() - 60)
    path = tmp_path / "spool.db"
    server.stop()
    first = Recording(SimulatedLine(DEFAULT_SENSORS[:2], rate_hz=4, seed=1))
    node = node_for(server, token, first, path, clock)
    drive(node, clock, 3.6)  # the last readings are still open (not a whole second old)
    node_id = node.spool.node_id
    assert node.spool.open_count() > 0 and node.spool.backlog()[0] >= 2 and node.sent == 0
    node.spool.close()  # the node process dies

    server.start()
    second = Recording(SimulatedLine(DEFAULT_SENSORS[:2], rate_hz=4, seed=2))
    node = node_for(server, token, second, path, clock)
    assert node.spool.node_id == node_id and node.spool.open_count() == 0  # left-overs sealed at start
    drive(node, clock, 2.0)
    while node.send_step(clock()):
        pass
    node._seal(clock(), everything=True)
    while node.send_step(clock()):
        pass
    assert node.spool.backlog() == (0, 0)
    assert min(t for _, t in second.seen) > max(t for _, t in first.seen), "the new run goes on after the old one"
    stored, _ = stored_readings(server, len(first.seen) + len(second.seen))
    assert sorted(stored) == sorted(first.seen + second.seen)


def test_a_permanent_refusal_is_logged_and_not_retried(push_server, tmp_path, caplog):
    server, token = push_server
    clock = FakeClock(round(time.time()) - 60.0)  # whole seconds: the times survive the ISO 8601 round trip
    t0 = clock()
    producer = Scripted([("nope", t0 + 0.1, 1.0), ("vibration", t0 + 0.2, 2.0), ("vibration", t0 + 0.3, 3.0)])
    posted = []

    def post(url, body, headers, timeout):
        posted.append(headers["Idempotency-Key"])
        return urllib_post(url, body, headers, timeout)

    node = node_for(server, token, producer, tmp_path / "spool.db", clock, post=post, batch_size=1)
    with caplog.at_level(logging.ERROR, logger="helpers.edge.node"):
        drive(node, clock, 2.0)
        for _ in range(5):
            clock.advance(60)
            node.send_step(clock())
    assert len(posted) == 3 and len(set(posted)) == 3, "each batch posted once: the refused one was not retried"
    [(seq, status, message, count)] = node.spool.rejected()
    assert (seq, status, count) == (1, 400, 1) and "unknown sensor 'nope'" in message
    assert "REJECTED" in caplog.text and "unknown sensor 'nope'" in caplog.text
    assert node.spool.backlog() == (0, 0) and (node.sent, node.rejected) == (2, 1)
    stored, _ = stored_readings(server, 2)
    assert sorted(stored) == [("vibration", t0 + 0.2), ("vibration", t0 + 0.3)]


def test_server_errors_and_throttling_back_off_then_go_through(tmp_path):
    answers = [Answer(503, "{}"), Answer(502, "bad gateway"), Answer(429, "{}", "3"), Answer(201, '{"accepted": 4}')]
    calls = []

    def post(url, body, headers, timeout):
        calls.append((url, json.loads(body), dict(headers)))
        return answers[len(calls) - 1]

    clock = FakeClock(1_795_000_000.0)
    producer = Scripted([(s, clock() + 0.5, 1.0) for s in ("a", "b", "c", "d")])
    node = Node("http://plant:5000/", "lw_x", producer, Spool(str(tmp_path / "s.db")), post=post, clock=clock,
                backoff_base_s=0.5, backoff_max_s=30, jitter=lambda: 1.0)
    clock.advance(0.5)
    node.produce(clock())  # the producer is finished: the batch is sealed at once
    tries = []
    for _ in range(200):
        if node.send_step(clock()):
            break
        tries.append(node.next_try - clock())
        clock.advance(node.next_try - clock())
    assert tries == [0.5, 1.0, 3.0]  # doubling, and the server's Retry-After when longer
    assert len(calls) == 4 and node.spool.backlog() == (0, 0) and node.sent == 4
    url, body, headers = calls[0]
    assert url == "http://plant:5000/api/readings" and headers["Authorization"] == "Bearer lw_x"
    assert {h["Idempotency-Key"] for _, _, h in calls} == {f"{node.spool.node_id}:1"}
    assert body["readings"][0] == {"sensor": "a", "timestamp": "2026-11-18T11:06:40.500000Z", "value": 1.0}


def test_a_setup_refusal_keeps_the_readings_and_retries_slowly(tmp_path):
    answers = [Answer(409, '{"message": "set its source to push"}'), Answer(201, "{}")]
    calls = []

    def post(url, body, headers, timeout):
        calls.append(headers["Idempotency-Key"])
        return answers[len(calls) - 1]

    clock = FakeClock(1_795_000_000.0)
    node = Node("http://plant", None, Scripted([("a", clock(), 1.0)]), Spool(str(tmp_path / "s.db")), post=post,
                clock=clock, backoff_max_s=30)
    node.produce(clock())
    assert not node.send_step(clock()) and node.next_try == clock() + 30 and node.spool.backlog() == (1, 1)
    clock.advance(30)
    assert node.send_step(clock()) and calls[0] == calls[1] and node.rejected == 0


def test_batches_are_sealed_by_size_or_after_a_second(tmp_path):
    clock = FakeClock(1_795_000_000.0)
    producer = SimulatedLine(DEFAULT_SENSORS, rate_hz=100, seed=1)
    node = Node("http://plant", None, producer, Spool(str(tmp_path / "s.db")), clock=clock, batch_size=150)
    node.produce(clock())  # 4 readings at the first due time
    clock.advance(0.5)
    node.produce(clock())  # 4 x 51 = 204 readings: one batch of 150, 54 open
    assert node.spool.backlog() == (1, 204) and node.spool.open_count() == 54
    clock.advance(0.5)
    node.produce(clock())  # a second after the first open reading: 54 + 200 = 254 → 150 + the rest
    assert node.spool.backlog() == (3, 404) and node.spool.open_count() == 0
    seq, readings = node.spool.oldest()
    assert seq == 1 and len(readings) == 150 and readings[0][1] == clock() - 1.0
    assert [t for _, t, _ in readings] == sorted(t for _, t, _ in readings)


def test_a_replay_resumes_where_it_stopped(tmp_path):
    clock = FakeClock(1_795_000_000.0)
    path = str(tmp_path / "s.db")
    first = ReplayFile([1.0, 2.0, 3.0, 4.0, 5.0], "vibration", rate_hz=2, name="f.csv")
    node = Node("http://plant", None, first, Spool(path), clock=clock)
    node.produce(clock())
    clock.advance(0.5)
    node.produce(clock())
    node.spool.close()
    again = ReplayFile([1.0, 2.0, 3.0, 4.0, 5.0], "vibration", rate_hz=2, name="f.csv")
    node = Node("http://plant", None, again, Spool(path), clock=clock)
    clock.advance(10)
    node.produce(clock())
    assert again.finished and [v for _, _, v in node.spool.oldest()[1]] == [1.0, 2.0]
    node.spool.done(1)
    values = [v for _, _, v in node.spool.oldest()[1]]
    assert values == [3.0, 4.0, 5.0]


def test_flask_node_replays_a_file_to_the_server_and_exits(push_server, tmp_path):
    server, token = push_server
    series = tmp_path / "series.csv"
    series.write_text("timestamp,value\n" + "".join(f"2014-04-10 00:{i:02d}:00,{i}.5\n" for i in range(30)))
    runner = server.app.test_cli_runner()
    result = runner.invoke(args=["node", "--push", server.url, "--token", token, "--replay", str(series),
                                 "--sensor", "pressure", "--rate", "200", "--spool", str(tmp_path / "n.db")])
    assert result.exit_code == 0, result.output
    assert "30 readings sent, 0 rejected" in result.output
    stored, rows = stored_readings(server, 30)
    assert [float(r["value"]) for r in rows] == [i + 0.5 for i in range(30)]
    assert {r["sensor"] for r in rows} == {"pressure"}


@pytest.mark.parametrize("args, words", [
    (["--replay", "{csv}"], "--replay needs --sensor"),
    (["--sensors", "vibration,nope"], "unknown sensor(s) nope"),
    (["--sensor", "vibration"], "--sensor goes with --replay"),
    (["--batch-size", "20000"], "batch-size"),
])
def test_flask_node_refuses_bad_options(app, tmp_path, args, words):
    series = tmp_path / "s.csv"
    series.write_text("timestamp,value\n2014-04-10 00:00:00,1\n")
    args = [a.replace("{csv}", str(series)) for a in args]
    result = app.test_cli_runner().invoke(args=["node", "--push", "http://127.0.0.1:9", "--token", "x", *args])
    assert result.exit_code == 2 and words in result.output


def test_a_days_long_outage_keeps_the_backoff_at_its_ceiling(tmp_path):
    def down(url, body, headers, timeout):
        raise ConnectionRefusedError("down")

    clock = FakeClock(1_795_000_000.0)
    node = Node("http://plant", None, Scripted([("a", clock(), 1.0)]), Spool(str(tmp_path / "s.db")), post=down,
                clock=clock, backoff_max_s=30, jitter=lambda: 1.0)
    node.produce(clock())
    delays = []
    for _ in range(3000):  # more than a day of tries
        node.send_step(clock())
        delays.append(node.next_try - clock())
        clock.advance(delays[-1])
    assert delays[:4] == [0.5, 1.0, 2.0, 4.0] and set(delays[-100:]) == {30.0}
    assert node.failures == 3000 and node.spool.backlog() == (1, 1)


def test_the_edge_program_runs_on_its_own_and_creates_no_database(push_server, tmp_path):
    """``python -m helpers.edge``: the node without Flask's app, so no data.db appears where it runs."""
    server, token = push_server
    series = tmp_path / "series.csv"
    series.write_text("timestamp,value\n" + "".join(f"2014-04-10 00:{i:02d}:00,{i}.25\n" for i in range(12)))
    work = tmp_path / "edge"
    work.mkdir()
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    result = subprocess.run([sys.executable, "-m", "helpers.edge", "--push", server.url, "--token", token,
                             "--replay", str(series), "--sensor", "vibration", "--rate", "200"],
                            cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "12 readings sent, 0 rejected" in result.stderr
    stored, rows = stored_readings(server, 12)
    assert [float(r["value"]) for r in rows] == [i + 0.25 for i in range(12)]
    assert sorted(p.name for p in work.iterdir()) == ["node-spool.db"]  # its spool, and no database
    bad = subprocess.run([sys.executable, "-m", "helpers.edge", "--push", "ftp://x"], cwd=work, env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "http://" in bad.stderr
