"""The sampler: the one loop that owns source → detectors → store.

``Sampler.step`` does one pass (read settings, apply re-baselines, produce the
readings that are due, judge them, store them) and is what tests and the
benchmark call directly; ``hold_lease`` and ``chores`` (pull sources, retraining,
retention, health) are methods a test calls too; ``Sampler.run`` only keeps time
and logs any exception before it goes on.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from typing import Any, Callable, Optional, Protocol

from flask import Flask

from helpers.core.detectors import zscore_alarm
from helpers.core.alerts.rules import Judged
from helpers.core.line.align import LineAligner
from helpers.core.monitor import SensorMonitor
from helpers.core.line.scenarios import Scenario
from helpers.runtime.jobs import knn_models, retraining
from helpers.runtime.alerting.observer import Alerting
from helpers.runtime.retention import RetentionChore
from helpers.runtime.sources.runner import SourceRunner
from helpers.storage import forecasts, ingest_queue, lease, sampler_health
from helpers.storage import baselines as baseline_store
from helpers.storage import line as line_store
from helpers.storage import readings as reading_store
from helpers.storage import scenarios as scenario_store
from helpers.storage import sessions as session_store
from helpers.storage import settings as settings_store
from helpers.storage import model_registry as registry
from helpers.storage.db import db

log = logging.getLogger(__name__)

# Queued ingest batches (up to 10,000 readings each) judged per step at most, so a backlog cannot stall the loop.
INGEST_BATCHES_PER_STEP = 20
# Stored readings a newly chosen detector (or one rebuilt at a restart) learns from before it judges.
WARM_READINGS = 3000
# The longest forecast kept, in points.
MAX_FORECAST_POINTS = 120


class Source(Protocol):
    def reset(self, seed: Optional[int]) -> None: ...

    def sample(self, sensor: str, t: float, anomaly_level: float = 0.0,
               scenario: Optional[Scenario] = None) -> float: ...


def _scenario_at(scenarios: list[Scenario], t: float) -> Optional[Scenario]:
    for scenario in scenarios:
        if scenario.active(t):
            return scenario
    return None


class Schedule:
    """When a sensor's next reading is due, as ``base + k * period``.

    Counting readings instead of adding the period again and again keeps the
    times free of accumulated rounding, so a replayed session samples at
    exactly the same offsets. ``offset`` is the time since the session start.
    """

    __slots__ = ("base_t", "base_offset", "k", "period")

    def __init__(self, base_t: float, base_offset: float, period: float):
        self.base_t, self.base_offset, self.k, self.period = base_t, base_offset, 0, period

    @property
    def due(self) -> float:
        return self.base_t + self.k * self.period

    @property
    def offset(self) -> float:
        return self.base_offset + self.k * self.period

    def rebase(self, period: float, skip_to: Optional[float] = None) -> None:
        """Keep the next due time (or jump to ``skip_to``) and count on with a new period."""
        due, offset = self.due, self.offset
        if skip_to is not None and skip_to > due:
            offset += skip_to - due
            due = skip_to
        self.base_t, self.base_offset, self.k, self.period = due, offset, 0, period


class Sampler:
    """Produces each sensor's readings at its rate, judges and stores them."""

    def __init__(self, app: Flask, source: Source, clock: Callable[[], float] = time.time,
                 owner: Optional[str] = None):
        self.app = app
        self.source = source
        self.clock = clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        cfg = app.config
        self.flush_seconds = cfg["SAMPLER_FLUSH_SECONDS"]
        self.max_catchup = cfg["SAMPLER_MAX_CATCHUP_SECONDS"]
        self.monitors: dict[int, SensorMonitor] = {}
        self.names: dict[int, str] = {}
        self.schedules: dict[int, Schedule] = {}
        self.session_id: Optional[int] = None
        # sensor id -> (id of the LSTM model attached, percentile, ratio of its threshold)
        self._shape_models: dict[int, tuple[int, float, float]] = {}
        self._broken_models: set[int] = set()
        self._line = None  # (model id, scorer, aligner) while the line's model scores
        self._buffer: list[dict[str, Any]] = []
        self._line_buffer: list[dict[str, Any]] = []
        self._last_flush = 0.0
        self.readings_stored = 0
        self.step_failures = 0  # in a row; stored for /healthz (a sampler that beats but fails every step)
        # Queued ingest batches judged since the last flush (deleted in its transaction).
        self._taken: list[int] = []
        self.alerting = Alerting(app)
        self.load_knn = knn_models.loader(app)  # supervised kNN models a sensor may run (knn_model:NAME)
        self.retention = RetentionChore(app)
        self.sources = SourceRunner(app)
        self.line_settings: dict[str, Any] = {}
        self.session_started_at = 0.0
        self._forecasting: set[int] = set()  # sensors with a stored forecast
        self._forecast_t: dict[int, float] = {}  # the reading time each was made at
        # The loop's own state (see run): the lease, when it was last renewed, the worst lag and step time since.
        self.holding = False
        self._last_beat = 0.0
        self._last_retrain_check = clock()
        self._worst_lag = self._worst_loop = 0.0

    # --- one pass ----------------------------------------------------------

    def start(self) -> None:
        """Build every sensor's monitor from the stored recent history (a restart resumes, not relearns)."""
        session = session_store.current_session()
        line, overrides = settings_store.load_settings()
        last_times = reading_store.last_reading_times()
        now = self.clock()
        resumed = False
        for sensor in line_store.all_sensors():
            settings = settings_store.effective(line, overrides, sensor.name)
            period = 1.0 / settings["sample_rate_hz"]
            monitor = SensorMonitor(settings, self.load_knn)
            last = last_times.get(sensor.id)
            if last is not None and last >= session.started_at:
                resumed = True
                depth = max(2 * settings["model_size"] + settings["relearn_after"] + settings["anomaly_list_size"],
                            zscore_alarm.HISTORY)
                since = max(session.started_at, baseline_store.last_rebaseline_at(sensor.id) or session.started_at)
                monitor.restore(reading_store.restore_history(sensor.id, depth, since))
                monitor.others.warm(monitor.others.names, reading_store.recent_values(sensor.id, WARM_READINGS, since))
                due = max(now, last + period)
            else:
                due = max(now, session.started_at)
            self.monitors[sensor.id] = monitor
            self.names[sensor.id] = sensor.name
            self.schedules[sensor.id] = Schedule(due, due - session.started_at, period)
        the_line = line_store.the_line()
        self.line_id, self.line_target = the_line.id, registry.line_target(the_line.name)
        # A session interrupted by a restart cannot continue its random stream; it
        # goes on from a derived seed (only uninterrupted sessions repeat exactly).
        self.source.reset(session.seed if not resumed else hash((session.seed, now)) & 0x7FFFFFFF)
        self.session_id = session.id
        self.session_started_at = session.started_at
        self._last_flush = now
        self.alerting.start()

    def step(self) -> int:
        """Produce, judge and buffer every reading that is due; returns how many."""
        now = self.clock()
        if session_store.current_session_id() != self.session_id:
            self._begin_new_session()
        line, overrides = settings_store.load_settings()
        self.line_settings = line
        for sensor_id, monitor in self.monitors.items():
            settings = settings_store.effective(line, overrides, self.names[sensor_id])
            if settings["sample_rate_hz"] != monitor.settings["sample_rate_hz"]:
                self.schedules[sensor_id].rebase(1.0 / settings["sample_rate_hz"])
            fresh = monitor.configure(settings)
            if fresh:
                monitor.others.warm(fresh, self._history(sensor_id))
        self._sync_shape_models(line)
        self._apply_rebaselines(now)
        produced = 0
        if line["running"]:
            if line["source"] == "simulator":
                produced = self._produce(now, line["anomaly_level"])
            produced += self._consume()
            if produced:
                self.alerting.observe_line(now, line)
        else:
            for schedule in self.schedules.values():
                schedule.rebase(schedule.period, skip_to=now)
        if now - self._last_flush >= self.flush_seconds or not line["running"]:
            self.flush(now)
        return produced

    def _sync_shape_models(self, line: dict[str, Any]) -> None:
        """Attach each enabled sensor's and the line's active LSTM, follow switches and threshold rules."""
        enabled = {sid for sid, m in self.monitors.items() if m.settings["lstm_enabled"]}
        active = registry.active_models() if enabled or line["line_lstm_enabled"] else {}
        for sensor_id, monitor in self.monitors.items():
            wanted = active.get(registry.sensor_target(self.names[sensor_id])) if sensor_id in enabled else None
            if wanted is None or wanted[0] in self._broken_models:
                monitor.shape = None
                self._shape_models.pop(sensor_id, None)
                continue
            model_id, path = wanted
            settings = monitor.settings
            rule = (model_id, settings["lstm_percentile"], settings["lstm_ratio"])
            attached = self._shape_models.get(sensor_id)
            if attached is None or attached[0] != model_id:
                monitor.shape = self._load_scorer(model_id, path)
                if monitor.shape is None:
                    continue
            if attached != rule:  # the percentile lookup runs only when the rule changes
                monitor.shape.threshold = monitor.shape.trained.threshold(rule[1], rule[2])
                self._shape_models[sensor_id] = rule
        self._sync_line_model(line, active)

    def _sync_line_model(self, line: dict[str, Any], active: dict[str, tuple[int, str]]) -> None:
        """Attach the line's active multivariate model while it is enabled; follow switches."""
        wanted = active.get(self.line_target) if line["line_lstm_enabled"] else None
        if wanted is None or wanted[0] in self._broken_models:
            self._line = None
            return
        model_id, path = wanted
        if self._line is None or self._line[0] != model_id:
            scorer = self._load_scorer(model_id, path)
            if scorer is None:
                return
            names = [self.names[sid] for sid in self.monitors]
            trained_on = (scorer.trained.training_range or {}).get("sensors")
            if trained_on != names:
                self._refuse_model(model_id, f"trained on sensors {trained_on}, the line now has {names}")
                return
            self._line = (model_id, scorer, LineAligner(names, names[0]))
        self._line[1].threshold = self._line[1].trained.threshold(line["lstm_percentile"], line["lstm_ratio"])

    def _refuse_model(self, model_id: int, problem: str) -> None:
        log.error("LSTM model %s cannot be used: %s", model_id, problem)
        self._broken_models.add(model_id)
        registry.mark_failed(model_id, problem)

    def _score_line(self, rows: list[dict[str, Any]]) -> None:
        """Feed this step's readings, in time order, to the line model."""
        model_id, scorer, aligner = self._line
        reference = aligner.reference
        for row in sorted(rows, key=lambda r: (r["t"], self.names[r["sensor_id"]] == reference)):
            vector = aligner.push(self.names[row["sensor_id"]], row["t"], row["value"])
            if vector is None:
                continue
            verdict = scorer.update(vector[1])
            if verdict.error is not None:
                self._line_buffer.append({"line_id": self.line_id, "t": vector[0], "error": verdict.error,
                                          "threshold": scorer.threshold, "anomaly": verdict.anomaly,
                                          "model_id": model_id})

    def _load_scorer(self, model_id: int, path: str):
        """An LSTMScorer for a saved model, or None (and the model marked failed) if its files are unusable."""
        from helpers.core.lstm import compute, persistence
        from helpers.core.lstm.scorer import LSTMScorer

        compute.use_one_scoring_thread()
        try:
            return LSTMScorer(persistence.load(path))
        except persistence.ModelFileError as exc:
            self._refuse_model(model_id, f"{exc}; the z-score goes on alone")
            return None

    def _history(self, sensor_id: int) -> list[tuple[float, float]]:
        """The sensor's stored ``(t, value)`` since its baseline began, for a detector chosen mid-session."""
        since = max(self.session_started_at, baseline_store.last_rebaseline_at(sensor_id) or self.session_started_at)
        return reading_store.recent_values(sensor_id, WARM_READINGS, since)

    def _begin_new_session(self) -> None:
        """Fresh models and a reseeded source from the session start: the classroom reset."""
        self.flush()
        session = session_store.current_session()
        self.source.reset(session.seed)
        self._shape_models.clear()  # reattached fresh at the next step: no window carried over
        self._line = None
        self.alerting.reset()
        for sensor_id, monitor in self.monitors.items():
            monitor.reset()
            monitor.shape = None
            self.schedules[sensor_id] = Schedule(session.started_at, 0.0, self.schedules[sensor_id].period)
        self.session_id = session.id
        self.session_started_at = session.started_at
        log.info("session %s started (seed %s)", session.id, session.seed)

    def _apply_rebaselines(self, now: float) -> None:
        pending = baseline_store.pending_rebaselines()
        for _event_id, sensor_id in pending:
            monitor = self.monitors.get(sensor_id)
            if monitor is not None:
                monitor.rebaseline()
        if pending:
            baseline_store.mark_rebaselines_applied((event_id for event_id, _ in pending), now)
            db.session.commit()

    def _produce(self, now: float, anomaly_level: float) -> int:
        earliest = min((s.due for s in self.schedules.values()), default=now)
        scenarios = scenario_store.open_scenarios(self.session_id, earliest) if self.monitors else {}
        rows = self._buffer
        first_new = len(rows)
        produced = 0
        for sensor_id, monitor in self.monitors.items():
            name = self.names[sensor_id]
            schedule = self.schedules[sensor_id]
            if schedule.due < now - self.max_catchup:
                log.warning("sampler fell %.1f s behind on %s; skipping ahead", now - schedule.due, name)
                schedule.rebase(schedule.period, skip_to=now)
            mine = scenarios.get(sensor_id, [])
            while schedule.due <= now:
                due, offset = schedule.due, schedule.offset
                schedule.k += 1
                scenario = _scenario_at(mine, offset) if mine else None
                try:
                    value = self.source.sample(name, offset, anomaly_level, scenario)
                    self._judge(sensor_id, due, value, scenario.id if scenario else None)
                except Exception:  # one bad reading must not stop the line
                    log.exception("reading of %s at %.3f failed; skipped", name, due)
                    continue
                produced += 1
        if self._line is not None:
            self._score_line(rows[first_new:])
        return produced

    def _judge(self, sensor_id: int, t: float, value: float, scenario_id: Optional[int]) -> None:
        """Every detector's verdict on one reading, buffered for the next flush; the alert rules see it too."""
        monitor = self.monitors[sensor_id]
        threshold = monitor.settings["z_threshold"]
        seen = monitor.observe(value, t)
        verdict, shape = seen.verdict, seen.shape
        if verdict.relearned:
            baseline_store.record_relearn(sensor_id, t)
        self._buffer.append({
            "sensor_id": sensor_id, "t": t, "value": value, "mean": verdict.mean,
            "std": verdict.std, "z": verdict.z, "threshold": threshold,
            "anomaly": seen.anomaly, "zscore_anomaly": verdict.anomaly,
            "lstm_score": shape.error if shape else None, "lstm_threshold": seen.shape_threshold,
            "lstm_anomaly": shape.anomaly if shape and shape.error is not None else None,
            "anomaly_ratio": seen.ratio,
            "baseline_state": verdict.state, "completeness": verdict.completeness,
            "scenario_id": scenario_id,
            "detectors": json.dumps({name: v.as_dict() for name, v in seen.others.items()}) if seen.others else None,
            "verdict_source": monitor.settings.get("verdict_source", "zscore"),
            "counted": ",".join(seen.decision.counted), "disagree": seen.decision.disagree,
            "z_alarm": verdict.alarm if verdict.judged else None, "z_alarm_reason": verdict.alarm_reason,
            "z_likelihood": verdict.likelihood,
        })
        numbers = {"value": value, "z": verdict.z, "threshold": threshold}
        if verdict.likelihood is not None:
            numbers["likelihood"] = verdict.likelihood
        if verdict.judged or (shape is not None and shape.error is not None):  # learning: no state, no alert
            self.alerting.observe(sensor_id, Judged(t, seen.anomaly, seen.ratio, numbers,
                                                    verdict.alarm_reason if verdict.alarm else None,
                                                    verdict.anomaly), monitor.settings)

    def _consume(self) -> int:
        """Judge the queued readings of the push and pull sources, oldest batch first; each batch once."""
        consumed = 0
        for batch_id, rows in ingest_queue.next_batches(self._taken, INGEST_BATCHES_PER_STEP):
            for sensor_id, t, value in rows:
                if sensor_id not in self.monitors:
                    self._add_sensor(sensor_id)
                self._judge(sensor_id, t, value, None)
            self._taken.append(batch_id)
            consumed += len(rows)
        return consumed

    def _add_sensor(self, sensor_id: int) -> None:
        """A sensor that the ingest API registered while the sampler ran: a fresh monitor for it."""
        line, overrides = settings_store.load_settings()
        sensor = next(s for s in line_store.all_sensors() if s.id == sensor_id)
        settings = settings_store.effective(line, overrides, sensor.name)
        self.monitors[sensor_id] = SensorMonitor(settings, self.load_knn)
        self.names[sensor_id] = sensor.name
        self.schedules[sensor_id] = Schedule(self.clock(), 0.0, 1.0 / settings["sample_rate_hz"])
        self.alerting.add_sensor(sensor)

    def flush(self, now: Optional[float] = None) -> None:
        """Store the buffered readings in one transaction."""
        ingest_queue.drop(self._taken)
        self._taken = []
        if self._buffer:
            reading_store.insert_readings(self._buffer)
            reading_store.bump_counters(self._buffer)
            self.readings_stored += len(self._buffer)
            self._buffer = []
        if self._line_buffer:
            line_store.insert_line_scores(self._line_buffer)
            self._line_buffer = []
        self._store_forecasts()
        self.alerting.flush(self.clock() if now is None else now)
        db.session.commit()
        self._last_flush = self.clock() if now is None else now

    def _store_forecasts(self) -> None:
        """Each forecasting sensor's next readings, replaced at every flush (the dashboard draws them ahead)."""
        forecasting = set()
        for sensor_id, monitor in self.monitors.items():
            last_t = monitor.others.last_t
            if not monitor.others.detectors or last_t is None:
                continue
            if sensor_id in self._forecasting and last_t - self._forecast_t.get(sensor_id, -1e18) < 1.0:
                forecasting.add(sensor_id)  # at most one new forecast per second of readings
                continue
            period = self.schedules[sensor_id].period
            steps = max(1, min(MAX_FORECAST_POINTS, round(self.app.config["FORECAST_SECONDS"] / period)))
            ahead = monitor.others.forecast(steps)
            if ahead is None:
                continue
            forecasts.save(sensor_id, ahead[0], last_t, period, ahead[1])
            self._forecast_t[sensor_id] = last_t
            forecasting.add(sensor_id)
        forecasts.drop(sorted(self._forecasting - forecasting))
        self._forecasting = forecasting

    # --- the loop ----------------------------------------------------------

    def hold_lease(self, now: float) -> bool:
        """Take, renew or lose the sampler lease (at most once per heartbeat); True while this sampler holds it.

        Taking it starts the sampler from stored history; losing it drops the unsaved readings, since
        another process samples now and storing them would duplicate readings.
        """
        if self.holding and now - self._last_beat < self.app.config["SAMPLER_HEARTBEAT_SECONDS"]:
            return True
        was_holding = self.holding
        self.holding = lease.try_acquire(self.owner, now, self.app.config["SAMPLER_LEASE_SECONDS"])
        self._last_beat = now
        if self.holding and was_holding:
            lease.report_health(self.owner, self._worst_lag, self._worst_loop)
            self._worst_lag = self._worst_loop = 0.0
        if self.holding and not was_holding:
            log.info("sampler %s took the lease", self.owner)
            self.monitors.clear()
            self.start()
        elif was_holding and not self.holding:
            log.warning("sampler %s lost the lease; dropping %d unsaved readings", self.owner, len(self._buffer))
            self._buffer, self._line_buffer = [], []
            self._taken = []
            self.sources.stop()
        return self.holding

    def chores(self, now: float) -> None:
        """What the loop does beside judging, after each good step: health, pull sources, retraining, retention."""
        if self.step_failures:
            self.step_failures = 0
            sampler_health.step_ok(self.owner)
        line = self.line_settings
        self.sources.sync(line["source"] if line.get("running") else None)
        if now - self._last_retrain_check >= self.app.config["RETRAIN_CHECK_SECONDS"]:
            self._last_retrain_check = now
            retraining.tick(self.app, now)
        if self.retention.due(now):
            self.retention.run(now)

    def run(self, stop: threading.Event) -> None:
        """The loop, and nothing else: hold the lease, step at the sensors' pace, do the chores, wait."""
        ttl = self.app.config["SAMPLER_LEASE_SECONDS"]
        with self.app.app_context():
            while not stop.is_set():
                try:
                    now = self.clock()
                    if not self.hold_lease(now):
                        stop.wait(min(ttl / 4, 2.0))
                        continue
                    due = min((sch.due for sch in self.schedules.values()), default=now)
                    self._worst_lag = max(self._worst_lag, now - due)
                    self.step()
                    self._worst_loop = max(self._worst_loop, self.clock() - now)
                    self.chores(now)
                    wake = min((sch.due for sch in self.schedules.values()), default=now + 0.2)
                    stop.wait(min(max(wake - self.clock(), 0.0), 0.2))
                except Exception as exc:
                    log.exception("sampler step failed; retrying")
                    db.session.rollback()
                    self.step_failures += 1
                    sampler_health.step_failed(self.owner, self.step_failures, exc, self.clock())
                    stop.wait(1.0)
            self.sources.stop()
            if self.holding:
                try:
                    self.flush()
                    lease.release(self.owner)
                    self.holding = False
                except Exception:
                    log.exception("sampler could not flush on stop")
            db.session.remove()
