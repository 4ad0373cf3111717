"""The z-score family's cost: per reading live, and over the whole NAB dev corpus, beside the plain z-score.

    .venv/bin/python benchmarks/bench_detectors.py [--readings 20000] [--corpus DIR] [--skip-corpus] [--detector NAME ...]

1. Live cost per reading: each detector's ``update`` timed one call at a time over
   ``--readings`` readings after its warm-up (median and p99), against the live
   sampler's z-score (``helpers.core.detectors.zscore.ZScoreDetector.update``, its excursion alarm included) in the
   same run; the next row is that alarm's share (``ExcursionAlarm.observe`` on the same readings).
   Target: a median of at most 50 µs for the z-score family, 2 ms for ``forecast*`` (SARIMA + LSTM,
   whose refits fall inside the timed readings: the mean shows them amortised, the p99 the LSTM pass).
2. The whole corpus: ``helpers.runtime.jobs.evaluation.evaluate`` per detector (what
   ``flask evaluate`` does: read every file, run the detector, score three profiles).
   Seasonal presets need timestamps; while ``evaluate`` does not pass them, the same
   work is done here with ``score_series(..., timestamps=...)`` (marked *).
"""
from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from table import print_table  # noqa: E402  (this folder)

from helpers.core.detectors.presets import NEEDS_TIMESTAMPS, PRESETS, make, uses_timestamps  # noqa: E402
from helpers.core.detectors.zscore import ZScoreDetector  # noqa: E402
from helpers.core.detectors.zscore_alarm import ExcursionAlarm  # noqa: E402

WARMUP = 2_000   # readings before timing: past every preset's warm-up


def series(n, seed=1):
    """A daily cycle with noise and rare spikes, one reading every 5 minutes."""
    rng = random.Random(seed)
    start = datetime(2014, 4, 1)
    values = [50.0 + 10.0 * math.sin(2 * math.pi * i / 288) + 5.0 * rng.gauss(0, 1)
              + (40.0 if rng.random() < 0.01 else 0.0) for i in range(n)]
    stamps = [(start + timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S") for i in range(n)]
    return values, stamps


def per_reading(update, values, stamps, with_time):
    """Nanoseconds of each call of ``update`` after the warm-up."""
    clock = time.perf_counter_ns
    for x, t in zip(values[:WARMUP], stamps[:WARMUP]):
        update(x, t) if with_time else update(x)
    out = []
    for x, t in zip(values[WARMUP:], stamps[WARMUP:]):
        if with_time:
            start = clock()
            update(x, t)
        else:
            start = clock()
            update(x)
        out.append(clock() - start)
    return out


def summary(ns):
    ns = sorted(ns)
    return statistics.median(ns) / 1000, ns[int(0.99 * (len(ns) - 1))] / 1000, statistics.fmean(ns) / 1000


def target_us(name):
    """Issue 8's targets: 50 µs a reading for the z-score family (multiview is robust z-scores too), 2 ms for the rest."""
    return 50 if "zscore" in name or name.startswith("multiview") else 2000


def excursion_alarm(values):
    """``ExcursionAlarm.observe`` as the live z-score calls it: each reading with its z and whether it is out of band.

    The z-scores are worked out beforehand, so the row times the alarm alone (and one ``next``).
    """
    z_score, alarm = ZScoreDetector(100, 3.0, 30), ExcursionAlarm()
    verdicts = iter([(v.z, v.anomaly) for v in map(z_score.update, values)])

    def observe(x):
        z, out_of_band = next(verdicts)
        alarm.observe(x, z, out_of_band)
    return observe


def bench_live(readings, names):
    values, stamps = series(WARMUP + readings)
    runs = [("zscore (live sampler's, baseline)", ZScoreDetector(100, 3.0, 30).update, False),
            ("  of which the zscore excursion alarm", excursion_alarm(values), False)]
    runs += [(name, make(name).update, uses_timestamps(name)) for name in names]
    table = [["detector", "median µs/reading", "p99 µs", "mean µs (refits incl.)", "× baseline median",
              "median ≤ target"]]
    baseline = None
    for label, update, with_time in runs:
        median, p99, mean = summary(per_reading(update, values, stamps, with_time))
        baseline = baseline or median
        target = target_us(label)
        table.append([label, f"{median:.1f}", f"{p99:.1f}", f"{mean:.1f}", f"{median / baseline:.1f}",
                      f"yes (≤ {target} µs)" if median <= target else f"NO (> {target} µs)"])
    print(f"live cost per reading: {readings:,} readings after a {WARMUP:,}-reading warm-up, one call at a time")
    print_table(table)


def bench_corpus(corpus, detectors):
    import numpy as np

    from helpers.cli.evaluate import read_file
    from helpers.core.evaluation.batch import score_series
    from helpers.core.evaluation.nab import FileScores, score_corpus
    from helpers.core.evaluation.nab.loader import load_labels, load_profiles
    from helpers.runtime.jobs.evaluation import corpus_files, evaluate

    labels, profiles = load_labels(corpus), load_profiles(corpus)
    names = corpus_files(corpus / "data", labels)
    rows = sum(len(read_file(corpus / "data" / n, n)[1]) for n in names)

    def with_timestamps(detector):
        """evaluate()'s work with the timestamps passed on: read, score, three profiles."""
        files = []
        for name in names:
            timestamps, values = read_file(corpus / "data" / name, name)
            scores = [s for s, _ in score_series(values, detector, {}, timestamps=timestamps)]
            files.append(FileScores(name, timestamps, np.asarray(scores, dtype=np.float64)))
        return {p: score_corpus(files, labels, w).score for p, w in profiles.items()}

    table = [["detector", "seconds", "rows/s", "× zscore time", "standard", "low FP", "low FN"]]
    baseline = None
    for detector in ["zscore", *detectors]:
        started = time.perf_counter()
        mark = ""
        result = evaluate(detector, names, labels, profiles, corpus_dir=corpus / "data", read=read_file) \
            if detector not in NEEDS_TIMESTAMPS else None
        if result is not None and not result.failed:
            scores = result.scores
        else:
            scores, mark = with_timestamps(detector), " *"
        total = time.perf_counter() - started
        baseline = baseline or total
        table.append([detector + mark, f"{total:.2f}", f"{rows / total:,.0f}", f"{total / baseline:.1f}",
                      *(f"{scores[p]:.2f}" for p in ("standard", "reward_low_FP_rate", "reward_low_FN_rate"))])
    print(f"\nwhole corpus: {corpus} — {len(names)} files, {rows:,} rows; "
          f"this machine's {__import__('os').cpu_count()} cores (* timestamps passed directly)")
    print_table(table)


def main() -> None:
    from helpers.config import nab_corpus

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=20_000)
    parser.add_argument("--corpus", type=Path, default=nab_corpus())
    parser.add_argument("--skip-corpus", action="store_true", help="only the live cost per reading")
    parser.add_argument("--detector", action="append", choices=sorted(PRESETS),
                        help="only these presets (repeat; default: all), beside the baseline")
    args = parser.parse_args()
    names = args.detector or list(PRESETS)
    bench_live(args.readings, names)
    if args.skip_corpus:
        return
    if not (args.corpus / "labels" / "combined_windows.json").is_file():
        sys.exit(f"no NAB corpus at {args.corpus} (set --corpus or NAB_CORPUS)")
    bench_corpus(args.corpus, names)


if __name__ == "__main__":
    main()
