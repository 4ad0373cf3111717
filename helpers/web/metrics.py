"""``GET /metrics``: the line's health in Prometheus' text format, for a scraper and Grafana.

Every value is read from the database at scrape time by a custom collector; no
process-local gauges. With several gunicorn workers a scrape reaches any of them
and only one runs the sampler, so only the database gives every worker the same answer.
"""
from __future__ import annotations

import math
import time
from typing import Callable, Iterable, Optional

from flask import Blueprint, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from helpers.core.alerts.usage_state import HIGH, NORMAL
from helpers.storage import metrics_queries
from helpers.storage.metrics_queries import SamplerHealth, SensorSnapshot, Snapshot

bp = Blueprint("metrics", __name__)

STATES = (NORMAL, HIGH)


class LinewatchCollector:
    """Yields every Linewatch metric family from a database snapshot taken at each collect.

    ``read`` returns the snapshot; ``clock`` gives the time the heartbeat's age is measured against.
    """

    def __init__(self, read: Callable[[], Snapshot], stale_after: float, clock: Callable[[], float] = time.time):
        self.read = read
        self.stale_after = stale_after
        self.clock = clock

    def collect(self) -> Iterable[Metric]:
        snap = self.read()
        yield from sensor_families(snap.sensors)
        yield from detector_families(snap.sensors)
        yield from state_families(snap)
        yield from counter_families(snap)
        yield from sampler_families(snap.sampler, self.clock(), self.stale_after)


def sensor_families(sensors: list[SensorSnapshot]) -> Iterable[Metric]:
    """Gauges from each sensor's newest reading; a sensor without readings yet has none of them."""
    value = GaugeMetricFamily("linewatch_sensor_value", "The newest reading's value, in the sensor's unit.",
                              labels=["sensor", "unit"])
    zscore = GaugeMetricFamily("linewatch_sensor_zscore",
                               "The newest reading's z-score; NaN while the model learns (no verdict).",
                               labels=["sensor"])
    anomaly = GaugeMetricFamily("linewatch_sensor_anomaly", "1 when the newest reading is anomalous, else 0.",
                                labels=["sensor"])
    ratio = GaugeMetricFamily("linewatch_sensor_anomaly_ratio",
                              "Share of anomalies among the sensor's last anomaly_list_size verdicts (0-1).",
                              labels=["sensor"])
    lstm = GaugeMetricFamily("linewatch_sensor_lstm_score",
                             "The newest reading's LSTM reconstruction error; absent while the LSTM is off.",
                             labels=["sensor"])
    z_alarm = GaugeMetricFamily("linewatch_sensor_z_alarm",
                                "1 when the newest reading raised the z-score's excursion alarm, else 0; "
                                "NaN while the model learns.", labels=["sensor"])
    z_likelihood = GaugeMetricFamily("linewatch_sensor_z_likelihood",
                                     "The likelihood the excursion alarm weighed for the newest reading (0-1; "
                                     "0.99999 or more is unusual); absent while it collects its first verdicts.",
                                     labels=["sensor"])
    completeness = GaugeMetricFamily("linewatch_sensor_completeness_ratio",
                                     "How full the sensor's z-score model is (0-1; 1 = judging).",
                                     labels=["sensor"])
    stamp = GaugeMetricFamily("linewatch_sensor_reading_timestamp_seconds",
                              "Time of the newest stored reading, in Unix seconds.", labels=["sensor"])
    for s in sensors:
        r = s.latest
        if r is None:
            continue
        value.add_metric([s.name, s.unit], r.value)
        zscore.add_metric([s.name], math.nan if r.z is None else r.z)
        anomaly.add_metric([s.name], 1.0 if r.anomaly else 0.0)
        ratio.add_metric([s.name], r.anomaly_ratio)
        if r.lstm_score is not None:
            lstm.add_metric([s.name], r.lstm_score)
        z_alarm.add_metric([s.name], math.nan if r.z_alarm is None else float(r.z_alarm))
        if r.z_likelihood is not None:
            z_likelihood.add_metric([s.name], r.z_likelihood)
        completeness.add_metric([s.name], r.completeness / 100.0)
        stamp.add_metric([s.name], r.t)
    return value, zscore, anomaly, ratio, lstm, z_alarm, z_likelihood, completeness, stamp


def _states(current: Optional[str]) -> tuple[str, ...]:
    return STATES if current is None or current in STATES else STATES + (current,)


