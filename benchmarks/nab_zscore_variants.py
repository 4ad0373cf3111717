"""How far the plain z-score gets on NAB without the likelihood step: a study, beside the live z-score.

    .venv/bin/python benchmarks/nab_zscore_variants.py [--corpus ../shared/data/nab-dev]

Issue 8 asks the z-score (the default, fast detector) to score at least 40 on the NAB dev corpus
(standard profile). The live one flags every reading beyond |z| > 3 and scores 0.00: on real series
its false positives cost more than its detections earn at any threshold. This script tries the two
ideas an engineer would try first on the same z-score, each with one configuration for every file,
causal, labels only to score, and NAB's corpus-wide threshold sweep over the score:

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

from helpers.cli_evaluate import read_file  # noqa: E402
from helpers.core.nab import FileScores, score_corpus  # noqa: E402
from helpers.core.nab.loader import load_labels  # noqa: E402
from helpers.core.rolling_stats import RollingMoments  # noqa: E402
from helpers.core.zscore import ZScoreDetector, z_to_score  # noqa: E402
from helpers.runtime.evaluation import NAB_PROFILES, corpus_files  # noqa: E402

Z_HALF = 20.0


def live(values, model_size=100, threshold=3.0):
    """The live z-score as `flask evaluate --detector zscore` scores it (erf of |z|)."""
    detector = ZScoreDetector(model_size, threshold, 30)
    return [z_to_score(detector.update(x).z) for x in values]


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
    parser.add_argument("--corpus", default=str(Path(__file__).resolve().parents[2] / "shared/data/nab-dev"))
    corpus = Path(parser.parse_args().corpus)
    labels = load_labels(corpus)
    names = corpus_files(corpus / "data", labels)
    series = {name: read_file(corpus / "data" / name, name) for name in names}

    def scores(detect):
        files = [FileScores(n, ts, np.asarray(detect(values), dtype=np.float64)) for n, (ts, values) in series.items()]
        return [score_corpus(files, labels, weights).score for weights in NAB_PROFILES.values()]

    rows = [("live zscore (baseline)", scores(live))]
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
