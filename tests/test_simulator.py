"""The simulated line and the injected scenarios change the signal as documented."""
from __future__ import annotations

import statistics

import pytest

from helpers.core.line.scenarios import SCENARIO_KINDS, Scenario
from helpers.core.line.simulator import DEFAULT_SENSORS, LineSimulator

VIB = next(p for p in DEFAULT_SENSORS if p.name == "vibration")


def run(sim, kind=None, magnitude=None, t0=0.0, n=200, level=0.0, sensor="vibration"):
    scenario = None
    if kind is not None:
        magnitude = SCENARIO_KINDS[kind][0] if magnitude is None else magnitude
        scenario = Scenario(kind, magnitude, t0, t0 + n, id=1)
    return [sim.sample(sensor, t0 + i, level, scenario) for i in range(n)]


def residuals(values, t0=0.0):
    return [v - VIB.clean(t0 + i) for i, v in enumerate(values)]


def test_at_least_three_named_sensors_with_units():
    assert len(DEFAULT_SENSORS) >= 3
    assert all(p.unit and p.label for p in DEFAULT_SENSORS)
    assert len({p.name for p in DEFAULT_SENSORS}) == len(DEFAULT_SENSORS)


def test_signal_is_base_plus_cycle_plus_noise_and_reproducible():
    a = run(LineSimulator(DEFAULT_SENSORS, seed=9))
    b = run(LineSimulator(DEFAULT_SENSORS, seed=9))
    assert a == b
    res = residuals(a)
    assert abs(statistics.fmean(res)) < 3 * VIB.noise / len(res) ** 0.5 + 0.01
    assert statistics.stdev(res) == pytest.approx(VIB.noise, rel=0.2)


def test_anomaly_level_adds_offsets_and_noise():
    calm = residuals(run(LineSimulator(DEFAULT_SENSORS, seed=2), n=2000))
    rough = residuals(run(LineSimulator(DEFAULT_SENSORS, seed=2), n=2000, level=100.0))
    assert statistics.stdev(rough) > 1.8 * statistics.stdev(calm)
    assert sum(abs(r) > 4 * VIB.noise for r in rough) > 100
    assert sum(abs(r) > 4 * VIB.noise for r in calm) < 5


def test_level_shift_moves_the_level_by_magnitude_stds():
    res = residuals(run(LineSimulator(DEFAULT_SENSORS, seed=3), "level_shift", 5.0, n=400))
    assert statistics.fmean(res) == pytest.approx(5.0 * VIB.noise, rel=0.1)


def test_drift_grows_linearly_to_magnitude():
    res = residuals(run(LineSimulator(DEFAULT_SENSORS, seed=3), "drift", 8.0, n=400))
    assert statistics.fmean(res[:40]) < 1.5 * VIB.noise
    assert statistics.fmean(res[-40:]) == pytest.approx(8.0 * VIB.noise * 0.95, rel=0.15)


def test_noise_burst_widens_the_noise():
    res = residuals(run(LineSimulator(DEFAULT_SENSORS, seed=3), "noise_burst", 5.0, n=1000))
    assert statistics.stdev(res) == pytest.approx(VIB.noise * (1 + 25) ** 0.5, rel=0.15)


def test_spike_jumps_on_the_first_reading_and_some_later_ones():
    res = residuals(run(LineSimulator(DEFAULT_SENSORS, seed=3), "spike", 8.0, n=300))
    big = [abs(r) > 5 * VIB.noise for r in res]
    assert big[0]
    assert 0.15 < sum(big) / len(big) < 0.45


def test_stuck_repeats_the_last_value_before_it():
    sim = LineSimulator(DEFAULT_SENSORS, seed=3)
    before = run(sim, n=10)
    stuck = run(sim, "stuck", t0=10.0, n=20)
    assert set(stuck) == {before[-1]}
    after = run(sim, t0=30.0, n=5)
    assert len(set(after)) == 5
