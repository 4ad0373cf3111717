"""LSTM detector benchmarks: each figure beside a baseline measured in the same run.

    .venv/bin/python benchmarks/bench_lstm.py [--quick]

1. Training on 10,000 simulated vibration readings for 20 epochs with the
   training thread bound (two at most), against the same run on one thread
   (best of two runs each, alternated, after a warm-up run).
2. Live scoring latency per reading, LSTMScorer.update on one thread (median,
   p99), against the rolling z-score's update on the same readings.
3. Batch scoring (score_series) readings/s, against update one by one.
4. Process memory (RSS) with torch loaded and a model trained, against the
   same process before torch was imported.
5. The sampler's sustained readings/s into SQLite with every sensor's LSTM on,
   against the same sampler with the z-score alone.
6. The live sampler (its own thread, real time, 4 sensors at 50 Hz) while a
   training runs in the same process, against the same seconds without one:
   does it keep its rate?
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from table import print_table  # noqa: E402  (this folder)

from helpers.core.line.simulator import DEFAULT_SENSORS, LineSimulator  # noqa: E402
from helpers.core.detectors.zscore import ZScoreDetector  # noqa: E402


def rss_mb() -> float:
    """Resident memory of this process now, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def readings(n: int) -> list[float]:
    """The simulated vibration sensor at 1 Hz: a 240 s cycle plus noise."""
    simulator = LineSimulator(DEFAULT_SENSORS, seed=1)
    return [simulator.sample("vibration", float(t)) for t in range(n)]


def per_call_ms(update, values) -> list[float]:
    timings = []
    clock = time.perf_counter
    for x in values:
        start = clock()
        update(x)
        timings.append((clock() - start) * 1e3)
    return timings


def compare(ours: float, baseline: float) -> str:
    """Time ratio as "N x faster" or "N x slower" than the baseline."""
    if ours <= baseline:
        return f"{baseline / ours:.1f}x faster"
    return f"{ours / baseline:.1f}x slower"


def p99(timings: list[float]) -> float:
    return statistics.quantiles(timings, n=100)[98]


def sampler_rate(app, sampler, clock, seconds: float) -> float:
    """Readings/s of the real sampler (simulate, judge, store), one simulated second per step."""
    start, stored = time.perf_counter(), sampler.readings_stored
    with app.app_context():
        while time.perf_counter() - start < seconds:
            clock.now += 1.0
            sampler.step()
            sampler.flush()
    return (sampler.readings_stored - stored) / (time.perf_counter() - start)


def bench_sampler_with_lstm(seconds: float) -> tuple[str, str, str, str]:
    import tempfile

    from app import create_app
    from helpers.runtime.jobs import training
    from helpers.runtime.sampler import Sampler
    from helpers.storage import model_registry as registry
    from helpers.storage import line as line_store
    from helpers.storage import settings as settings_store

    class Clock:
        now = time.time()

        def __call__(self):
            return self.now

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp}/bench.db", "SAMPLER_AUTOSTART": False,
                          "SAMPLE_RATE_HZ": 100.0, "MODEL_SIZE": 100, "SIMULATOR_SEED": 1, "MODELS_DIR": tmp,
                          "SAMPLER_MAX_CATCHUP_SECONDS": 1e9, "TRAINING_EPOCHS": 2})
        clock = Clock()
        sampler = Sampler(app, LineSimulator(DEFAULT_SENSORS, seed=1), clock=clock)
        with app.app_context():
            sampler.start()
        sampler_rate(app, sampler, clock, 2.0)  # history to train on
        with app.app_context():
            for sensor in line_store.all_sensors():
                job = training.request_training(app, registry.sensor_target(sensor.name), "cli")
                training.run_job(app, job.id)
            settings_store.save_settings({"lstm_enabled": True})
        with_lstm = sampler_rate(app, sampler, clock, seconds)
        assert all(m.shape is not None for m in sampler.monitors.values()), "every sensor scored by its LSTM"
        with app.app_context():
            settings_store.save_settings({"lstm_enabled": False})
        alone = sampler_rate(app, sampler, clock, seconds)
    return ("sampler into SQLite, 4 sensors", f"{with_lstm:,.0f} readings/s with every LSTM on",
            f"{alone:,.0f} readings/s z-score alone", compare(1 / with_lstm, 1 / alone))


