"""Named anomalies that an instructor injects into a sensor for a while.

Magnitudes are in units of the sensor's noise std (for ``noise_burst``, the
std of the extra noise), so one scenario means the same on every sensor.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Optional

# kind -> (default magnitude, what it does)
SCENARIO_KINDS: dict[str, tuple[float, str]] = {
    "spike": (8.0, "short jumps of ±magnitude stds on about a third of the readings (always the first)"),
    "level_shift": (5.0, "the level moves up by magnitude stds for the whole period"),
    "drift": (8.0, "the level creeps up linearly, reaching magnitude stds at the end"),
    "noise_burst": (5.0, "extra Gaussian noise of magnitude stds"),
    "stuck": (0.0, "the sensor repeats its last value (magnitude unused)"),
}
SPIKE_RATE = 0.3


@dataclass(frozen=True)
class Scenario:
    """An injected anomaly, active for ``starts_at <= t < ends_at`` (epoch seconds)."""

    kind: str
    magnitude: float
    starts_at: float
    ends_at: float
    id: Optional[int] = None

    def active(self, t: float) -> bool:
        return self.starts_at <= t < self.ends_at


def scenario_offset(scenario: Scenario, t: float, noise: float, rng: random.Random,
                    first: bool = False) -> float:
    """What ``scenario`` adds to a reading at time ``t``; ``first`` marks its first reading.

    ``stuck`` replaces the value instead, so the simulator handles it.
    """
    kind, m = scenario.kind, scenario.magnitude
    if kind == "level_shift":
        return m * noise
    if kind == "drift":
        span = max(scenario.ends_at - scenario.starts_at, 1e-9)
        return m * noise * (t - scenario.starts_at) / span
    if kind == "noise_burst":
        return rng.gauss(0.0, m * noise)
    if kind == "spike":
        if first:
            return m * noise
        if rng.random() < SPIKE_RATE:
            return rng.choice((-1.0, 1.0)) * m * noise
        return 0.0
    raise ValueError(f"unknown scenario kind {kind!r}")
