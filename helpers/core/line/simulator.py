"""A simulated production line: named sensors with a base level, a slow cycle and noise.

Signals are a pure function of time, the anomaly level and any injected
scenario, plus a seeded random generator per sensor, so tests and demos are
reproducible.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Optional, Sequence

from helpers.core.line.scenarios import Scenario, scenario_offset


@dataclass(frozen=True)
class SensorProfile:
    """How one simulated sensor behaves; ``noise`` is the std of its Gaussian noise."""

    name: str
    label: str
    unit: str
    base: float
    amplitude: float
    period_s: float
    noise: float
    phase: float = 0.0

    def clean(self, t: float) -> float:
        """The noiseless signal: base level plus the slow production cycle."""
        return self.base + self.amplitude * math.sin(2.0 * math.pi * t / self.period_s + self.phase)


# Cycles are about twice the noise and slow next to a default 100-reading
# model, as on a real line: a z-score model sees them as drift it can follow.
DEFAULT_SENSORS: tuple[SensorProfile, ...] = (
    SensorProfile("vibration", "Vibration", "mm/s", 2.8, 0.25, 240.0, 0.12),
    SensorProfile("motor_temperature", "Motor temperature", "°C", 62.0, 0.6, 900.0, 0.25, 1.0),
    SensorProfile("energy_use", "Energy use", "kW", 45.0, 1.5, 600.0, 0.6, 2.0),
    SensorProfile("pressure", "Hydraulic pressure", "bar", 120.0, 1.2, 300.0, 0.5, 0.5),
)

# At anomaly level p (0..1) a reading gets, with probability EXCURSION_RATE * p,
# an offset of ±3..6 noise stds, and its noise grows by a factor (1 + p).
EXCURSION_RATE = 0.25


class LineSimulator:
    """Produces readings for a set of sensor profiles.

    >>> sim = LineSimulator(DEFAULT_SENSORS, seed=1)
    >>> round(sim.sample("vibration", 0.0, anomaly_level=0.0), 3)
    2.853
    """

    def __init__(self, profiles: Sequence[SensorProfile], seed: Optional[int] = None):
        self.profiles = {p.name: p for p in profiles}
        self.reset(seed)

    def reset(self, seed: Optional[int]) -> None:
        """Start over from ``seed``: the same seed, times and scenarios give the same readings."""
        master = random.Random(seed)
        self._rngs = {name: random.Random(master.getrandbits(64)) for name in self.profiles}
        self._last: dict[str, float] = {}
        self._current: dict[str, Scenario] = {}

    def sample(self, sensor: str, t: float, anomaly_level: float = 0.0,
               scenario: Optional[Scenario] = None) -> float:
        """One reading of ``sensor`` at time ``t``; ``anomaly_level`` is a percentage 0..100.

        ``t`` and the scenario's times are seconds since the session start, so a
        replayed session sees the same cycle phase at the same reading.
        """
        profile = self.profiles[sensor]
        rng = self._rngs[sensor]
        p = min(max(anomaly_level, 0.0), 100.0) / 100.0
        value = profile.clean(t) + rng.gauss(0.0, profile.noise * (1.0 + p))
        if p and rng.random() < EXCURSION_RATE * p:
            value += rng.choice((-1.0, 1.0)) * rng.uniform(3.0, 6.0) * profile.noise
        if scenario is not None:
            first = self._current.get(sensor) != scenario
            self._current[sensor] = scenario
            if scenario.kind == "stuck":
                return self._last.get(sensor, value)
            value += scenario_offset(scenario, t, profile.noise, rng, first)
        else:
            self._current.pop(sensor, None)
        self._last[sensor] = value
        return value
