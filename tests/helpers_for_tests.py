"""Collaborators the tests pass in instead of patching: a clock a test moves by hand, and a way to drive the sampler with it."""
from __future__ import annotations

from helpers.core.line.simulator import DEFAULT_SENSORS, LineSimulator
from helpers.runtime.sampler import Sampler


class FakeClock:
    def __init__(self, start: float):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def started_sampler(app, clock, source=None):
    """A sampler on ``app`` that keeps ``clock``'s time, started as after a boot."""
    sampler = Sampler(app, source or LineSimulator(DEFAULT_SENSORS, seed=1), clock=clock)
    with app.app_context():
        sampler.start()
    return sampler


def drive(app, sampler, clock, seconds, tick=0.1):
    """Move the clock on by ``seconds`` in ticks, stepping the sampler at each, then store everything."""
    with app.app_context():
        for _ in range(round(seconds / tick)):
            clock.advance(tick)
            sampler.step()
        sampler.flush()