def bench_rate_during_training(epochs: int) -> tuple[str, str, str, str]:
    import sqlite3
    import tempfile
    import threading

    from app import create_app
    from helpers.runtime.jobs import training
    from helpers.runtime.service import SamplerThread
    from helpers.storage import model_registry as registry
    from helpers.storage import line as line_store

    rate_hz, sensors = 50.0, len(DEFAULT_SENSORS)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp}/live.db", "SAMPLER_AUTOSTART": False,
                          "SAMPLE_RATE_HZ": rate_hz, "MODEL_SIZE": 100, "MODELS_DIR": tmp,
                          "TRAINING_EPOCHS": epochs, "TRAINING_READINGS": 10_000})
        live = SamplerThread(app).start()
        try:
            time.sleep(30.0)  # ~1,500 readings per sensor to train on

            def stamped(start: float, end: float) -> float:
                """Readings/s stamped in [start, end): by reading time, so flush timing does not matter."""
                time.sleep(max(end + 1.0 - time.time(), 0.0))  # let the last of them be stored
                with sqlite3.connect(f"{tmp}/live.db") as conn:
                    (count,) = conn.execute("SELECT count(*) FROM readings WHERE t >= ? AND t < ?",
                                            (start, end)).fetchone()
                return count / (end - start)

            def measure(seconds: float) -> float:
                start = time.time()
                time.sleep(seconds)
                return stamped(start, time.time())

            def train_one() -> None:
                with app.app_context():
                    assert training.run_job(app, job_id) is not None, "the training failed"

            quiet = measure(8.0)
            with app.app_context():
                job_id = training.request_training(app, registry.sensor_target(line_store.all_sensors()[0].name),
                                                   "cli").id
            worker = threading.Thread(target=train_one)
            started = time.time()
            worker.start()
            worker.join()
            finished = time.time()
            busy_seconds = finished - started
            busy = stamped(started, finished)
        finally:
            live.stop()
    return (f"live sampler, {sensors} sensors at {rate_hz:g} Hz", f"{busy:,.0f} readings/s during a "
            f"{busy_seconds:.1f} s training", f"{quiet:,.0f} readings/s without", compare(1 / busy, 1 / quiet))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke check")
    args = parser.parse_args()
    n, epochs, scored = (2_000, 2, 1_000) if args.quick else (10_000, 20, 5_000)
    values = readings(n + scored)
    before_torch = rss_mb()

    import torch  # noqa: E402  (after the first memory reading, on purpose)
    from helpers.core.lstm.compute import training_threads, use_one_scoring_thread
    from helpers.core.lstm.scorer import LSTMScorer
    from helpers.core.lstm.trainer import train
    with_torch = rss_mb()

    rows = [("what", "Linewatch", "baseline", "ratio")]
    threads = training_threads()
    train(values[:1_000], epochs=1, seed=1, device="cpu")  # warm-up: the first run in a process pays once
    timed = {threads: [], 1: []}
    for _ in range(1 if args.quick else 2):  # alternated, best of each: the machine is shared
        for count in (threads, 1):
            start = time.perf_counter()
            trained = train(values[:n], epochs=epochs, seed=1, device="cpu", threads=count)
            timed[count].append((time.perf_counter() - start, trained.loss_curve[-1]))
    timed = {count: min(runs) for count, runs in timed.items()}
    rows.append((f"train {n:,} readings x {epochs} epochs",
                 f"{timed[threads][0]:.1f} s on {threads} threads", f"{timed[1][0]:.1f} s on 1 thread",
                 compare(timed[threads][0], timed[1][0])))
    rows.append(("  final training loss", f"{timed[threads][1]:.5f}", f"{timed[1][1]:.5f}", ""))
    after_training = rss_mb()

    use_one_scoring_thread()
    live = values[n:]
    scorer = LSTMScorer(trained)
    lstm_ms = per_call_ms(scorer.update, live)[trained.time_steps:]
    detector = ZScoreDetector()
    for x in values[:n]:
        detector.update(x)
    z_ms = per_call_ms(detector.update, live)
    median_lstm, median_z = statistics.median(lstm_ms), statistics.median(z_ms)
    rows.append(("live score per reading, median", f"{median_lstm:.3f} ms (LSTMScorer.update, 1 thread)",
                 f"{median_z:.4f} ms (ZScoreDetector.update)", compare(median_lstm, median_z)))
    rows.append(("live score per reading, p99", f"{p99(lstm_ms):.3f} ms", f"{p99(z_ms):.4f} ms",
                 compare(p99(lstm_ms), p99(z_ms))))

    with_threads = LSTMScorer(trained)
    torch.set_num_threads(threads)
    start = time.perf_counter()
    with_threads.score_series(live)
    batch_rate = len(live) / (time.perf_counter() - start)
    live_rate = 1e3 / statistics.fmean(lstm_ms)
    rows.append((f"score {len(live):,} readings at once", f"{batch_rate:,.0f} readings/s (score_series)",
                 f"{live_rate:,.0f} readings/s (update)", compare(1 / batch_rate, 1 / live_rate)))

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows.append(("process RSS", f"{with_torch:.0f} MB with torch imported", f"{before_torch:.0f} MB before",
                 f"+{with_torch - before_torch:.0f} MB"))
    rows.append(("  after training and scoring", f"{after_training:.0f} MB now, {peak:.0f} MB peak",
                 f"{before_torch:.0f} MB before", f"+{after_training - before_torch:.0f} MB"))

    rows.append(bench_sampler_with_lstm(3.0 if args.quick else 10.0))
    # Enough epochs that the training lasts several seconds of the sampler's life.
    rows.append(bench_rate_during_training(3 if args.quick else 100))

    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, {os.cpu_count()} CPUs "
          f"(load average {os.getloadavg()[0]:.1f} at the end), "
          f"model: time_steps {trained.time_steps}, hidden {trained.module.hidden}, "
          f"batch {trained.parameters['batch_size']}")
    print_table(rows)


if __name__ == "__main__":
    main()
