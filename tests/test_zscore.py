"""The z-score detector's rules: learning, score-before-learn, exclusion, relearning, zero spread."""
from __future__ import annotations

import math
import random
import statistics

import pytest

from helpers.core.detectors.zscore import (EXCLUDING, LEARNING, RELEARNING, TRACKING, ZScoreDetector,
                                 z_to_score)


def noise(n, level=10.0, std=1.0, seed=3):
    rng = random.Random(seed)
    return [level + rng.gauss(0.0, std) for _ in range(n)]


def feed(detector, values):
    return [detector.update(x) for x in values]


def test_learning_readings_get_no_verdict_and_report_completeness():
    det = ZScoreDetector(model_size=10)
    verdicts = feed(det, noise(9))
    assert all(v.judged is False and v.anomaly is False and v.z is None for v in verdicts)
    assert [v.completeness for v in verdicts] == [pytest.approx(10.0 * i) for i in range(1, 10)]
    assert verdicts[-1].state == LEARNING
    tenth = det.update(10.0)
    assert tenth.completeness == 100.0 and tenth.state == TRACKING and not tenth.judged
    assert det.update(10.0).judged


def test_z_is_against_the_model_before_the_reading_and_matches_statistics():
    values = noise(30)
    det = ZScoreDetector(model_size=30)
    feed(det, values)
    x = 13.7
    verdict = det.update(x)
    mean, std = statistics.fmean(values), statistics.stdev(values)
    assert verdict.mean == pytest.approx(mean, rel=1e-12)
    assert verdict.std == pytest.approx(std, rel=1e-12)
    assert verdict.z == pytest.approx((x - mean) / std, rel=1e-12)


def test_an_anomaly_is_flagged_and_kept_out_of_the_model():
    det = ZScoreDetector(model_size=50, threshold=3.0)
    feed(det, noise(50))
    before = det.update(10.0).mean
    spike = det.update(40.0)
    assert spike.anomaly and spike.state == EXCLUDING and spike.z > 3.0
    after = det.update(10.0)
    assert not after.anomaly and after.state == TRACKING
    # The spike never entered the model: the mean moved only by the normal readings.
    assert abs(after.mean - before) < 0.1


def test_signed_value_catches_a_drop_below_zero():
    det = ZScoreDetector(model_size=50)
    feed(det, noise(50, level=0.5, std=0.1))
    drop = det.update(-0.5)
    assert drop.anomaly and drop.z < -3.0


def test_returns_to_normal_after_a_permanent_level_shift_and_still_catches_a_spike():
    det = ZScoreDetector(model_size=100, threshold=3.0, relearn_after=20)
    feed(det, noise(100, seed=1))
    shifted = feed(det, noise(200, level=30.0, seed=2))
    flags = [v.anomaly for v in shifted]
    assert all(flags[:19]), "the shift is flagged until the relearn rule fires"
    assert shifted[19].relearned and shifted[19].state in (RELEARNING, TRACKING)
    assert sum(flags[20:]) <= 3, "after relearning the new level is normal"
    assert shifted[-1].state == TRACKING
    spike = det.update(45.0)
    assert spike.anomaly, "a spike on the new level is still caught"


def test_spike_during_relearning_is_still_caught():
    det = ZScoreDetector(model_size=100, threshold=3.0, relearn_after=20)
    feed(det, noise(100, seed=1))
    feed(det, noise(25, level=30.0, seed=2))
    assert det.state == RELEARNING
    assert det.update(60.0).anomaly


def test_constant_model_does_not_divide_by_zero_nor_flag_forever():
    det = ZScoreDetector(model_size=20, threshold=3.0, relearn_after=10)
    feed(det, [5.0] * 25)
    same = det.update(5.0)
    assert same.std == 0.0 and same.z == 0.0 and not same.anomaly
    recovered = feed(det, noise(100, level=5.0, std=0.5, seed=4))
    assert all(math.isfinite(v.z) for v in recovered)
    assert sum(v.anomaly for v in recovered) <= 10 + 3, "at most relearn_after flags, then normal again"
    assert not any(v.anomaly for v in recovered[-50:])


def test_restore_continues_exactly_like_the_live_detector():
    values = noise(300, seed=5) + noise(60, level=25.0, seed=6) + noise(100, level=25.0, seed=7)
    values[150] = 40.0
    live = ZScoreDetector(model_size=50, relearn_after=15)
    history = [(x, v.anomaly, v.z) for x, v in zip(values, feed(live, values))]
    restored = ZScoreDetector(model_size=50, relearn_after=15)
    restored.restore(history)
    assert restored.state == live.state and restored.completeness == live.completeness
    probe = noise(50, level=25.0, seed=8) + [60.0]
    assert feed(restored, probe) == feed(live, probe)


def test_rebaseline_starts_learning_again():
    det = ZScoreDetector(model_size=10)
    feed(det, noise(20))
    det.rebaseline()
    assert det.state == LEARNING and det.completeness == 0.0
    assert not det.update(100.0).judged


def test_configure_keeps_the_model_where_it_fits():
    det = ZScoreDetector(model_size=20)
    feed(det, noise(20))
    det.configure(model_size=10, threshold=5.0)
    assert det.state == TRACKING and det.completeness == 100.0 and det.threshold == 5.0
    det.configure(model_size=40)
    assert det.state == RELEARNING and det.completeness == 25.0
    assert det.update(10.0).judged


def test_score_grows_with_abs_z_and_stays_in_unit_interval():
    zs = [0.0, 0.5, 1.0, 2.0, 3.0, 5.0]
    scores = [z_to_score(z) for z in zs]
    assert scores == sorted(scores) and scores[0] == 0.0 and all(0.0 <= s <= 1.0 for s in scores)
    assert z_to_score(-3.0) == z_to_score(3.0) == pytest.approx(0.9973, abs=1e-4)
    assert z_to_score(None) == 0.0
