"""How far the plain z-score gets on NAB without the likelihood step: a study, beside the live z-score.

    .venv/bin/python benchmarks/nab_zscore_variants.py [--corpus NAB_FOLDER]  (default: $NAB_CORPUS)

Issue 8 asks the z-score (the default, fast detector) to score at least 40 on the NAB dev corpus
(standard profile). Its per-reading flag (every reading beyond |z| > 3) scores 0.00: on real series
its false positives cost more than its detections earn at any threshold. This script scores, each
with one configuration for every file, causal, labels only to score, and NAB's corpus-wide threshold
sweep over the score:

* **excursion alarms**: what the live z-score reports besides its per-reading flag — at most one
  alarm per run of out-of-band readings, when it is unusual for the sensor or a new extreme
  (``helpers/core/detectors/zscore_alarm.py``) — and the same rule with its knobs moved, to show the score is
  not a peak picked on these files;
* **hold-off**: report only the first flag of an excursion (no flag in the ``hold`` readings before),
  with the live z-score's model (``model_size`` readings, flagged ones kept out) at ``threshold``;
* **x̄ chart**: the same, on the z of the mean of the last ``k`` readings (a Shewhart x̄ chart).

The score of a reported reading is ``|z| / (|z| + 20)`` (what the detectors' contract uses); other
readings score 0. It prints the three NAB profiles for each setting, the live ``zscore`` first.
"""
from __future__ import annotations

import argparse
import itertools
import math
import sys
from collections import deque
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.config import nab_corpus  # noqa: E402
from helpers.cli.evaluate import read_file  # noqa: E402
from helpers.core.evaluation.nab import FileScores, score_corpus  # noqa: E402
from helpers.core.evaluation.nab.loader import load_labels  # noqa: E402
from helpers.core.stats.rolling_moments import RollingMoments  # noqa: E402
from helpers.core.detectors.zscore import ZScoreDetector, z_to_score  # noqa: E402
from helpers.core.detectors.zscore_alarm import ExcursionAlarm  # noqa: E402
from helpers.runtime.jobs.evaluation import NAB_PROFILES, corpus_files  # noqa: E402

Z_HALF = 20.0


def live(values, model_size=100, threshold=3.0):
    """The live z-score as `flask evaluate --detector zscore` scores it (erf of |z|)."""
    detector = ZScoreDetector(model_size, threshold, 30)
    return [z_to_score(detector.update(x).z) for x in values]


def alarms(values, threshold=3.0, estimation=300, extreme_tolerance=0.05):
    """The live z-score's excursion alarms (helpers/core/detectors/zscore_alarm.py): 1 at an alarm, else 0."""
    detector = ZScoreDetector(100, threshold, 30)
    detector._alarm = ExcursionAlarm(estimation, extreme_tolerance)  # the live defaults unless moved
    return [1.0 if detector.update(x).alarm else 0.0 for x in values]


def held_off(values, model_size, threshold, hold, k=1):
    """The first flag of each excursion, on the z of the mean of the last ``k`` readings."""
    model, recent, out, since = RollingMoments(model_size), deque(maxlen=k), [], math.inf
    for x in values:
        recent.append(x)
        since += 1
        score, flagged = 0.0, False
        if len(model.values) >= min(model_size, 100):
            mean, std = model.mean_std()
            z = (sum(recent) / len(recent) - mean) / ((std or 1e-9 * max(abs(mean), 1.0)) / math.sqrt(len(recent)))
            flagged = abs(z) > threshold
            if flagged:
                if since > hold:
                    score = abs(z) / (abs(z) + Z_HALF)
                since = 0
        if not flagged:
            model.push(x)
        out.append(score)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(nab_corpus()))
    corpus = Path(parser.parse_args().corpus)
    labels = load_labels(corpus)
    names = corpus_files(corpus / "data", labels)
    series = {name: read_file(corpus / "data" / name, name) for name in names}

    def scores(detect):
        files = [FileScores(n, ts, np.asarray(detect(values), dtype=np.float64)) for n, (ts, values) in series.items()]
        return [score_corpus(files, labels, weights).score for weights in NAB_PROFILES.values()]

    rows = [("live zscore, every out-of-band reading (baseline)", scores(live)),
            ("live zscore, its excursion alarms", scores(alarms))]
    for threshold, estimation, tolerance in ((2.5, 300, 0.05), (4.0, 300, 0.05), (5.0, 300, 0.05),
                                             (3.0, 200, 0.05), (3.0, 400, 0.05), (3.0, 300, 0.02),
                                             (3.0, 300, 0.10), (3.0, 300, None)):
        rows.append((f"  alarms: |z| > {threshold:g}, likelihood after {estimation}, "
                     f"extreme {'off' if tolerance is None else f'+{tolerance:.0%}'}",
                     scores(lambda v: alarms(v, threshold, estimation, tolerance))))
    for model_size, threshold, hold in itertools.product((100, 1000), (3.0, 5.0), (100, 400)):
        rows.append((f"hold-off: model {model_size}, |z| > {threshold:g}, hold {hold}",
                     scores(lambda v: held_off(v, model_size, threshold, hold))))
    for model_size, threshold, hold, k in itertools.product((1000, 2000), (8.0, 12.0), (50, 100), (10, 20)):
        rows.append((f"x̄ chart: model {model_size}, k {k}, |z| > {threshold:g}, hold {hold}",
                     scores(lambda v: held_off(v, model_size, threshold, hold, k))))
    width = max(len(name) for name, _ in rows)
    print(f"NAB dev corpus: {len(names)} files; standard / low FP / low FN")
    print(f"{'variant':{width}} | standard | low FP | low FN")
    print(f"{'-' * width}-|----------|--------|-------")
    for name, (standard, low_fp, low_fn) in rows:
        print(f"{name:{width}} | {standard:8.2f} | {low_fp:6.2f} | {low_fn:6.2f}")


if __name__ == "__main__":
    main()
