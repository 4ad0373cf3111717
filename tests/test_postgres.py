"""The same app on a real PostgreSQL server: storage, routes, sampler and lease are not SQLite-only."""
from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from app import create_app
from helpers.core.line.simulator import DEFAULT_SENSORS, LineSimulator
from helpers.runtime.sampler import Sampler
from helpers.storage.db import db
from helpers.storage.models import Reading
from tests.helpers_for_tests import FakeClock, drive, started_sampler


def pg_app(url, **overrides):
    return create_app({"DATABASE_URL": url, "SAMPLER_AUTOSTART": False, "SIMULATOR_SEED": 1, **overrides})


def test_routes_and_sampler_on_postgres(postgres_url):
    app = pg_app(postgres_url, MODEL_SIZE=10)
    client = app.test_client()
    assert client.post("/send_control", json={"z_threshold": 3.5}).get_json()["z_threshold"] == 3.5
    assert client.post("/send_control", json={"z_threshold": "x"}).status_code == 400
    clock = FakeClock(1_800_000_000.0)
    sampler = started_sampler(app, clock)
    drive(app, sampler, clock, 30.0, tick=1.0)
    body = client.get("/get_data?sensor=pressure&window=5").get_json()
    assert len(body["points"]) == 5 and body["completeness"] == 100.0
    assert body["points"][-1]["threshold"] == 3.5
    assert client.post("/send_control", json={"rebaseline": "pressure"}).status_code == 200
    drive(app, sampler, clock, 1.0, tick=1.0)
    assert client.get("/get_data?sensor=pressure&window=1").get_json()["baseline_state"] == "learning"
    # A restart on the same database continues where it was.
    restarted = Sampler(pg_app(postgres_url), LineSimulator(DEFAULT_SENSORS, seed=2), clock=clock)
    with restarted.app.app_context():
        restarted.start()
    assert next(iter(restarted.monitors.values())).detector.completeness == 100.0


def test_lease_lets_one_of_two_candidates_sample_on_postgres(postgres_url):
    app = pg_app(postgres_url, SAMPLE_RATE_HZ=10.0, SAMPLER_HEARTBEAT_SECONDS=0.2)
    stops = [threading.Event(), threading.Event()]
    samplers = [Sampler(app, LineSimulator(DEFAULT_SENSORS, seed=i)) for i in range(2)]
    threads = [threading.Thread(target=s.run, args=(e,)) for s, e in zip(samplers, stops)]
    started = time.monotonic()
    for th in threads:
        th.start()
    time.sleep(3.0)
    for e in stops:
        e.set()
    for th in threads:
        th.join(10)
    elapsed = time.monotonic() - started  # more than 3 s on a loaded machine: the sampler ran that long
    assert sorted(bool(s.readings_stored) for s in samplers) == [False, True]
    with app.app_context():
        per_sensor = db.session.execute(select(Reading.sensor_id, func.count()).group_by(Reading.sensor_id)).all()
    # One sampler at 10 Hz; two would store about twice as many.
    assert per_sensor and all(n <= 10 * elapsed + 3 for _, n in per_sensor), (per_sensor, elapsed)