def detector_families(sensors: list[SensorSnapshot]) -> Iterable[Metric]:
    """Each chosen detector's verdict on the newest reading, and the forecast ahead where one is made."""
    score = GaugeMetricFamily("linewatch_detector_score",
                              "The newest reading's score by each detector the sensor runs beside the z-score "
                              "(0-1); NaN while it warms up.", labels=["sensor", "detector"])
    anomaly = GaugeMetricFamily("linewatch_detector_anomaly",
                                "1 when that detector flags the newest reading, 0 when not, NaN while it warms up.",
                                labels=["sensor", "detector"])
    forecast = GaugeMetricFamily("linewatch_forecast",
                                 "The forecasting detector's forecast (mean and band) for the next reading "
                                 "and for the end of the forecast horizon, in the sensor's unit.",
                                 labels=["sensor", "detector", "bound", "ahead_seconds"])
    made = GaugeMetricFamily("linewatch_forecast_timestamp_seconds",
                             "Time of the last reading the forecast has seen, in Unix seconds.",
                             labels=["sensor", "detector"])
    for s in sensors:
        for name, verdict in (s.latest.detectors if s.latest else {}).items():
            score.add_metric([s.name, name], math.nan if verdict["score"] is None else verdict["score"])
            flag = verdict["anomaly"]
            anomaly.add_metric([s.name, name], math.nan if flag is None else float(flag))
        ahead = s.forecast
        if not ahead or not ahead["points"]:
            continue
        made.add_metric([s.name, ahead["detector"]], ahead["t"])
        for point in {0: ahead["points"][0], 1: ahead["points"][-1]}.values():
            seconds = f"{point['t'] - ahead['t']:g}"
            for bound in ("mean", "low", "high"):
                forecast.add_metric([s.name, ahead["detector"], bound, seconds], point[bound])
    return score, anomaly, forecast, made


def state_families(snap: Snapshot) -> Iterable[Metric]:
    """The enum pattern: one series per state, 1 for the current one (``normal`` until a first change)."""
    sensor = GaugeMetricFamily("linewatch_sensor_state",
                               "The sensor's usage state: 1 for the current state, 0 for the others.",
                               labels=["sensor", "state"])
    for s in snap.sensors:
        current = s.state or NORMAL
        for state in _states(current):
            sensor.add_metric([s.name, state], 1.0 if state == current else 0.0)
    line = GaugeMetricFamily("linewatch_line_state",
                             "The line's usage state: 1 for the current state, 0 for the others.", labels=["state"])
    current = snap.line_state or NORMAL
    for state in _states(current):
        line.add_metric([state], 1.0 if state == current else 0.0)
    return sensor, line


def counter_families(snap: Snapshot) -> Iterable[Metric]:
    """Running totals kept in the database: readings, anomalies, alarms, alert e-mails."""
    readings = CounterMetricFamily("linewatch_readings", "Readings stored for the sensor.", labels=["sensor"])
    anomalies = CounterMetricFamily("linewatch_anomalies", "Readings judged anomalous (the sensor's verdict).",
                                    labels=["sensor"])
    for s in snap.sensors:
        readings.add_metric([s.name], s.readings)
        anomalies.add_metric([s.name], s.anomalies)
    alarms = CounterMetricFamily("linewatch_alarms", 'Alarms raised, per sensor ("line" for the line) and rule.',
                                 labels=["sensor", "rule"])
    for (sensor, rule), n in sorted(snap.alarms.items()):
        alarms.add_metric([sensor, rule], n)
    sent = CounterMetricFamily("linewatch_alerts_sent", "Alert e-mails sent (test e-mails not counted).",
                               value=snap.outbox.get("sent", 0))
    failed = CounterMetricFamily("linewatch_alerts_failed",
                                 "Alert e-mails given up on after their retries (test e-mails not counted).",
                                 value=snap.outbox.get("failed", 0))
    queued = GaugeMetricFamily("linewatch_alerts_queued", "Alert e-mails waiting in the outbox to be sent.",
                               value=snap.outbox.get("queued", 0))
    return readings, anomalies, alarms, sent, failed, queued


def sampler_families(health: SamplerHealth, now: float, stale_after: float) -> Iterable[Metric]:
    """The sampler's health from its lease row: lag and step time as its holder last reported them."""
    families = []
    if health.lag_s is not None:
        families.append(GaugeMetricFamily(
            "linewatch_sampler_lag_seconds",
            "How far behind schedule the sampler ran: the worst since its previous heartbeat.", value=health.lag_s))
    if health.loop_s is not None:
        families.append(GaugeMetricFamily(
            "linewatch_sampler_loop_seconds", "The sampler's longest step since its previous heartbeat.",
            value=health.loop_s))
    age = None if health.heartbeat_at is None else max(now - health.heartbeat_at, 0.0)
    if age is not None:
        families.append(GaugeMetricFamily("linewatch_sampler_heartbeat_age_seconds",
                                          "Seconds since the sampler's last heartbeat.", value=age))
    up = age is not None and age <= stale_after
    families.append(GaugeMetricFamily("linewatch_sampler_up",
                                      "1 when a sampler holds the lease and its heartbeat is fresh (as /healthz).",
                                      value=1.0 if up else 0.0))
    return families


@bp.get("/metrics")
def metrics():
    """A fresh registry per scrape: the collector reads the database now, nothing is kept between scrapes."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LinewatchCollector(metrics_queries.snapshot, current_app.config["SAMPLER_STALE_SECONDS"]))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST,
                    headers={"Cache-Control": "no-store"})
