"""The sampler's alert side: states and alarms from each judged reading, stored with the readings.

Owned by the sampler: ``observe`` is called for every reading, ``observe_line``
once per step, and ``flush`` inside the sampler's transaction, so a reading,
the state change it caused, its alarm and the e-mail for it are stored
together or not at all. Messages go to the outbox; sending is the mailer's job.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping, Optional

from flask import Flask

from helpers.core.alerts.rules import RULES, STATE, AlertEvent, Judged, SensorAlerts
from helpers.runtime.alerting import compose
from helpers.core.alerts.usage_state import HIGH, NORMAL, Change
from helpers.storage import alarms as store
from helpers.storage import line as line_store
from helpers.storage import readings as reading_store

log = logging.getLogger(__name__)

# Minutes of readings an alert message shows.
RECENT_S = 300.0
LINE = None  # the line's key where sensors have ids


class Alerting:
    def __init__(self, app: Flask):
        self.app = app
        self.targets: dict[Optional[int], SensorAlerts] = {}
        self.labels: dict[Optional[int], tuple[str, str, str]] = {}  # id -> (name, label, unit)
        self.pending: list[tuple[Optional[int], Optional[Change], AlertEvent | None]] = []
        self.latest_ratio: dict[int, float] = {}

    def start(self) -> None:
        """Rebuild states, open alarms and cooldowns from the database (a restart resumes them)."""
        states = store.latest_states()
        self.targets, self.labels = {}, {LINE: ("line", "the line", "")}
        for sensor in line_store.all_sensors():
            self.labels[sensor.id] = (sensor.name, sensor.label, sensor.unit)
        for key in self.labels:
            self.targets[key] = SensorAlerts(states.get(key, NORMAL))
        for alarm in store.open_alarms():
            target = self.targets.get(alarm.sensor_id)
            if target is not None:
                target.active[alarm.rule] = True
                target.raise_sent[alarm.rule] = alarm.notify
        for (sensor_id, rule), t in store.last_sent_raises().items():
            if sensor_id in self.targets:
                self.targets[sensor_id].last_sent[rule] = t
        self.pending = []

    def add_sensor(self, sensor) -> None:
        """A sensor registered while the sampler runs (pushed readings)."""
        self.labels[sensor.id] = (sensor.name, sensor.label, sensor.unit)
        self.targets[sensor.id] = SensorAlerts()

    def reset(self) -> None:
        """A new session: every sensor relearns, so states start normal (open alarms are cleared at the flush)."""
        for key, target in self.targets.items():
            if target.usage.state == HIGH:
                self.pending.append((key, Change(0.0, HIGH, NORMAL, 0.0, "a new session started"), None))
            for rule in RULES:
                if target.active[rule]:
                    self.pending.append((key, None, AlertEvent("clear", rule, 0.0, "a new session started", {},
                                                               target.raise_sent.get(rule, False))))
            self.targets[key] = SensorAlerts()

    def observe(self, sensor_id: int, judged: Judged, settings: Mapping[str, Any]) -> None:
        """One judged reading of a sensor (the sampler passes none while every detector still learns)."""
        self.latest_ratio[sensor_id] = judged.ratio
        change, events = self.targets[sensor_id].observe(judged, settings)
        self._queue(sensor_id, change, events)

    def observe_line(self, t: float, settings: Mapping[str, Any]) -> None:
        """The line's state from the mean of its sensors' ratios (only state alerts; bursts are per sensor)."""
        if not self.latest_ratio:
            return
        ratio = sum(self.latest_ratio.values()) / len(self.latest_ratio)
        line_settings = {**settings, "alert_on_burst": False, "burst_count": 1 << 30}
        change, events = self.targets[LINE].observe(Judged(t, False, ratio, {"ratio": ratio}), line_settings)
        self._queue(LINE, change, [e for e in events if e.rule == STATE])

    def _queue(self, key, change, events) -> None:
        if change is not None:
            self.pending.append((key, change, None))
        for event in events:
            self.pending.append((key, None, event))

    def flush(self, now: float) -> int:
        """Store the pending state changes and alarms (and queue their e-mails) in the caller's transaction."""
        pending, self.pending = self.pending, []
        messages = 0
        for key, change, event in pending:
            if change is not None:
                store.add_state_change(key, change.t or now, change.from_state, change.to_state, change.ratio,
                                       change.reason)
                continue
            messages += self._store_event(key, event, now)
        return messages

    def _store_event(self, key: Optional[int], event: AlertEvent, now: float) -> int:
        name, label, unit = self.labels[key]
        t = event.t or now
        if event.kind == "raise":
            suppressed = store.suppression(key, t)
            if not event.notify:
                suppressed = suppressed or "cooldown: the same rule alerted less than alert_cooldown_s ago"
            alarm = store.raise_alarm(key, event.rule, t, event.reason, event.numbers, suppressed is None, suppressed)
            self.targets[key].raise_sent[event.rule] = alarm.notify
            notify = alarm.notify
        else:
            alarm = store.open_alarm(key, event.rule)
            if alarm is None:
                return 0
            alarm.status, alarm.cleared_at, alarm.clear_reason = "cleared", t, event.reason
            notify = alarm.notify and event.notify
        if not notify:
            return 0
        return int(self._enqueue(alarm.id, event, key, name, label, unit, t) is not None)

    def _enqueue(self, alarm_id, event, key, name, label, unit, t):
        recent = [] if key is None else [
            {"t": r["t"], "value": r["value"], "z": r["z"], "anomaly": r["anomaly"]}
            for r in reading_store.readings_since_time(key, t - RECENT_S) if r["t"] <= t]
        return compose.enqueue_alarm(self.app.config, {
            "alarm_id": alarm_id, "kind": event.kind, "rule": event.rule, "target": name, "label": label,
            "unit": unit, "t": t, "reason": event.reason, "numbers": event.numbers}, recent, t)
