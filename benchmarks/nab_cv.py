"""The honest selection protocol on NAB: each detector family's knobs chosen by 5-fold cross-validation.

    .venv/bin/python benchmarks/nab_cv.py [--corpus NAB_FOLDER] [--folds 5] [--seed 0] [--only FAMILY]

For every family below, every configuration runs causally over every file (one configuration for all
files, labels only to score), then ``helpers/core/evaluation/cv.py`` picks the configuration *and* NAB's
threshold on four folds and scores the fifth with them, for each fold in turn (folds by file, stratified
by category, fixed seed). The out-of-fold score is the one that counts; the in-sample score (the best
configuration and threshold picked on all 29 files) stands beside it, and the gap is what the tuning took
from the files it was scored on. Each profile (standard, low FP, low FN) runs its own selection.

Families and their grids (the knobs each detector has; the defaults are among them):

* ``zscore_alarm``, the live default's excursion alarm: |z| threshold 2.5 / 3 / 4, the likelihood's
  learning length 200 / 300 / 400 verdicts, the new-extreme margin 2 % / 5 % / 10 % (27 configurations);
* ``multiview_seasonal+likelihood``: the weekly baseline (off / 8 weeks), the early new-extreme rule
  (off / after 50 readings), the hold-off (off / 800 readings) (8 configurations);
* ``robust_zscore+likelihood``: window 300 / 1000 readings;
* ``zscore+likelihood``, ``knn+likelihood``, ``ensemble_max``: their one configuration (the threshold is
  still chosen out of fold);
* ``lstm+likelihood``: the LSTM autoencoder trained on each file's first max(15 %, 320) rows (seed 0, 20
  epochs), its error (smoothed with weight 1 / 0.5 / 0.2: 3 configurations) through the anomaly likelihood
  and the new-extreme rule; a file too short to train on scores 0.

The SARIMA + LSTM ``forecast`` family is left out: one pass over the corpus takes too long here.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.cli.evaluate import PROFILE_LABELS, read_file  # noqa: E402
from helpers.config import nab_corpus  # noqa: E402
from helpers.core.detectors.contract import run  # noqa: E402
from helpers.core.detectors.presets import make as make_spec  # noqa: E402
from helpers.core.detectors.likelihood import AnomalyLikelihood, WithLikelihood  # noqa: E402
from helpers.core.detectors.mean_zscore import MeanZScore  # noqa: E402
from helpers.core.detectors.multiview import MultiView  # noqa: E402
from helpers.core.detectors.presets import ENSEMBLES, PRESETS  # noqa: E402
from helpers.core.detectors.robust_zscore import RobustZScore  # noqa: E402
from helpers.core.detectors.zscore import ZScoreDetector  # noqa: E402
from helpers.core.detectors.zscore_alarm import ExcursionAlarm  # noqa: E402
from helpers.core.evaluation.batch import score_series  # noqa: E402
from helpers.core.evaluation.cv import cross_validate  # noqa: E402
from helpers.core.lstm.windows import NotEnoughDataError  # noqa: E402
from helpers.core.evaluation.nab import FileScores  # noqa: E402
from helpers.core.evaluation.nab.loader import load_labels  # noqa: E402
from helpers.runtime.jobs.evaluation import NAB_PROFILES, corpus_files  # noqa: E402

def alarm_scores(values, threshold, estimation, tolerance):
    detector = ZScoreDetector(100, threshold, 30)
    detector._alarm = ExcursionAlarm(estimation, tolerance)
    return [1.0 if detector.update(x).alarm else 0.0 for x in values]


def streaming(make, seasonal):
    def detect(values, timestamps):
        return [0.0 if s is None else s for s in run(make(), values, timestamps if seasonal else None)]
    return detect


def families():
    """Family name -> {configuration name -> detect(values, timestamps) -> scores}."""
    out = {"zscore_alarm": {}}
    for threshold, estimation, tolerance in itertools.product((2.5, 3.0, 4.0), (200, 300, 400), (0.02, 0.05, 0.10)):
        out["zscore_alarm"][f"|z|>{threshold:g} learn {estimation} extreme +{tolerance:.0%}"] = (
            lambda v, t, a=threshold, b=estimation, c=tolerance: alarm_scores(v, a, b, c))
    out["multiview_seasonal+likelihood"] = {}
    for weeks, early, hold in itertools.product((None, 8), (None, 50), (0, 800)):
        name = f"weeks {weeks or 'off'}, early {early or 'off'}, hold {hold or 'off'}"
        out["multiview_seasonal+likelihood"][name] = streaming(
            lambda w=weeks, e=early, h=hold: MultiView(weeks=w, early=e, hold=h), seasonal=True)
    out["robust_zscore+likelihood"] = {
        f"window {w}": streaming(lambda w=w: WithLikelihood(RobustZScore(window=w), AnomalyLikelihood()), False)
        for w in (300, 1000)}
    out["zscore+likelihood"] = {"default": streaming(lambda: WithLikelihood(MeanZScore(), AnomalyLikelihood()), False)}
    out["knn+likelihood"] = {"default": streaming(PRESETS["knn+likelihood"], False)}
    out["ensemble_max"] = {"default": streaming(lambda: make_spec(ENSEMBLES["ensemble_max"]), True)}
    out["lstm+likelihood"] = {f"smoothing {w:g}": (lambda v, t, w=w: lstm_likelihood(v, w)) for w in (1.0, 0.5, 0.2)}
    return out


def lstm_likelihood(values, smoothing):
    """The LSTM's error through the anomaly likelihood; a file too short to train on scores 0 (never detects)."""
    try:
        return [score for score, _ in score_series(values, "lstm+likelihood",
                                                   {"seed": 0, "device": "cpu", "smoothing": smoothing})]
    except NotEnoughDataError:
        return [0.0] * len(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=nab_corpus())
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", action="append", help="run only this family (repeatable)")
    args = parser.parse_args()
    if not (args.corpus / "labels" / "combined_windows.json").is_file():
        sys.exit(f"no NAB corpus at {args.corpus} (set --corpus or NAB_CORPUS)")
    labels = load_labels(args.corpus)
    names = corpus_files(args.corpus / "data", labels)
    series = {name: read_file(args.corpus / "data" / name, name) for name in names}
    windows = {n: labels[n] for n in names}
    print(f"NAB: {len(names)} files, {sum(len(w) for w in windows.values())} windows; {args.folds} folds "
          f"stratified by category, seed {args.seed}")
    print()
    print("| detector | configurations | profile | in-sample | out-of-fold | in − out | chosen per fold | run time |")
    print("|---|---|---|---|---|---|---|---|")
    for family, configs in families().items():
        if args.only and family not in args.only:
            continue
        start = time.perf_counter()
        candidates = {}
        for config, detect in configs.items():
            candidates[config] = {n: FileScores(n, ts, np.asarray(detect(values, ts), dtype=np.float64))
                                  for n, (ts, values) in series.items()}
        seconds = time.perf_counter() - start
        for profile, weights in NAB_PROFILES.items():
            result = cross_validate(candidates, windows, weights, args.folds, args.seed)
            picks = "; ".join(f"{c.config}" for c in result.choices) if len(configs) > 1 else "—"
            print(f"| {family} | {len(configs)} | {PROFILE_LABELS[profile]} | {result.in_sample:.2f} | "
                  f"{result.out_of_fold:.2f} | {result.optimism:+.2f} | {picks} | {seconds:.0f} s |", flush=True)


if __name__ == "__main__":
    main()
