"""RollingMoments must equal a naive recompute over the window (statistics module) within 1e-9."""
from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given, settings, strategies as st

from helpers.core.stats.rolling_moments import RollingMoments

REL = 1e-9


def naive(window):
    mean = statistics.fmean(window)
    std = statistics.stdev(window) if len(window) > 1 else 0.0
    return mean, std


def check_against_naive(series, size):
    moments = RollingMoments(size)
    for i, x in enumerate(series):
        moments.push(x)
        window = series[max(0, i + 1 - size): i + 1]
        mean, std = moments.mean_std()
        ref_mean, ref_std = naive(window)
        # The mean is compared on the scale of the data's spread or level, so a
        # mean of ~0 is not held to a relative error of an exact zero.
        assert abs(mean - ref_mean) <= REL * max(abs(ref_mean), ref_std, 1e-300), (i, mean, ref_mean)
        if ref_std == 0.0:
            assert std == 0.0, (i, std)
        else:
            assert abs(std - ref_std) <= REL * ref_std, (i, std, ref_std)




def no_underflow(strategy):
    """Squares of |x| < 1e-150 underflow to zero in any float arithmetic; sensors never read such values."""
    return strategy.filter(lambda v: v == 0.0 or abs(v) > 1e-100)


finite = no_underflow(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False))


@settings(max_examples=200, deadline=None)
@given(st.lists(finite, min_size=1, max_size=300), st.integers(min_value=1, max_value=60))
def test_random_series_match_naive(series, size):
    check_against_naive(series, size)


@st.composite
def adversarial(draw):
    """Large offsets with tiny noise, constant stretches, and jumps of many orders of magnitude."""
    offset = draw(st.sampled_from([0.0, 1e6, -1e9, 1e9, 3.5e12]))
    pieces = []
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        kind = draw(st.sampled_from(["noise", "constant", "jump", "tiny"]))
        length = draw(st.integers(min_value=1, max_value=80))
        if kind == "constant":
            pieces += [offset + draw(no_underflow(st.floats(-10, 10)))] * length
        elif kind == "jump":
            pieces += [offset + draw(st.sampled_from([1e8, -1e8, 1e-3]))] * length
        elif kind == "tiny":
            pieces += [offset + draw(no_underflow(st.floats(-1e-3, 1e-3))) for _ in range(length)]
        else:
            pieces += draw(st.lists(no_underflow(st.floats(-100, 100)).map(lambda v, o=offset: o + v),
                                    min_size=length, max_size=length))
    return pieces


@settings(max_examples=200, deadline=None)
@given(adversarial(), st.integers(min_value=2, max_value=50))
def test_adversarial_series_match_naive(series, size):
    check_against_naive(series, size)


def test_constant_stretch_gives_exact_zero_std_after_noise():
    series = [1e9 + v for v in (0.1, -0.3, 0.7, 0.2)] + [1e9 + 0.5] * 10
    moments = RollingMoments(5)
    for x in series:
        moments.push(x)
    assert moments.mean_std() == (1e9 + 0.5, 0.0)


def test_huge_value_leaving_the_window_does_not_poison_small_variance():
    moments = RollingMoments(3)
    for x in [1e15, 1.0, 2.0, 3.0]:
        moments.push(x)
    mean, std = moments.mean_std()
    assert (mean, std) == pytest.approx((2.0, 1.0), rel=1e-12)


def test_resize_keeps_the_most_recent_values():
    moments = RollingMoments(5, [1.0, 2.0, 3.0, 4.0, 5.0])
    moments.resize(2)
    assert list(moments.values) == [4.0, 5.0]
    assert moments.mean_std() == pytest.approx((4.5, math.sqrt(0.5)))


def test_empty_window_is_nan_not_an_error():
    mean, std = RollingMoments(3).mean_std()
    assert math.isnan(mean) and math.isnan(std)
