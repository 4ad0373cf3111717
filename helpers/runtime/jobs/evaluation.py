"""Evaluating detectors on a labelled corpus with NAB v1.1 scoring.

Each detector runs causally over every file through the same path as
``flask score`` (``helpers.core.evaluation.batch.score_series``) with one configuration
for all files; the labels are only used to score. A file that cannot be read
is reported by name and left out; the rest still count.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from helpers.core.evaluation.batch import score_series
from helpers.core.evaluation.nab import FileScores, score_corpus
from helpers.core.evaluation.nab.loader import load_scores

# NAB v1.1's application profiles, used when no profiles file is given.
NAB_PROFILES = {
    "standard": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11},
    "reward_low_FP_rate": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22},
    "reward_low_FN_rate": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11},
}

Progress = Callable[[int, int, str], None]
Reader = Callable[[Path, str], tuple[list[str], list[float]]]


@dataclass
class DetectorResult:
    detector: str
    scores: dict[str, float]            # profile -> normalised NAB score
    precision: float
    recall: float
    f1: float
    mean_delay_s: Optional[float]
    seconds: float
    files: int
    failed: dict[str, str] = field(default_factory=dict)  # file -> why it was left out

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def corpus_files(corpus_dir: Path, labels: Mapping[str, Any]) -> list[str]:
    """The labelled files present under ``corpus_dir``, as ``category/file.csv``, sorted."""
    return sorted(name for name in labels if (Path(corpus_dir) / name).is_file())


def _run_detector(path: Path, name: str, detector: str, options: Mapping[str, Any], read: Reader) -> FileScores:
    timestamps, values = read(path, name)
    scores = [score for score, _anomaly in score_series(values, detector, options, timestamps=timestamps)]
    return FileScores(name, timestamps, np.asarray(scores, dtype=np.float64))


def evaluate(detector: str, names: Sequence[str], labels: Mapping[str, Any],
             profiles: Mapping[str, Mapping[str, float]], corpus_dir: Optional[Path] = None,
             results_dir: Optional[Path] = None, options: Optional[Mapping[str, Any]] = None,
             read: Optional[Reader] = None, progress: Optional[Progress] = None) -> DetectorResult:
    """Score one detector: run it on ``corpus_dir`` (files read by ``read``, as `flask score` reads
    them), or take its ready-made score CSVs from ``results_dir``."""
    start = time.perf_counter()
    files, failed = [], {}
    for done, name in enumerate(names, 1):
        try:
            if results_dir is not None:
                files.append(load_scores(Path(results_dir) / name, name))
            else:
                files.append(_run_detector(Path(corpus_dir) / name, name, detector, options or {}, read))
        except Exception as exc:  # reported by name; the other files still count
            failed[name] = f"{type(exc).__name__}: {exc}"
        if progress:
            progress(done, len(names), name)
    if not files:  # every file failed: nothing to score, the failures say why
        return DetectorResult(detector, {p: float("nan") for p in profiles}, 0.0, 0.0, 0.0, None,
                              time.perf_counter() - start, 0, failed)
    used = {f.name: labels[f.name] for f in files}
    results = {profile: score_corpus(files, used, weights) for profile, weights in profiles.items()}
    standard = results.get("standard") or next(iter(results.values()))
    return DetectorResult(detector, {p: r.score for p, r in results.items()}, standard.precision,
                          standard.recall, standard.f1, standard.mean_delay_s,
                          time.perf_counter() - start, len(files), failed)
