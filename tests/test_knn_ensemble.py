"""The kNN distance detector (helpers.core.detectors.knn) and ensembles (helpers.core.detectors.ensemble)."""
from __future__ import annotations

import time
from datetime import datetime, timedelta

import numpy as np
import pytest

from helpers.core.evaluation.batch import score_series
from helpers.core.detectors.contract import run
from helpers.core.detectors.ensemble import Ensemble, parse
from helpers.core.detectors.knn import KNNDistance
from helpers.core.detectors.presets import ENSEMBLES, alarm, make
from helpers.core.detectors.robust_zscore import RobustZScore, z_to_unit


def stamps(n):
    start = datetime(2014, 4, 1)
    return [(start + timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S") for i in range(n)]


def wave(n, seed=0):
    """A repeating pattern: a sine of period 40 with a little noise."""
    rng = np.random.default_rng(seed)
    return np.sin(2 * np.pi * np.arange(n) / 40) + rng.normal(0, 0.03, n)


# --- kNN --------------------------------------------------------------------------------------------------------

def test_knn_flags_a_break_in_a_repeated_pattern_that_a_zscore_misses():
    values = wave(3000)
    start = 2500
    values[start:start + 20] = values[start - 20:start][::-1]   # 20 readings of the wave run backwards: all in range
    knn, zscore = KNNDistance(), RobustZScore()
    knn_scores = list(run(knn, values))
    z_scores = list(run(zscore, values))
    assert max(z_scores[start:start + 20]) < z_to_unit(3.0, zscore.z_half), "every reading within 3 robust stds"
    assert max(knn_scores[start:start + 20]) >= alarm("knn")
    assert sum(s >= alarm("knn") for s in knn_scores[500:start]) <= 0.02 * (start - 500), "few alarms on the pattern"


def test_knn_memory_and_calibration_stay_bounded():
    det = KNNDistance(dim=5, memory=100, calibration=50, warmup=200)
    for x in wave(1000):
        det.update(x)
    assert det._points.shape == (100, 5) and det._stored > 100
    assert len(det._history) == len(det._sorted) == 50


def test_knn_refuses_a_warmup_too_short_for_k_neighbours():
    with pytest.raises(ValueError, match="warmup"):
        KNNDistance(dim=10, k=3, warmup=20)


def test_knn_live_cost_is_under_2_ms_per_reading():
    det = make("knn+likelihood")
    values = wave(5000, seed=1) + np.linspace(0, 3, 5000)
    times = []
    for x in values:
        start = time.perf_counter()
        det.update(float(x))
        times.append(time.perf_counter() - start)
    assert float(np.median(times)) < 0.002


# --- ensembles ----------------------------------------------------------------------------------------------------

class Scripted:
    """A member that scores each reading with the next of the given scores (None: not ready yet)."""

    def __init__(self, *scores):
        self.scores = list(scores)
        self.seen = []

    @property
    def ready(self):
        return self.scores[0] is not None

    def update(self, x, t=None):
        self.seen.append((x, t))
        return self.scores.pop(0)


def test_max_takes_the_largest_score_and_a_vote_the_kth_largest():
    def members():
        return [Scripted(0.9, 0.1, 0.5), Scripted(0.2, 0.8, 0.5), Scripted(0.7, 0.3, 0.1)]
    anyone, two, three = (Ensemble(members(), k) for k in (1, 2, 3))
    assert [anyone.update(x) for x in range(3)] == [0.9, 0.8, 0.5]
    assert [two.update(x) for x in range(3)] == [0.7, 0.3, 0.5]
    assert [three.update(x) for x in range(3)] == [0.2, 0.1, 0.1]


def test_an_ensemble_is_ready_only_when_every_member_is_and_every_member_learns_every_reading():
    early, late = Scripted(0.1, 0.2, 0.3), Scripted(None, None, 0.6)
    vote = Ensemble([early, late], k=1)
    assert not vote.ready
    assert [vote.update(x, f"t{x}") for x in range(3)] == [None, None, 0.6]
    assert early.seen == late.seen == [(0, "t0"), (1, "t1"), (2, "t2")]
    assert vote.last == [0.3, 0.6]


def test_ensemble_specs_parse_and_bad_ones_are_refused():
    assert parse("vote2:a,b,c") == (2, ["a", "b", "c"])
    for bad in ("vote4:a,b,c", "vote0:a", "max:a,,b", "min:a,b", "knn"):
        with pytest.raises(ValueError):
            parse(bad)
    with pytest.raises(KeyError):
        make("max:knn,no_such_detector")
    with pytest.raises(ValueError):
        Ensemble([RobustZScore()], k=2)


def test_a_spec_runs_through_score_series_as_the_named_ensemble_and_as_the_max_of_its_members():
    rng = np.random.default_rng(3)
    values = [float(v) for v in wave(1500) + rng.normal(0, 0.1, 1500)]
    values[1200] += 5.0
    times = stamps(len(values))
    spec = ENSEMBLES["ensemble_max"]
    by_spec = list(score_series(values, spec, {}, timestamps=times))
    assert by_spec == list(score_series(values, "ensemble_max", {}, timestamps=times))
    members = [list(score_series(values, name, {}, timestamps=times)) for name in parse(spec)[1]]
    ready = [i for i, (score, _) in enumerate(by_spec) if score > 0.0]
    for i in ready:
        assert by_spec[i][0] == max(m[i][0] for m in members)
        assert by_spec[i][1] == (by_spec[i][0] >= alarm(spec))
    with pytest.raises(ValueError, match="needs timestamps"):
        score_series(values, spec, {})
