"""NAB v1.1 scoring: the pieces by hand, then every reference score of the NAB dev corpus."""
import json
import math
from functools import lru_cache

import numpy as np
import pytest

from helpers.config import nab_corpus
from helpers.core.evaluation.nab import loader
from helpers.core.evaluation.nab.scorer import FileScores, best_threshold, normalised, score_corpus
from helpers.core.evaluation.nab.sigmoid import scaled_sigmoid
from helpers.core.evaluation.nab.threshold import sweep
from helpers.core.evaluation.nab.windows import (OUTSIDE, PROBATIONARY, probationary_length, sweep_parts,
                                      window_indices)

STANDARD = {"CostMatrix": {"tpWeight": 1.0, "fpWeight": 0.11, "fnWeight": 1.0, "tnWeight": 1.0}}


def test_scaled_sigmoid_matches_nab_values():
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert scaled_sigmoid(3.0) > -1.0 and scaled_sigmoid(3.01) == -1.0


def test_probationary_length_is_15_percent_capped_at_750_rows():
    assert probationary_length(100) == 15
    assert probationary_length(4032) == 604
    assert probationary_length(5000) == 750 and probationary_length(22695) == 750


def test_window_indices_match_timestamps_with_microseconds():
    ts = ["2020-01-01 00:00:00", "2020-01-01 00:05:00", "2020-01-01 00:10:00"]
    assert window_indices(ts, [("2020-01-01 00:05:00.000000", "2020-01-01 00:10:00.000000")]) \
        == [(1, 2)]
    with pytest.raises(ValueError):
        window_indices(ts, [("2020-01-01 00:07:00.000000", "2020-01-01 00:10:00.000000")])


def test_sweep_parts_positions():
    rows = sweep_parts(100, [(40, 49)])
    assert rows.window[0] == PROBATIONARY and rows.window[20] == OUTSIDE and rows.window[45] == 0
    assert rows.tp[40] == pytest.approx(1.0)                 # window start scores exactly tpWeight
    assert rows.tp[49] == pytest.approx(scaled_sigmoid(-0.1) / scaled_sigmoid(-1.0))
    assert rows.fp[20] == -1.0                               # no window before: full FP cost
    assert rows.fp[50] == pytest.approx(scaled_sigmoid(1 / 9))  # |i - right| / (width - 1)


def _tiny(*detect_at, n=100, window=(40, 49)):
    ts = [f"2020-01-01 {m // 60:02d}:{m % 60:02d}:00" for m in range(n)]
    scores = np.zeros(n)
    scores[list(detect_at)] = 1.0
    labels = {"f.csv": [(ts[window[0]] + ".000000", ts[window[1]] + ".000000")]}
    return score_corpus([FileScores("f.csv", ts, scores)], labels, STANDARD, threshold=1.0)


def test_early_true_positive_scores_higher_than_a_late_one():
    early, late = _tiny(41), _tiny(48)
    assert early.raw > late.raw > 0
    assert early.windows_detected == late.windows_detected == 1
    assert early.mean_delay_rows == 1 and late.mean_delay_s == 8 * 60


def test_only_the_first_detection_in_a_window_counts():
    assert _tiny(41, 42, 43).raw == pytest.approx(_tiny(41).raw)


def test_missed_window_costs_fn_weight_and_scores_zero():
    missed = _tiny()
    assert missed.raw == -1.0 and missed.score == 0.0 and missed.recall == 0.0


def test_false_positive_costs_grow_with_distance_after_a_window():
    near, far, very_far = (_tiny(41, i).raw - _tiny(41).raw for i in (51, 60, 90))
    assert 0 > near > far > very_far >= -0.11
    assert very_far == pytest.approx(-0.11)                 # more than 3 widths away: full cost
    before = _tiny(41, 20).raw - _tiny(41).raw
    assert before == pytest.approx(-0.11)                   # before any window: full cost


def test_detections_in_the_probationary_period_are_ignored():
    assert _tiny(41, 5).raw == _tiny(41).raw
    assert _tiny(41, 5).false_positives == 0 and _tiny(41, 20).false_positives == 1


def test_event_precision_recall_f1():
    r = _tiny(41, 20, 90)
    assert (r.windows_detected, r.false_positives) == (1, 2)
    assert r.precision == pytest.approx(1 / 3) and r.recall == 1.0
    assert r.f1 == pytest.approx(0.5)


def test_normalisation_anchors():
    assert normalised(-3.0, -3.0, 3.0) == 0.0 and normalised(3.0, -3.0, 3.0) == 100.0


def test_sweep_agrees_with_scoring_each_threshold_directly():
    rng = np.random.default_rng(5)
    files, labels = [], {}
    for k, n in enumerate((300, 500, 160)):
        ts = [f"2020-01-{1 + m // 1440:02d} {m // 60 % 24:02d}:{m % 60:02d}:00" for m in range(n)]
        scores = np.round(rng.random(n), 2)                  # many ties on purpose
        files.append(FileScores(f"f{k}.csv", ts, scores))
        lefts = sorted(rng.choice(np.arange(60, n - 20, 20), size=2, replace=False))
        labels[f"f{k}.csv"] = [(ts[a], ts[a + 9]) for a in lefts]
    threshold, raw = best_threshold(files, labels, STANDARD)
    direct = {t: score_corpus(files, labels, STANDARD, threshold=t).raw
              for t in np.unique(np.concatenate([f.scores for f in files]))}
    assert raw == pytest.approx(max(direct.values()), abs=1e-9)
    assert threshold == max(t for t, s in direct.items() if s == pytest.approx(raw, abs=1e-9))
    assert score_corpus(files, labels, STANDARD).raw == pytest.approx(raw, abs=1e-9)


def test_sweep_breaks_exact_ties_toward_the_higher_threshold():
    anomaly = np.array([0.9, 0.5])
    window = np.array([0, 0])                                # both rows in one window
    result = sweep(anomaly, window, np.array([1.0, 0.5]), np.zeros(2), fn_weight=1.0)
    assert result.best() == (0.9, 1.0)


# ---- the reference corpus ------------------------------------------------------------------

CORPUS = nab_corpus()
needs_corpus = pytest.mark.skipif(not (CORPUS / "reference" / "expected_scores.json").is_file(),
                                  reason=f"NAB corpus not found at {CORPUS} (set NAB_CORPUS)")


def _expected():
    path = CORPUS / "reference" / "expected_scores.json"
    return json.loads(path.read_text())["reference_scores"] if path.is_file() else {}


@lru_cache(maxsize=None)
def _reference(detector):
    return loader.load_reference(CORPUS, detector)


@needs_corpus
def test_reference_files_cover_the_labelled_corpus():
    labels = loader.load_labels(CORPUS)
    assert len(labels) == 29 and sum(map(len, labels.values())) == 59
    for detector in _expected():
        assert sorted(f.name for f in _reference(detector)) == sorted(labels)


@needs_corpus
@pytest.mark.parametrize("detector,profile,expected",
                         [(d, p, e) for d, by in _expected().items() for p, e in by.items()])
def test_reproduces_reference_score(detector, profile, expected):
    result = score_corpus(_reference(detector), loader.load_labels(CORPUS),
                          loader.load_profiles(CORPUS)[profile])
    assert result.score == pytest.approx(expected["score"], abs=0.1)
    assert math.isclose(result.threshold, expected["threshold"], rel_tol=1e-12)
    assert result.windows_detected == expected["windows_detected"]
