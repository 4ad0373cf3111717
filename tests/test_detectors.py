"""The z-score family (helpers.core.detectors) and every registered batch detector: contract, causality, NAB."""
from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.core.evaluation.batch import DETECTORS, score_series
from helpers.core.detectors.likelihood import ALARM, AnomalyLikelihood, WithLikelihood, log_likelihood
from helpers.core.detectors.presets import NEEDS_TIMESTAMPS, PRESETS, make
from helpers.core.detectors.robust_zscore import RobustZScore
from helpers.core.stats.rolling_quantiles import RollingMedianMAD
from helpers.core.evaluation.nab import FileScores, score_corpus
from helpers.config import nab_corpus
from helpers.core.evaluation.nab.loader import load_labels, load_profiles
from helpers.core.stats.rolling_moments import RollingMoments

START = datetime(2014, 4, 1)
ROWS = 1000   # past every preset's warm-up (700 readings for the +likelihood ones)
# The lstm: a tiny model, one epoch, a fixed seed, on the CPU.
LSTM_FAST = {"seed": 1, "epochs": 1, "time_steps": 5, "train_rows": 300, "device": "cpu"}


def stamps(n, minutes=5):
    return [(START + timedelta(minutes=minutes * i)).strftime("%Y-%m-%d %H:%M:%S") for i in range(n)]


def series(seed, n=ROWS):
    """A daily cycle with noise, a few spikes and a level shift (the z-score relearns), 5 minutes apart."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    values = 50 + 10 * np.sin(2 * np.pi * i / 288) + rng.normal(0, 1 + 2 * rng.random(), n)
    values[rng.integers(0, n, 4)] += rng.choice([-1, 1], 4) * rng.uniform(10, 60, 4)
    values[int(rng.integers(n // 2, n)):] += rng.choice([-1, 1]) * rng.uniform(15, 40)
    return [float(v) for v in values], stamps(n)


def options_for(name):
    return dict(LSTM_FAST) if name.startswith("lstm") else {}


# --- the contract ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(PRESETS))
def test_a_preset_reports_not_ready_then_scores_every_reading_in_0_1(name):
    detector = make(name)
    values, times = series(1)
    scores = []
    for x, t in zip(values, times):
        was_ready = detector.ready
        score = detector.update(x, t)
        assert (score is None) == (not was_ready), "a score exactly when the detector said it was ready"
        scores.append(score)
    first = next(i for i, s in enumerate(scores) if s is not None)
    assert first > 0 and all(s is not None for s in scores[first:]), "warm-up first, then a score every time"
    assert all(0.0 <= s <= 1.0 for s in scores[first:])


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_every_registered_detector_gives_one_score_in_0_1_per_value_the_same_twice(name):
    values, times = series(2)
    first = list(score_series(values, name, options_for(name), timestamps=times))
    again = list(score_series(values, name, options_for(name), timestamps=times))
    assert first == again, "deterministic (the lstm for a seed)"
    assert len(first) == len(values)
    assert all(0.0 <= score <= 1.0 and isinstance(flag, bool) for score, flag in first)
    assert first[0] == (0.0, False), "the warm-up scores 0 and flags nothing"
    assert any(score > 0.0 for score, _ in first)


def test_seasonal_presets_refuse_to_run_without_timestamps():
    values, _ = series(3)
    for name in NEEDS_TIMESTAMPS:
        with pytest.raises(ValueError, match="needs timestamps"):
            score_series(values, name, {})
    with pytest.raises(ValueError, match="needs a timestamp"):
        RobustZScore(seasonal=True).update(1.0)


def test_score_series_without_timestamps_is_unchanged_for_the_others():
    values, times = series(4)
    for name in ("zscore", "robust_zscore+likelihood"):
        assert list(score_series(values, name, {})) == list(score_series(values, name, {}, timestamps=times))


# --- causality: a score never depends on a later value ------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(set(DETECTORS) - {"lstm", "lstm+likelihood"}))
@settings(max_examples=6, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2 ** 31 - 1), cut=st.integers(1, ROWS - 1), other=st.integers(0, 2 ** 31 - 1))
def test_changing_future_values_never_changes_a_past_score(name, seed, cut, other):
    values, times = series(seed)
    future, _ = series(other)
    before = list(score_series(values, name, {}, timestamps=times))
    after = list(score_series(values[:cut] + future[cut:], name, {}, timestamps=times))
    assert after[:cut] == before[:cut]


@pytest.mark.parametrize("name", ["lstm", "lstm+likelihood"])
def test_the_lstm_is_causal_too(name):
    values, times = series(5)
    cut = 700
    future, _ = series(6)
    before = list(score_series(values, name, LSTM_FAST))
    after = list(score_series(values[:cut] + future[cut:], name, LSTM_FAST))
    assert after[:cut] == before[:cut] and after[cut:] != before[cut:]


def test_the_lstm_with_its_likelihood_alarms_once_at_a_shift_where_the_raw_lstm_flags_on():
    """The likelihood turns the LSTM's run of high errors after a change into one early alarm."""
    rng = np.random.default_rng(8)
    values = [float(v) for v in 10 + np.sin(np.arange(2400) * 2 * np.pi / 48) + rng.normal(0, 0.1, 2400)]
    values[2000:] = [v + 3.0 for v in values[2000:]]
    raw = [flag for _, flag in score_series(values, "lstm", LSTM_FAST)]
    post = [flag for _, flag in score_series(values, "lstm+likelihood", LSTM_FAST)]
    assert sum(raw[2000:2100]) > 20
    assert 1 <= sum(post[2000:2100]) <= 5 and sum(post[1000:2000]) <= 2


