"""The z-score's alarm: one early alarm per unusual excursion, not one per reading beyond the band.

A reading beyond ``|z| > threshold`` is *out of band*: it stays out of the
model and counts in the anomaly ratio. On a real sensor many such readings are
routine (heavy tails, a noisy stretch), and a long excursion is dozens of them;
telling someone about each one is an alert storm. An *excursion* is a run of
out-of-band readings; it raises at most one alarm, at its first reading that is

* **unusual for this sensor** — the average of its last 10 z-scores is beyond
  what this sensor's own history of that average makes likely (the anomaly
  likelihood of :mod:`helpers.core.detectors.likelihood`: a log-likelihood of
  0.5 or more, i.e. a likelihood of 0.99999), or
* **a new extreme** — beyond the whole range seen so far by more than 5 % of it.

Until the likelihood has seen ``estimation`` judged readings (300: five minutes
of a 1 Hz sensor) only a new extreme alarms: a fault injected in a class demo
still alarms from the first verdict on, while the chance |z| > 3 of a sensor
not yet known raises nothing (alarming at every excursion then would be a flood
after each restart of a session).

One configuration for every sensor (nothing here is a setting); the z threshold
still decides which readings are out of band, and so which can alarm. On the
NAB dev corpus the alarms score 56.37 on the standard profile, where the
out-of-band flags score 0.00 (``benchmarks/nab_zscore_variants.py``).
"""
from __future__ import annotations

from typing import Iterable, NamedTuple, Optional

from helpers.core.detectors.likelihood import ALARM, AnomalyLikelihood, SeenRange, log_likelihood
from helpers.core.detectors.robust_zscore import z_to_unit

#: Why a reading alarmed (or None when it did not).
UNUSUAL = "unusual"
EXTREME = "extreme"

#: |z| that maps to a raw score of 0.5 before the likelihood (as the detectors' contract does).
Z_HALF = 20.0
#: Readings in the likelihood's long-run history: what a restart replays to resume it.
HISTORY = 8640


class Alarm(NamedTuple):
    """The alarm rule's word on one reading; ``likelihood`` is None while it collects history."""

    alarm: bool
    likelihood: Optional[float]
    reason: Optional[str]


QUIET = Alarm(False, None, None)


def format_likelihood(likelihood: float) -> str:
    """Six decimals, capped below 1: the nines that matter (0.999998), never a rounded 1."""
    return f"{min(likelihood, 0.999999):.6f}"


class ExcursionAlarm:
    """Raises at most one alarm per excursion, and only when it is unusual for the sensor.

    >>> import random
    >>> rng = random.Random(1)
    >>> rule = ExcursionAlarm(estimation=100)
    >>> quiet = [rule.observe(10 + rng.gauss(0, 1), rng.gauss(0, 1), False) for _ in range(300)]
    >>> any(a.alarm for a in quiet), quiet[99].likelihood is None, quiet[100].likelihood is not None
    (False, True, True)
    >>> shift = [rule.observe(17 + rng.gauss(0, 1), 7.0, True) for _ in range(20)]
    >>> [i for i, a in enumerate(shift) if a.alarm], shift[0].reason      # one per excursion
    ([0], 'extreme')
    >>> back = [rule.observe(10 + rng.gauss(0, 1), rng.gauss(0, 1), False) for _ in range(100)]
    >>> rule.observe(10.5, 3.2, True).alarm              # out of band, but routine for this sensor
    False
    """

    __slots__ = ("estimation", "extreme_tolerance", "_likelihood", "_range", "_raised")

    def __init__(self, estimation: int = 300, extreme_tolerance: Optional[float] = 0.05):
        """``extreme_tolerance`` None: no new-extreme rule (benchmarks/nab_zscore_variants.py weighs it)."""
        self.estimation, self.extreme_tolerance = int(estimation), extreme_tolerance
        self.reset()

    @property
    def ready(self) -> bool:
        """Whether alarms weigh the likelihood (else only a new extreme alarms)."""
        return self._likelihood.ready

    def reset(self) -> None:
        """Forget the sensor: its range and its history of z-scores."""
        self._likelihood = AnomalyLikelihood(history=HISTORY, skip=0, estimation=self.estimation)
        self._range = SeenRange(self.extreme_tolerance)
        self._raised = False

    def observe(self, x: float, z: Optional[float], out_of_band: bool) -> Alarm:
        """The alarm for reading ``x`` with z-score ``z`` (None: no verdict yet), then learn from it."""
        extreme = self._range.beyond(x)
        if z is None:
            return QUIET
        likelihood = self._likelihood.update(z_to_unit(z, Z_HALF))
        if not out_of_band:
            self._raised = False
        if not out_of_band or self._raised:
            return Alarm(False, likelihood, None)
        unusual = likelihood is not None and log_likelihood(likelihood) >= ALARM
        reason = EXTREME if extreme else UNUSUAL if unusual else None
        self._raised = reason is not None
        return Alarm(self._raised, likelihood, reason)

    def restore(self, history: Iterable[tuple[float, Optional[float], bool]]) -> None:
        """Replay stored ``(value, z, out of band)``, oldest first, so a restart keeps the sensor's history."""
        for x, z, out_of_band in history:
            self.observe(x, z, out_of_band)
