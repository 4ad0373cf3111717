"""An honest selection protocol for NAB: every knob chosen by K-fold cross-validation over the files.

A detector *family* offers several configurations (its knobs) and, on top, NAB's threshold sweep (one more
knob). Scored in-sample, the best configuration and threshold are picked on the very files they are scored
on, which flatters the detector. Out of fold, the files are dealt into ``k`` folds by category (stratified,
fixed seed); each fold's files are scored with the configuration and threshold that did best on the *other*
folds, and the corpus score is summed from those scores. The gap between the two is what tuning bought.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Mapping, Sequence

from helpers.core.evaluation.nab.scorer import FileScores, best_threshold, normalised, score_corpus

# config name -> file name -> that file's scores under that configuration
Candidates = Mapping[str, Mapping[str, FileScores]]


@dataclass(frozen=True)
class FoldChoice:
    fold: int
    files: list[str]
    config: str
    threshold: float
    train_score: float     # normalised, on the other folds


@dataclass(frozen=True)
class CVResult:
    in_sample: float
    in_sample_config: str
    in_sample_threshold: float
    out_of_fold: float
    choices: list[FoldChoice]

    @property
    def optimism(self) -> float:
        """In-sample minus out-of-fold: the points the selection took from the files it was scored on."""
        return self.in_sample - self.out_of_fold


def category(name: str) -> str:
    return name.split("/", 1)[0] if "/" in name else ""


def stratified_folds(names: Sequence[str], k: int, seed: int = 0) -> list[list[str]]:
    """``names`` dealt into ``k`` folds, each category spread over the folds as evenly as it goes.

    >>> folds = stratified_folds([f"a/{i}" for i in range(4)] + [f"b/{i}" for i in range(3)], 3, seed=1)
    >>> sorted(len(f) for f in folds), sorted(n for f in folds for n in f) == sorted(
    ...     [f"a/{i}" for i in range(4)] + [f"b/{i}" for i in range(3)])
    ([2, 2, 3], True)
    """
    if k < 2:
        raise ValueError("k must be at least 2")
    rng = random.Random(seed)
    folds: list[list[str]] = [[] for _ in range(k)]
    turn = 0
    for cat in sorted({category(n) for n in names}):
        members = sorted(n for n in names if category(n) == cat)
        rng.shuffle(members)
        for name in members:
            folds[turn % k].append(name)
            turn += 1
    return [sorted(f) for f in folds]


def _best(candidates: Candidates, names: Sequence[str], windows, profile) -> tuple[str, float, float]:
    """The configuration and threshold with the best normalised score over ``names``."""
    best = None
    for config, files in candidates.items():
        chosen = [files[n] for n in names]
        threshold, _raw = best_threshold(chosen, windows, profile)
        score = score_corpus(chosen, windows, profile, threshold=threshold).score
        if best is None or score > best[2]:
            best = (config, threshold, score)
    return best


def cross_validate(candidates: Candidates, windows: Mapping[str, Sequence[tuple]], profile: Mapping,
                   k: int = 5, seed: int = 0) -> CVResult:
    """In-sample and out-of-fold NAB scores of a detector family under ``profile``."""
    names = sorted(next(iter(candidates.values())))
    config, threshold, score = _best(candidates, names, windows, profile)
    raw = null = perfect = 0.0
    choices = []
    for i, fold in enumerate(stratified_folds(names, k, seed)):
        train = [n for n in names if n not in set(fold)]
        chosen, at, train_score = _best(candidates, train, windows, profile)
        held = score_corpus([candidates[chosen][n] for n in fold], windows, profile, threshold=at)
        raw, null, perfect = raw + held.raw, null + held.null, perfect + held.perfect
        choices.append(FoldChoice(i, fold, chosen, at, train_score))
    return CVResult(score, config, threshold, normalised(raw, null, perfect), choices)
