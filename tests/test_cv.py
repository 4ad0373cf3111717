"""The selection protocol: folds by category, each file scored by a configuration chosen without it."""
from __future__ import annotations

import numpy as np
import pytest

from helpers.core.evaluation.cv import cross_validate, stratified_folds
from helpers.core.evaluation.nab import FileScores
from helpers.runtime.jobs.evaluation import NAB_PROFILES

ROWS = 400
STAMPS = [f"2020-01-{1 + i // 1440:02d} {(i // 60) % 24:02d}:{i % 60:02d}:00" for i in range(ROWS)]
NAMES = [f"{cat}/f{i}.csv" for cat in ("a", "b", "c") for i in range(4)]
# One window per file, rows 300-339.
WINDOWS = {n: [(STAMPS[300] + ".000000", STAMPS[339] + ".000000")] for n in NAMES}


def scores(hit: bool) -> np.ndarray:
    s = np.zeros(ROWS)
    if hit:
        s[301] = 1.0
    return s


def test_folds_keep_every_file_once_and_spread_each_category():
    folds = stratified_folds(NAMES, 4, seed=3)
    assert sorted(n for f in folds for n in f) == sorted(NAMES)
    for fold in folds:
        assert sorted({n.split("/")[0] for n in fold}) == ["a", "b", "c"]
    assert folds == stratified_folds(NAMES, 4, seed=3) != stratified_folds(NAMES, 4, seed=4)
    with pytest.raises(ValueError):
        stratified_folds(NAMES, 1)


def test_a_configuration_that_is_good_everywhere_scores_the_same_in_and_out_of_fold():
    candidates = {"good": {n: FileScores(n, STAMPS, scores(True)) for n in NAMES},
                  "silent": {n: FileScores(n, STAMPS, scores(False)) for n in NAMES}}
    result = cross_validate(candidates, WINDOWS, NAB_PROFILES["standard"], k=4)
    assert result.in_sample_config == "good" and all(c.config == "good" for c in result.choices)
    assert result.out_of_fold == pytest.approx(result.in_sample) and result.in_sample > 90


def test_configurations_that_only_fit_their_own_file_score_nothing_out_of_fold():
    """Each 'lucky' configuration catches one file's window and nothing else: in-sample one of them looks
    useful; out of fold the one picked never catches a held-out file, so the score is the null score."""
    candidates = {f"lucky {j}": {n: FileScores(n, STAMPS, scores(n == target)) for n in NAMES}
                  for j, target in enumerate(NAMES)}
    result = cross_validate(candidates, WINDOWS, NAB_PROFILES["standard"], k=4)
    assert result.in_sample > 0 and result.out_of_fold == pytest.approx(0.0) and result.optimism > 0
    for choice in result.choices:
        picked = NAMES[int(choice.config.split()[1])]
        assert picked not in choice.files  # chosen without the files it scores
