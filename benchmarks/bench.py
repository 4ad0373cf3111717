"""Linewatch benchmarks: each figure beside a baseline measured in the same run.

    .venv/bin/python benchmarks/bench.py [--rows 1000000] [--quick]

1. z-score readings/s at MODEL_SIZE 100 and 1000, against the original algorithm
   (mean and stdev recomputed with the statistics module at every reading).
2. The sampler's sustained readings/s into SQLite with every field stored,
   against one ORM insert and commit per reading.
3. GET /get_data?window=1000 latency (median, p99) with N stored readings,
   against the same request with the (sensor_id, id) index dropped.
"""
from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from table import print_table  # noqa: E402  (this folder)

from app import create_app  # noqa: E402
from helpers.core.line.simulator import DEFAULT_SENSORS, LineSimulator  # noqa: E402
from helpers.core.detectors.zscore import ZScoreDetector  # noqa: E402
from helpers.runtime.sampler import Sampler  # noqa: E402
from helpers.storage.db import db  # noqa: E402
from helpers.storage.models import Reading  # noqa: E402


def series(n, seed=1):
    rng = random.Random(seed)
    return [50.0 + 5.0 * rng.gauss(0, 1) + (40.0 if rng.random() < 0.01 else 0.0) for _ in range(n)]


def original_zscore(values, model_size, threshold=3.0):
    """The first version: a list of normal values, statistics.mean/stdev over it at every reading."""
    model: list[float] = []
    flags = 0
    for x in values:
        if len(model) < model_size:
            model.append(x)
            continue
        mean, std = statistics.mean(model), statistics.stdev(model)
        if std and abs((x - mean) / std) > threshold:
            flags += 1
            continue
        model.append(x)
        model.pop(0)
    return flags


def ours(values, model_size):
    detector = ZScoreDetector(model_size=model_size, threshold=3.0, relearn_after=30)
    update = detector.update
    for x in values:
        update(x)


def rate(fn, values, *args, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn(values, *args)
        best = min(best, time.perf_counter() - t)
    return len(values) / best


def bench_zscore(quick):
    rows = []
    for model_size in (100, 1000):
        n_ours = 100_000 if quick else 300_000
        n_orig = (2_000 if model_size == 100 else 600) if quick else (6_000 if model_size == 100 else 1_500)
        warm = series(model_size)
        mine = rate(ours, warm + series(n_ours, 2), model_size)
        orig = rate(original_zscore, warm + series(n_orig, 2), model_size, repeat=1)
        rows.append((f"z-score, MODEL_SIZE {model_size}", f"{mine:,.0f} readings/s",
                     f"{orig:,.0f} readings/s", f"{mine / orig:,.0f}x"))
    return rows


class StepClock:
    def __init__(self, start):
        self.now = start

    def __call__(self):
        return self.now


def bench_sampler(tmp, seconds):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp / 'sampler.db'}", "SAMPLER_AUTOSTART": False,
                      "SAMPLE_RATE_HZ": 100.0, "SIMULATOR_SEED": 1, "SAMPLER_MAX_CATCHUP_SECONDS": 1e9})
    clock = StepClock(time.time())
    sampler = Sampler(app, LineSimulator(DEFAULT_SENSORS, seed=1), clock=clock)
    with app.app_context():
        sampler.start()
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            clock.now += 1.0          # one simulated second: 4 sensors x 100 Hz
            sampler.step()
            sampler.flush()
        elapsed = time.perf_counter() - start
        ours_rate = sampler.readings_stored / elapsed

        # Baseline: one ORM object and one commit per reading.
        detector = ZScoreDetector(model_size=100)
        sim = LineSimulator(DEFAULT_SENSORS, seed=2)
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 2:
            value = sim.sample("vibration", n * 0.01)
            v = detector.update(value)
            db.session.add(Reading(sensor_id=1, t=n * 0.01, value=value, mean=v.mean, std=v.std, z=v.z,
                                   threshold=3.0, anomaly=v.anomaly, zscore_anomaly=v.anomaly, anomaly_ratio=0.0,
                                   baseline_state=v.state, completeness=v.completeness))
            db.session.commit()
            n += 1
        base_rate = n / (time.perf_counter() - start)
    return [("sampler into SQLite, all fields", f"{ours_rate:,.0f} readings/s",
             f"{base_rate:,.0f} readings/s", f"{ours_rate / base_rate:,.0f}x")]


