"""Alert rules for one sensor (or the line): a state change, a burst of anomalies, and a z-score excursion.

Each rule has a fire condition and a separate, easier clear condition
(hysteresis), so one incident raises one alarm and clears it once. A cooldown
keeps a rule that fires again soon after quiet: the alarm is still recorded,
but no message goes out. Nothing is judged while the baseline is learning.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Mapping, NamedTuple, Optional

from helpers.core.alerts.usage_state import HIGH, NORMAL, Change, UsageState
from helpers.core.detectors.zscore_alarm import format_likelihood

STATE, BURST, EXCURSION = "state", "burst", "excursion"
RULES = (STATE, BURST, EXCURSION)

# Why the z-score's excursion alarm fired (helpers/core/detectors/zscore_alarm.py), as an alert's reason.
_EXCURSION_WHY = {
    "unusual": "unusual for this sensor (likelihood {likelihood})",
    "extreme": "a new extreme, beyond the whole range seen so far",
}


class AlertEvent(NamedTuple):
    kind: str          # raise | clear
    rule: str          # state | burst | excursion
    t: float
    reason: str
    numbers: dict
    notify: bool       # False: inside the cooldown (a raise), or its raise was not sent (a clear)


class BurstWindow:
    """Anomalies among the last M verdicts and within the last T seconds; memory bounded by M and the anomalies.

    >>> w = BurstWindow()
    >>> [w.add(float(t), a, 3, 0) for t, a in enumerate([1, 1, 0, 1, 0, 0])]
    [(1, 0), (2, 0), (2, 0), (2, 0), (1, 0), (1, 0)]
    """

    def __init__(self) -> None:
        self.flags: deque[bool] = deque()
        self.in_m = 0
        self.times: deque[float] = deque()

    def add(self, t: float, anomaly: bool, m: int, t_s: float) -> tuple[int, int]:
        self.flags.append(bool(anomaly))
        self.in_m += bool(anomaly)
        while len(self.flags) > m:
            self.in_m -= self.flags.popleft()
        if anomaly and t_s > 0:
            self.times.append(t)
        while self.times and (t_s <= 0 or self.times[0] <= t - t_s):
            self.times.popleft()
        return self.in_m, len(self.times)


class Judged(NamedTuple):
    """One judged verdict as the alert rules see it.

    ``numbers`` go into an alarm's reason and e-mail (value, z, threshold; ``likelihood`` only with an
    excursion alarm). ``excursion`` is the reason of the z-score's excursion alarm when this reading raised
    it; ``out_of_band`` whether the reading was beyond the z-score's band (an excursion clears when not).
    """

    t: float
    anomaly: bool
    ratio: float
    numbers: Mapping[str, Any]
    excursion: Optional[str] = None
    out_of_band: bool = False


class SensorAlerts:
    """A target's usage state and alert rules, fed one judged verdict at a time.

    >>> s = {"high_usage_enter": 0.5, "high_usage_exit": 0.2, "high_usage_hold_s": 0, "alert_on_state": True,
    ...      "alert_on_burst": True, "burst_count": 2, "burst_readings": 3, "burst_seconds": 0,
    ...      "burst_clear_count": 0, "alert_cooldown_s": 60}
    >>> a = SensorAlerts()
    >>> [e.rule + ":" + e.kind for e in a.observe(Judged(1.0, True, 0.1, {"value": 9}), s)[1]]
    []
    >>> change, events = a.observe(Judged(2.0, True, 0.6, {"value": 9}), s)
    >>> change.to_state, [e.rule + ":" + e.kind for e in events]
    ('high_usage', ['state:raise', 'burst:raise'])
    >>> s["alert_on_excursion"] = True
    >>> extreme = Judged(3.0, True, 0.6, {"z": 9.0, "threshold": 3.0}, excursion="extreme", out_of_band=True)
    >>> [(e.rule, e.kind, e.reason) for e in a.observe(extreme, s)[1]]
    [('excursion', 'raise', '|z| 9.00 beyond 3: a new extreme, beyond the whole range seen so far')]
    >>> [(e.rule, e.kind) for e in a.observe(Judged(4.0, False, 0.6, {"z": 1.0}), s)[1]]
    [('excursion', 'clear')]
    """

    def __init__(self, state: str = NORMAL):
        self.usage = UsageState(state)
        self.burst = BurstWindow()
        self.active: dict[str, bool] = {STATE: state == HIGH, BURST: False, EXCURSION: False}
        self.last_sent: dict[str, float] = {}      # rule -> time of the last raise that was sent
        self.raise_sent: dict[str, bool] = {}      # rule -> whether the open alarm's raise was sent

    def observe(self, judged: Judged, settings: Mapping[str, Any]) -> tuple[Optional[Change], list[AlertEvent]]:
        """The state change (if any) and the alert events of one judged verdict.

        The excursion alarm clears at the first reading back in band; ``numbers["likelihood"]``,
        the likelihood it weighed, goes with that alarm only.
        """
        t, anomaly, ratio, numbers, excursion, out_of_band = judged
        events = []
        excursion_numbers = numbers
        numbers = {k: v for k, v in numbers.items() if k != "likelihood"}
        change = self.usage.update(t, ratio, settings["high_usage_enter"], settings["high_usage_exit"],
                                   settings["high_usage_hold_s"])
        if change is not None:
            kind = "raise" if change.to_state == HIGH else "clear"
            event = self._event(kind, STATE, t, change.reason, {**numbers, "ratio": ratio}, settings,
                                enabled=settings["alert_on_state"])
            if event:
                events.append(event)
        m, t_s = settings["burst_readings"], settings["burst_seconds"]
        in_m, in_t = self.burst.add(t, anomaly, m, t_s)
        n, clear = settings["burst_count"], settings["burst_clear_count"]
        burst_numbers = {**numbers, "ratio": ratio, "count": max(in_m, in_t),
                         "window": f"{m} readings" + (f" or {t_s:g} s" if t_s > 0 else "")}
        if not self.active[BURST] and (in_m >= n or (t_s > 0 and in_t >= n)):
            count, where = (in_m, f"the last {m} readings") if in_m >= n else (in_t, f"the last {t_s:g} s")
            event = self._event("raise", BURST, t, f"{count} anomalies in {where}",
                                burst_numbers, settings, enabled=settings["alert_on_burst"])
            if event:
                events.append(event)
        elif self.active[BURST] and in_m <= clear and (t_s <= 0 or in_t <= clear):
            event = self._event("clear", BURST, t, f"at most {clear} anomalies in the last {m} readings",
                                burst_numbers, settings, enabled=True)
            if event:
                events.append(event)
        event = self._excursion(t, excursion, out_of_band, excursion_numbers, settings)
        if event:
            events.append(event)
        return change, events

    def _excursion(self, t: float, excursion: Optional[str], out_of_band: bool, numbers: Mapping[str, Any],
                   settings: Mapping[str, Any]) -> Optional[AlertEvent]:
        if excursion is not None and not self.active[EXCURSION]:
            likelihood = numbers.get("likelihood")
            shown = "?" if likelihood is None else format_likelihood(likelihood)
            why = _EXCURSION_WHY.get(excursion, excursion).format(likelihood=shown)
            z, threshold = numbers.get("z"), numbers.get("threshold")
            beyond = f"|z| {abs(z):.2f} beyond {threshold:g}: " if z is not None and threshold is not None else ""
            return self._event("raise", EXCURSION, t, beyond + why, dict(numbers), settings,
                               enabled=settings.get("alert_on_excursion", True))
        if self.active[EXCURSION] and not out_of_band:
            return self._event("clear", EXCURSION, t, "back within the band: the excursion ended", dict(numbers),
                               settings, enabled=True)
        return None

    def _event(self, kind: str, rule: str, t: float, reason: str, numbers: dict, settings: Mapping[str, Any],
               enabled: bool) -> Optional[AlertEvent]:
        if kind == "raise":
            if not enabled:
                return None
            self.active[rule] = True
            notify = t - self.last_sent.get(rule, float("-inf")) >= settings["alert_cooldown_s"]
            if notify:
                self.last_sent[rule] = t
            self.raise_sent[rule] = notify
            return AlertEvent("raise", rule, t, reason, numbers, notify)
        if not self.active[rule]:
            return None
        self.active[rule] = False
        return AlertEvent("clear", rule, t, reason, numbers, self.raise_sent.pop(rule, False))
