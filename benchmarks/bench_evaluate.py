"""Corpus evaluation time per detector: each figure beside a baseline measured in the same run.

    .venv/bin/python benchmarks/bench_evaluate.py [--corpus DIR] [--skip-lstm]

For every registered detector, ``helpers.runtime.jobs.evaluation.evaluate`` over the whole NAB
dev corpus (the work of ``flask evaluate``: read every file, run the detector
causally, score three profiles with the threshold optimised per profile). Baseline: the same evaluation of a
published detector's ready-made scores (``--results``), i.e. reading and
scoring alone, with no detector to run.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from table import print_table  # noqa: E402  (this folder)

from helpers.cli.evaluate import read_file  # noqa: E402
from helpers.core.evaluation.batch import DETECTORS  # noqa: E402
from helpers.config import nab_corpus
from helpers.core.evaluation.nab.loader import load_labels, load_profiles  # noqa: E402
from helpers.runtime.jobs.evaluation import corpus_files, evaluate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=nab_corpus())
    parser.add_argument("--skip-lstm", action="store_true", help="leave out the LSTM (the slow one)")
    args = parser.parse_args()
    corpus = args.corpus
    if not (corpus / "labels" / "combined_windows.json").is_file():
        sys.exit(f"no NAB corpus at {corpus} (set --corpus or NAB_CORPUS)")
    labels, profiles = load_labels(corpus), load_profiles(corpus)
    names = corpus_files(corpus / "data", labels)
    rows = sum(len(read_file(corpus / "data" / n, n)[1]) for n in names)
    print(f"corpus: {corpus} — {len(names)} files, {rows:,} rows; this machine's {__import__('os').cpu_count()} cores")

    table = [["detector", "files", "seconds", "rows/s", "× baseline time", "NAB standard"]]
    baseline = None
    ours = [d for d in DETECTORS if d != "lstm"] + ([] if args.skip_lstm else ["lstm"])
    runs = [("numenta (ready-made scores: the baseline)", "numenta", corpus / "reference" / "numenta")] + \
        [(f"{d} (seed 1)" if d == "lstm" else d, d, None) for d in ours]
    for label, detector, ready in runs:
        started = time.perf_counter()

        def progress(done, total, name, label=label):
            print(f"\r{label}: {done}/{total} files, {time.perf_counter() - started:.0f} s", end="", file=sys.stderr)

        result = evaluate(detector, names, labels, profiles, corpus_dir=corpus / "data", results_dir=ready,
                          options={"seed": 1}, read=read_file, progress=progress)
        total = time.perf_counter() - started
        print(file=sys.stderr)
        baseline = baseline or total
        table.append([label, str(result.files), f"{total:.2f}", f"{rows / total:,.0f}", f"{total / baseline:.1f}",
                      f"{result.scores.get('standard', float('nan')):.2f}"])
    print_table(table)


if __name__ == "__main__":
    main()