# --- the robust z-score -------------------------------------------------------------------------------------------

def test_rolling_median_and_mad_match_numpy_over_a_sliding_window():
    rng = np.random.default_rng(0)
    for size in (1, 2, 7, 30):
        window, kept = RollingMedianMAD(size), []
        for x in np.concatenate([rng.normal(size=150), rng.integers(0, 4, 150)]):   # ties as well
            window.push(float(x))
            kept = (kept + [float(x)])[-size:]
            median = float(np.median(kept))
            assert window.median() == pytest.approx(median, abs=1e-12)
            assert window.mad() == pytest.approx(float(np.median(np.abs(np.subtract(kept, median)))), abs=1e-12)


def test_one_huge_spike_in_the_window_leaves_the_robust_baseline_where_it_drags_mean_and_std():
    rng = np.random.default_rng(1)
    values = list(rng.normal(10, 1, 200)) + [1000.0] + list(rng.normal(10, 1, 20))
    robust, moments = RobustZScore(window=100, warmup=50), RollingMoments(100)
    for x in values:
        robust.update(x)
        moments.push(x)
    robust.update(14.0)   # four stds out
    mean, std = moments.mean_std()
    assert robust.last.baseline == pytest.approx(10, abs=0.4) and robust.last.scale == pytest.approx(1, abs=0.3)
    assert robust.last.z > 3.0, "still an outlier against the median and MAD"
    assert abs((14.0 - mean) / std) < 0.2, "the spike dragged the mean up and blew up the std"


def test_a_constant_window_still_gives_a_finite_score():
    det = RobustZScore(window=10, warmup=10)
    for _ in range(10):
        det.update(5.0)
    assert det.update(5.0) == 0.0
    assert 0.99 < det.update(6.0) < 1.0


def test_the_seasonal_baseline_sees_a_missing_daily_peak_that_the_plain_one_cannot():
    rng = np.random.default_rng(2)
    n = 288 * 10
    values = 10 + 5 * np.sin(2 * np.pi * np.arange(n) / 288) + rng.normal(0, 0.2, n)
    peak = 288 * 8 + 72
    values[peak - 6:peak + 6] = 10.0   # day 9's peak flattened to the daily mean
    seasonal, plain = RobustZScore(seasonal=True), RobustZScore()
    for x, t in zip(values[:peak + 1], stamps(peak + 1)):
        seasonal.update(x, t)
        plain.update(x)
    assert seasonal.last.seasonal and seasonal.last.z < -10
    assert abs(plain.last.z) < 1
    assert "time-of-day median" in str(seasonal.last)


