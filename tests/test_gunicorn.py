"""gunicorn with 2 workers: the line is sampled exactly once, at its rate."""
from __future__ import annotations

import subprocess
import time

import pytest
import requests

from tests import server_process

RATE = 5.0


def counts_between(db_url, t0, t1):
    """Readings per sensor stamped in [t0, t1): by reading time, so a busy machine's lag does not matter."""
    return dict(server_process.query(
        db_url, "SELECT s.name, count(r.id) FROM sensors s LEFT JOIN readings r "
        "ON r.sensor_id = s.id AND r.t >= :t0 AND r.t < :t1 GROUP BY s.name", t0=t0, t1=t1))


@pytest.fixture
def gunicorn_server(tmp_path):
    with server_process.gunicorn(tmp_path, SAMPLE_RATE_HZ=str(RATE), MODEL_SIZE="10", WEB_CONCURRENCY="2") as live:
        yield live


def worker_pids(master_pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master_pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def test_two_workers_sample_each_sensor_once_at_its_rate(gunicorn_server):
    base, db_url, proc = gunicorn_server
    # /healthz can answer while the second worker is still booting: wait for both.
    deadline = time.time() + 30
    while len(worker_pids(proc.pid)) < 2 and time.time() < deadline:
        time.sleep(0.2)
    assert len(worker_pids(proc.pid)) == 2
    # Requests reach both workers (each starts a candidate); only the lease holder samples.
    for _ in range(20):
        assert requests.get(f"{base}/get_data?sensor=vibration&window=5", timeout=5).status_code == 200
    t0 = time.time()
    time.sleep(8.0 + 3.0)  # the window, then time for the last readings to be flushed
    per_sensor = counts_between(db_url, t0, t0 + 8.0)
    assert len(per_sensor) == 4
    for name, n in per_sensor.items():
        assert abs(n - 8.0 * RATE) <= 2, f"{name}: {n} readings in 8 s, want {8.0 * RATE:.0f}"
    ts = [t for (t,) in server_process.query(
        db_url, "SELECT r.t FROM readings r JOIN sensors s ON s.id = r.sensor_id WHERE s.name='pressure' ORDER BY r.id")]
    owner = server_process.query(db_url, "SELECT owner FROM sampler_lease")[0][0]
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    assert min(gaps) > 0.5 / RATE, "no duplicated or interleaved second sampler"
    assert int(owner.split(":")[1]) != proc.pid, "the sampler runs in a worker, never in the master"
    assert int(owner.split(":")[1]) in worker_pids(proc.pid)
