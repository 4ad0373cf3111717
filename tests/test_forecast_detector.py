"""The forecast-residual detector (SARIMA + residual LSTM): tracking, spikes, the forecast band, refits, causality.

The contract and causality over every preset (``forecast`` and ``forecast+likelihood`` among them) are in
tests/test_detectors.py; these are the detector's own rules.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from helpers.core.evaluation.batch import score_series
from helpers.core.detectors.contract import run
from helpers.core.detectors.forecast import ForecastResidual, season_from
from helpers.core.detectors.presets import alarm, uses_timestamps
from helpers.core.detectors.robust_zscore import z_to_unit
from helpers.core.detectors.sarima import Sarima

START = datetime(2014, 4, 1)


def sine(n, seed=0, period=100, noise=0.5):
    rng = np.random.default_rng(seed)
    return [float(v) for v in 50 + 10 * np.sin(2 * np.pi * np.arange(n) / period) + rng.normal(0, noise, n)]


def stamps(n, minutes):
    return [(START + timedelta(minutes=minutes * i)).strftime("%Y-%m-%d %H:%M:%S") for i in range(n)]


def small(**changes):
    """A quicker configuration for the rules that do not depend on the defaults."""
    return ForecastResidual(**{"warmup": 100, "fit_window": 400, "refit_every": 200, "epochs": 3, **changes})


@pytest.fixture(scope="module")
def tracked():
    """The default detector after 1500 readings of a clean sine with noise, and the errors of its forecasts."""
    values = sine(1500)
    det = ForecastResidual()
    errors = []
    for x in values:
        det.update(x)
        if det.last is not None:
            errors.append(det.last.value - det.last.expected)
    return det, values, np.asarray(errors)


def test_the_forecast_tracks_a_clean_sine_with_noise(tracked):
    det, values, errors = tracked
    assert det.fits == 3, "fits at 300, 600 and 1200 readings"
    assert len(errors) == 1200, "scored from reading 301 on"
    assert np.mean(np.abs(errors)) < 0.1 * np.std(values), "well under the series' own spread"
    assert 0.3 < det.spread < 1.0, "about the noise (0.5), not the swing of the sine"


def test_a_spike_scores_high_and_is_explained(tracked):
    det, _, _ = tracked
    expected = det.forecast(1)[0][0]
    score = det.update(expected + 8.0)
    assert score > z_to_unit(8.0 / det.last.spread * 0.8, det.z_half) and score > alarm("forecast")
    last = det.last
    assert last.expected == pytest.approx(expected) and last.value == pytest.approx(expected + 8.0)
    assert last.z == pytest.approx((last.value - last.expected) / last.spread) and last.z > 8
    text = str(last)
    assert text.startswith(f"forecast {last.expected:.4g} ± ") and f"got {last.value:.4g}" in text and "σ" in text


def test_the_explanation_reads_like_the_dashboard_wants():
    from helpers.core.detectors.forecast import Explanation

    assert str(Explanation(71.3, 61.2, 2.0, 5.05)) == "forecast 61.2 ± 2, got 71.3 (5.0 σ)"


def test_forecast_gives_steps_triples_with_a_band_that_widens(tracked):
    det, _, _ = tracked
    ahead = det.forecast(24)
    assert len(ahead) == 24
    assert all(low < mean < high for mean, low, high in ahead)
    widths = [high - low for _, low, high in ahead]
    assert all(b >= a - 1e-12 for a, b in zip(widths, widths[1:])) and widths[-1] > widths[0]
    assert widths[0] == pytest.approx(2 * det.threshold * det.spread)
    assert [m for m, _, _ in ahead[:1]] == [m for m, _, _ in det.forecast(1)], "the same path, however far ahead"


def test_the_next_reading_is_judged_against_forecast_1():
    det = small()
    for x in sine(300):
        det.update(x)
    mean, _, _ = det.forecast(1)[0]
    det.update(55.0)
    assert det.last.expected == pytest.approx(mean)


def test_not_ready_before_the_first_fit():
    det = small()
    scores = [det.update(x) for x in sine(100)]
    assert all(s is None for s in scores) and det.ready and det.fits == 1
    assert small().forecast(5) == []


def test_refits_happen_on_schedule_and_stay_causal():
    values = sine(800, seed=1)
    det = small()
    fits_at = []
    for i, x in enumerate(values, start=1):
        before = det.fits
        det.update(x)
        if det.fits > before:
            fits_at.append(i)
    assert fits_at == [100, 200, 400, 600, 800]
    cut = 450        # between two refits: the refit at 600 must not see what comes after 450
    other = sine(800, seed=2, period=37)
    first = list(run(small(), values))
    changed = list(run(small(), values[:cut] + other[cut:]))
    assert changed[:cut] == first[:cut] and changed[cut:] != first[cut:]
    assert list(run(small(), values)) == first, "seeded: the same scores twice"


def test_the_seasonal_period_comes_from_timestamps():
    assert season_from(stamps(10, 60), 288) == 24 and season_from(stamps(10, 5), 288) == 288
    assert season_from(stamps(10, 1), 288) == 0, "1440 a day: more than a bounded window sees"
    hourly = small(warmup=120, lstm=False)
    values = [float(v) for v in 50 + 10 * np.sin(2 * np.pi * np.arange(200) / 24)]
    for x, t in zip(values, stamps(200, 60)):
        hourly.update(x, t)
    assert hourly.season == 24 and hourly._model.ar_lags >= 24, "a seasonal AR term at lag 24"
    plain = small(warmup=120, lstm=False)
    for x in values:
        plain.update(x)
    assert plain.season == 0


def test_a_constant_series_gives_finite_scores_and_a_change_stands_out():
    det = small(lstm=False)
    scores = [det.update(5.0) for _ in range(300)]
    assert all(s == 0.0 for s in scores[100:])
    assert det.update(6.0) > 0.99


def test_the_polynomials_forecast_as_statsmodels_does():
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    values = np.asarray(sine(400, seed=3, period=30))
    model = SARIMAX(values, order=(2, 1, 1), trend="n", concentrate_scale=True, simple_differencing=True)
    fitted = model.fit(disp=False)
    sarima = Sarima.from_params(fitted.arparams, fitted.maparams, d=1)
    errors = sarima.innovations(values)
    ours = sarima.one_step(values[::-1][:sarima.ar_lags], errors[::-1][:sarima.ma_lags])
    theirs = values[-1] + float(fitted.forecast(1)[0])   # simple differencing: it forecasts the change
    assert ours == pytest.approx(theirs, abs=0.05 * np.std(values))


def test_the_presets_flag_at_the_z_threshold_and_use_timestamps_when_given():
    assert alarm("forecast") == z_to_unit(3.0, 20.0) and alarm("forecast+likelihood") == 0.5
    assert uses_timestamps("forecast") and uses_timestamps("forecast+likelihood")
    values = sine(400) + [200.0] + sine(50)
    scored = list(score_series(values, "forecast", {}))
    assert scored[400][1] is True and scored[400][0] > alarm("forecast")
    assert sum(flag for _, flag in scored) < 20
    with_times = list(score_series(values, "forecast", {}, timestamps=stamps(len(values), 60)))
    assert len(with_times) == len(values) and with_times[400][1] is True