def test_the_seasonal_baseline_stays_out_of_the_way_without_a_daily_cycle():
    rng = np.random.default_rng(3)
    n = 288 * 10
    seasonal, used = RobustZScore(seasonal=True), 0
    for x, t in zip(rng.normal(10, 1, n), stamps(n)):
        seasonal.update(x, t)
        used += bool(seasonal.last and seasonal.last.seasonal)
    assert used < 0.1 * n, "mostly judged as without the option"


# --- anomaly likelihood -------------------------------------------------------------------------------------------

def likelihood_only():
    return WithLikelihood(RobustZScore(), AnomalyLikelihood(), extreme_tolerance=None)


@pytest.mark.parametrize("seed", range(4))
def test_likelihood_stays_low_on_stationary_noise_and_rises_within_a_few_points_of_a_shift(seed):
    rng = np.random.default_rng(seed)
    det = likelihood_only()
    quiet = [det.update(x) for x in rng.normal(10, 1, 3000)]
    assert max(s for s in quiet if s is not None) < ALARM
    shifted = [det.update(x) for x in rng.normal(15, 1, 10)]
    first = next(i for i, s in enumerate(shifted) if s >= ALARM)
    assert first < 6, shifted
    assert sum(s >= ALARM for s in shifted) == 1, "one alarm, not one per shifted reading"


def test_the_presets_alarm_rarely_on_stationary_noise():
    rng = np.random.default_rng(7)
    for name in ("zscore+likelihood", "robust_zscore+likelihood"):
        det = make(name)
        scores = [det.update(x) for x in rng.normal(10, 1, 5000)]
        assert sum(s is not None and s >= ALARM for s in scores) <= 5


def test_a_new_extreme_beyond_the_range_seen_scores_one():
    rng = np.random.default_rng(8)
    det = make("robust_zscore+likelihood")
    for x in rng.uniform(0, 10, 1000):
        det.update(x)
    assert det.update(10.4) < 1.0, "within 5 % of the range 0..10"
    assert det.update(11.0) == 1.0, "beyond 10.4 by more than 5 % of the range"
    assert det.update(-0.6) == 1.0


def test_log_likelihood_spreads_the_tail():
    assert log_likelihood(0.99999) == pytest.approx(0.5, abs=1e-3)
    assert log_likelihood(0.999) == pytest.approx(0.3, abs=1e-3)
    assert log_likelihood(1.0) == 1.0 and log_likelihood(0.0) == 0.0


# --- NAB, through the evaluate path --------------------------------------------------------------------------------

CORPUS = nab_corpus()
needs_corpus = pytest.mark.skipif(not (CORPUS / "labels").is_dir(),
                                  reason=f"NAB corpus not found at {CORPUS} (set NAB_CORPUS)")


@pytest.fixture(scope="module")
def nab():
    """The corpus read once: a caching reader, names, labels and profiles."""
    from helpers.cli.evaluate import read_file
    from helpers.runtime.jobs.evaluation import corpus_files

    labels = load_labels(CORPUS)
    names = corpus_files(CORPUS / "data", labels)
    cache = {name: read_file(CORPUS / "data" / name, name) for name in names}
    return (lambda path, name: cache[name]), names, labels, load_profiles(CORPUS)


@needs_corpus
@pytest.mark.parametrize("name", ["robust_zscore+likelihood", "zscore+likelihood"])
def test_a_zscore_family_detector_beats_advec_on_nab_dev(nab, name):
    """≥ 40 standard (Twitter ADVec 39.3, the windowed Gaussian 31.2), one configuration for all 29 files."""
    from helpers.runtime.jobs.evaluation import evaluate

    read, names, labels, profiles = nab
    result = evaluate(name, names, labels, profiles, corpus_dir=CORPUS / "data", read=read)
    assert result.files == 29 and result.failed == {}
    assert result.scores["standard"] >= 40.0, result.scores
    assert result.seconds < 60


@needs_corpus
def test_the_seasonal_robust_zscore_with_likelihood_scores_above_60_given_timestamps(nab):
    read, names, labels, profiles = nab
    files = []
    for name in names:
        timestamps, values = read(None, name)
        scores = [s for s, _ in score_series(values, "robust_zscore_seasonal+likelihood", {}, timestamps=timestamps)]
        files.append(FileScores(name, timestamps, np.asarray(scores)))
    standard = score_corpus(files, labels, profiles["standard"]).score
    assert math.isfinite(standard) and standard >= 60.0
