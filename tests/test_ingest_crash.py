"""kill -9 under a stream of pushed batches: every acknowledged reading survives, once, and no batch is half there.

gunicorn (2 workers) takes batches on POST /api/readings from two pushers; the
whole process group is SIGKILLed mid-stream, the database is checked as the
crash left it, then the server starts again on it, the pushers retry what had
no answer (same Idempotency-Key, as the edge node does) and the sampler judges
the queue. SQLite always; PostgreSQL too where Debian's server is installed.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
import requests
import sqlalchemy
from sqlalchemy import text

from tests import server_process
from tests.postgres_server import on_postgres

ROOT = Path(__file__).resolve().parent.parent
PER_SENSOR = 10  # readings per sensor per batch
PUSHERS = {"a": ("vibration", "pressure"), "b": ("motor_temperature", "energy_use")}
KILL_AFTER_ACKED = 60  # batches acknowledged (both pushers together) before the kill


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        if on_postgres():
            pytest.skip("a PostgreSQL run: the SQLite pass runs this one")
        return f"sqlite:///{tmp_path / 'crash.db'}"
    return request.getfixturevalue("postgres_url")


def serve(tmp_path: Path, url: str, port: int):
    """gunicorn on ``url`` in its own process group (so SIGKILL reaches master and workers alike)."""
    env = {**os.environ, "DATABASE_URL": url, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2",
           "SAMPLER_LEASE_SECONDS": "2", "SAMPLER_HEARTBEAT_SECONDS": "0.5", "MAIL_AUTOSTART": "0",
           "SIMULATOR_SEED": "1"}
    argv = [str(Path(sys.executable).with_name("gunicorn")), "-c", "gunicorn.conf.py", "app:create_app()"]

    def ready():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/get_control", timeout=2) as response:
            return response.status == 200
    return server_process.start(argv, tmp_path / "gunicorn.out", ready, 60.0, cwd=ROOT, env=env,
                                start_new_session=True)


def make_batch(pusher: str, seq: int, t0: float) -> dict:
    """``seq``'s readings: distinct times per sensor, values that say which batch they came from."""
    readings = []
    for sensor in PUSHERS[pusher]:
        for i in range(PER_SENSOR):
            readings.append({"sensor": sensor, "timestamp": t0 + seq + i / PER_SENSOR, "value": seq * 1000.0 + i})
    return {"readings": readings}


class Pusher(threading.Thread):
    """Posts batch after batch; remembers which got a 2xx and which got no answer (the crash)."""

    def __init__(self, name: str, base: str, t0: float):
        super().__init__(daemon=True)
        self.pusher, self.base, self.t0 = name, base, t0
        self.acked: list[int] = []
        self.unanswered: list[int] = []
        self.refused: list[tuple[int, int, str]] = []
        self.halt = threading.Event()

    def post(self, seq: int, base: str) -> requests.Response:
        return requests.post(f"{base}/api/readings", json=make_batch(self.pusher, seq, self.t0), timeout=10,
                             headers={"Idempotency-Key": f"{self.pusher}:{seq}"})

    def run(self) -> None:
        seq = 0
        while not self.halt.is_set():
            try:
                response = self.post(seq, self.base)
            except requests.RequestException:
                self.unanswered.append(seq)
                return
            if 200 <= response.status_code < 300:
                self.acked.append(seq)
            else:
                self.refused.append((seq, response.status_code, response.text[:200]))
                return
            seq += 1


def batch_keys(pusher: str, seq: int, t0: float) -> set[tuple[str, float]]:
    return {(r["sensor"], r["timestamp"]) for r in make_batch(pusher, seq, t0)["readings"]}


def stored_and_queued(engine) -> tuple[Counter, Counter]:
    """``(sensor, t)`` → how often it is among the judged readings, and among the queued ones."""
    import json
    with engine.connect() as conn:
        names = dict(conn.execute(text("SELECT id, name FROM sensors")).all())
        judged = Counter((names[s], t) for s, t in conn.execute(text("SELECT sensor_id, t FROM readings")))
        queued = Counter()
        for (raw,) in conn.execute(text("SELECT rows FROM ingest_batches")):
            queued.update((names[s], t) for s, t, _v in json.loads(raw))
    return judged, queued


def test_kill_9_mid_stream_loses_no_acknowledged_reading_and_half_writes_nothing(tmp_path, database_url):
    port = server_process.free_port()
    base = f"http://127.0.0.1:{port}"
    t0 = time.time() - 7 * 86_400  # in the past, so no reading is "in the future"
    process = serve(tmp_path, database_url, port)
    try:
        assert requests.post(f"{base}/send_control", json={"source": "push"}, timeout=10).status_code == 200
        pushers = [Pusher(name, base, t0) for name in PUSHERS]
        for p in pushers:
            p.start()
        deadline = time.monotonic() + 60
        while sum(len(p.acked) for p in pushers) < KILL_AFTER_ACKED and time.monotonic() < deadline:
            assert all(not p.refused for p in pushers), [p.refused for p in pushers]
            time.sleep(0.005)
        os.killpg(process.pid, signal.SIGKILL)  # master and workers, mid-request
        process.wait(10)
        for p in pushers:
            p.halt.set()
            p.join(15)
        assert sum(len(p.acked) for p in pushers) >= KILL_AFTER_ACKED
        assert any(p.unanswered for p in pushers), "the kill came between requests, not during one"
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.5)  # workers orphaned by the master exit on their own; a killed group leaves none
    engine = sqlalchemy.create_engine(database_url)
    try:
        # As the crash left it: each batch is there whole (judged or queued) or not at all.
        judged, queued = stored_and_queued(engine)
        for p in pushers:
            for seq in p.acked + p.unanswered:
                keys = batch_keys(p.pusher, seq, t0)
                present = [judged[k] + queued[k] for k in keys]
                if seq in p.acked:
                    assert present == [1] * len(keys), f"acknowledged batch {p.pusher}:{seq} is {present}"
                else:
                    assert set(present) in ({0}, {1}), f"batch {p.pusher}:{seq} half-written: {present}"

        process = serve(tmp_path, database_url, port)
        try:
            for p in pushers:  # the retries an edge node makes: same key, so nothing twice
                for seq in p.unanswered:
                    assert p.post(seq, base).status_code in (200, 201)
            sent = {k for p in pushers for seq in p.acked + p.unanswered for k in batch_keys(p.pusher, seq, t0)}
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                judged, queued = stored_and_queued(engine)
                if not queued and sent <= set(judged):
                    break
                time.sleep(0.2)
        finally:
            server_process.stop(process, timeout_s=30)
        judged, queued = stored_and_queued(engine)
        assert not queued, "the restarted sampler left batches unjudged"
        assert sent <= set(judged), f"{len(sent - set(judged))} acknowledged readings missing"
        twice = {k: n for k, n in judged.items() if n > 1}
        assert not twice, f"readings stored more than once: {list(twice)[:5]}"
        with engine.connect() as conn:
            keys = [k for (k,) in conn.execute(text("SELECT key FROM ingest_keys"))]
        assert sorted(keys) == sorted(f"{p.pusher}:{seq}" for p in pushers for seq in p.acked + p.unanswered)
    finally:
        engine.dispose()