INSERT_READING = ("INSERT INTO readings (sensor_id, t, value, mean, std, z, threshold, anomaly, zscore_anomaly, "
                  "anomaly_ratio, baseline_state, completeness, scenario_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)")


def fill(db_path, total):
    """Write ``total`` readings interleaved as the sampler stores them.

    Two sensors at 50 Hz; one at 1 Hz, so its latest 1000 are spread through
    the table; one that stopped after the first 5 % of the rows, so its
    latest 1000 lie far back.
    """
    conn = sqlite3.connect(db_path)
    ids = dict(conn.execute("SELECT name, id FROM sensors"))
    dense = [ids["vibration"], ids["energy_use"]]
    rng = random.Random(3)
    batch = []
    t0 = time.time() - total
    for i in range(total):
        v = 50 + rng.gauss(0, 1)
        if i % 50 == 49:
            sensor = ids["pressure"]
        elif i % 4 == 1 and i < total * 0.05:
            sensor = ids["motor_temperature"]
        else:
            sensor = dense[i % 2]
        flag = abs(v - 50) > 3
        batch.append((sensor, t0 + i * 0.01, v, 50.0, 1.0, v - 50, 3.0, flag, flag, 0.01, "tracking", 100.0, None))
        if len(batch) == 100_000:
            conn.executemany(INSERT_READING, batch)
            batch = []
    if batch:
        conn.executemany(INSERT_READING, batch)
    conn.commit()
    conn.close()


def latencies(client, url, n):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200 and len(response.get_json()["points"]) == 1000, url
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.99 * len(times)))]


def bench_get_data(tmp, total, requests_n):
    db_path = tmp / "read.db"
    app = create_app({"DATABASE_URL": f"sqlite:///{db_path}", "SAMPLER_AUTOSTART": False})
    fill(db_path, total)
    client = app.test_client()
    urls = {"50 Hz sensor": "/get_data?sensor=vibration&window=1000",
            "1 Hz sensor": "/get_data?sensor=pressure&window=1000",
            "stopped sensor": "/get_data?sensor=motor_temperature&window=1000"}
    ours = {}
    for name, url in urls.items():
        client.get(url)
        ours[name] = latencies(client, url, requests_n)
    with app.app_context():
        db.session.execute(db.text("DROP INDEX ix_readings_sensor_id_id"))
        db.session.execute(db.text("DROP INDEX ix_readings_sensor_t"))
        db.session.commit()
    rows = []
    for name, url in urls.items():
        base = latencies(client, url, max(10, requests_n // 10))
        for label, mine, theirs in (("median", ours[name][0], base[0]), ("p99", ours[name][1], base[1])):
            rows.append((f"GET /get_data?window=1000, {total:,} rows, {name}: {label}", f"{mine:.2f} ms",
                         f"{theirs:.2f} ms", f"{theirs / mine:,.1f}x"))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="stored readings for the /get_data test")
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke check")
    args = parser.parse_args()
    # One core, as the targets are stated: the other one stays free for the OS.
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    rows = [("what", "Linewatch", "baseline", "speed-up")]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows += bench_zscore(args.quick)
        rows += bench_sampler(tmp, 3.0 if args.quick else 10.0)
        rows += bench_get_data(tmp, args.rows, 50 if args.quick else 200)
    print(f"python {sys.version.split()[0]}, pinned to core {sorted(os.sched_getaffinity(0))} "
          f"of {os.cpu_count()}")
    print("baselines: original statistics-module z-score; ORM insert+commit per reading; no index")
    print_table(rows)


if __name__ == "__main__":
    main()
