"""Tables. Times are epoch seconds (UTC) as floats: cheap to index, compare and send to charts."""
from __future__ import annotations

from typing import Optional

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from helpers.storage.db import db

BigId = BigInteger().with_variant(Integer, "sqlite")


class Line(db.Model):
    """A production line: a group of sensors fed by one source."""

    __tablename__ = "lines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(32), default="simulator")


class Sensor(db.Model):
    __tablename__ = "sensors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), index=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(128))
    unit: Mapped[str] = mapped_column(String(16))
    # The time of the latest reading accepted for it (stored, or queued by the ingest API): later ones only.
    last_t: Mapped[Optional[float]] = mapped_column(Float)


class Setting(db.Model):
    """A user-tunable value; ``scope`` is '' for the line-wide default or a sensor's name."""

    __tablename__ = "settings"
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)  # JSON


class Session(db.Model):
    """A classroom session: the simulator restarts from ``seed`` at ``started_at`` and every model relearns.

    ``settings`` (JSON) is the control state at the start, so an exported session replays as it ran.
    """

    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[float] = mapped_column(Float)
    seed: Mapped[int] = mapped_column(BigInteger)
    settings: Mapped[str] = mapped_column(Text)


class Scenario(db.Model):
    """An injected anomaly period: the ground truth for hits, misses and detection delay.

    The offsets from the session start are what the simulator uses, so a replayed
    session puts the scenario at exactly the same readings.
    """

    __tablename__ = "scenarios"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sensor_id: Mapped[int] = mapped_column(ForeignKey("sensors.id"))
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"))
    kind: Mapped[str] = mapped_column(String(32))
    magnitude: Mapped[float] = mapped_column(Float)
    starts_at: Mapped[float] = mapped_column(Float)
    ends_at: Mapped[float] = mapped_column(Float)
    start_offset_s: Mapped[float] = mapped_column(Float)
    end_offset_s: Mapped[float] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_scenarios_sensor_ends", "sensor_id", "ends_at"),)


class Reading(db.Model):
    """One reading with the verdict it got and the detector state that produced it."""

    __tablename__ = "readings"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sensor_id: Mapped[int] = mapped_column(ForeignKey("sensors.id"))
    t: Mapped[float] = mapped_column(Float)
    value: Mapped[float] = mapped_column(Float)
    mean: Mapped[Optional[float]] = mapped_column(Float)
    std: Mapped[Optional[float]] = mapped_column(Float)
    z: Mapped[Optional[float]] = mapped_column(Float)  # NULL: no verdict (model learning)
    threshold: Mapped[float] = mapped_column(Float)
    # The verdict that drives the ratio and everything downstream (the sensor's
    # verdict_source), then each detector's own.
    anomaly: Mapped[bool] = mapped_column(Boolean)
    zscore_anomaly: Mapped[bool] = mapped_column(Boolean)
    lstm_score: Mapped[Optional[float]] = mapped_column(Float)  # reconstruction error; NULL when off
    lstm_threshold: Mapped[Optional[float]] = mapped_column(Float)
    lstm_anomaly: Mapped[Optional[bool]] = mapped_column(Boolean)
    anomaly_ratio: Mapped[float] = mapped_column(Float)
    baseline_state: Mapped[str] = mapped_column(String(16))
    completeness: Mapped[float] = mapped_column(Float)
    scenario_id: Mapped[Optional[int]] = mapped_column(ForeignKey("scenarios.id"))
    # JSON {name: {score, anomaly, why, expected, spread}}: the other chosen detectors' verdicts; NULL when none run.
    detectors: Mapped[Optional[str]] = mapped_column(Text)
    # The sensor's verdict_source when this reading was judged (whose flag is ``anomaly``); NULL before it was kept.
    verdict_source: Mapped[Optional[str]] = mapped_column(String(64))
    # The decision under that source (helpers/core/verdict.py): the detector keys whose verdicts counted,
    # comma-joined ("" when none could judge), and whether the detectors that judged split; NULL before kept.
    counted: Mapped[Optional[str]] = mapped_column(String(255))
    disagree: Mapped[Optional[bool]] = mapped_column(Boolean)
    # The z-score's excursion alarm (helpers/core/detectors/zscore_alarm.py): whether this reading raised it, why
    # (unusual | extreme), and the likelihood it weighed; NULL while learning (and before they were kept).
    z_alarm: Mapped[Optional[bool]] = mapped_column(Boolean)
    z_alarm_reason: Mapped[Optional[str]] = mapped_column(String(16))
    z_likelihood: Mapped[Optional[float]] = mapped_column(Float)

    # The dashboard asks for "the latest N of a sensor" (and "after id X"):
    # (sensor_id, id) answers both from the index alone, at any table size.
    __table_args__ = (
        Index("ix_readings_sensor_id_id", "sensor_id", "id"),
        Index("ix_readings_sensor_t", "sensor_id", "t"),
        # Anomalies are few: a partial index keeps the recent-anomalies list and the
        # scorecard off the full table.
        Index("ix_readings_anomaly_t", "t", sqlite_where=text("anomaly"), postgresql_where=text("anomaly")),
        Index("ix_readings_zscore_anomaly_t", "t", sqlite_where=text("zscore_anomaly"),
              postgresql_where=text("zscore_anomaly")),
        Index("ix_readings_lstm_anomaly_t", "t", sqlite_where=text("lstm_anomaly"),
              postgresql_where=text("lstm_anomaly")),
    )


class BaselineEvent(db.Model):
    """A re-baseline a user asked for, or a relearn the detector did; ``applied_at`` is NULL until the sampler acts."""

    __tablename__ = "baseline_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sensor_id: Mapped[int] = mapped_column(ForeignKey("sensors.id"))
    kind: Mapped[str] = mapped_column(String(16))  # "rebaseline" | "relearn"
    requested_at: Mapped[float] = mapped_column(Float)
    applied_at: Mapped[Optional[float]] = mapped_column(Float)

    __table_args__ = (Index("ix_baseline_events_sensor_applied", "sensor_id", "applied_at"),)


class SamplerLease(db.Model):
    """The one row that says which process runs the sampler, and its last heartbeat."""

    __tablename__ = "sampler_lease"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner: Mapped[Optional[str]] = mapped_column(String(128))
    heartbeat_at: Mapped[Optional[float]] = mapped_column(Float)
    # The holder's health, for /metrics: how far behind schedule its last step was, and how long it took.
    lag_s: Mapped[Optional[float]] = mapped_column(Float)
    loop_s: Mapped[Optional[float]] = mapped_column(Float)
    # The holder's steps failing in a row, and the last one's error: a sampler that beats but stores nothing.
    step_failures: Mapped[Optional[int]] = mapped_column(Integer)
    step_error: Mapped[Optional[str]] = mapped_column(Text)
    step_failed_at: Mapped[Optional[float]] = mapped_column(Float)


class SamplerCrash(db.Model):
    """A sampler thread that died, in any process, and when its supervisor restarts (restarted) it.

    In the database, so that /healthz answers the same from every worker.
    """

    __tablename__ = "sampler_crashes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    crashed_at: Mapped[float] = mapped_column(Float, index=True)
    error: Mapped[str] = mapped_column(Text)
    restart_at: Mapped[float] = mapped_column(Float)  # crashed_at + the backoff delay
    restarted_at: Mapped[Optional[float]] = mapped_column(Float)


class DetectorModel(db.Model):
    """A trained LSTM, versioned per target ("sensor:<name>" or "line:<name>"); files live under MODELS_DIR.

    ``status``: active (scores live), shadow (scores beside the active one until
    judged), candidate (waits for a person), retired, failed.
    """

    __tablename__ = "detector_models"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target: Mapped[str] = mapped_column(String(96), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    data_from: Mapped[Optional[float]] = mapped_column(Float)
    data_to: Mapped[Optional[float]] = mapped_column(Float)
    info: Mapped[str] = mapped_column(Text)  # JSON: parameters, rows used and excluded, loss curve, comparison


class TrainingJob(db.Model):
    """A training run, so that any worker can show its progress and its error."""

    __tablename__ = "training_jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target: Mapped[str] = mapped_column(String(96), index=True)
    status: Mapped[str] = mapped_column(String(16))  # queued, running, done, failed
    reason: Mapped[str] = mapped_column(String(16))  # manual, scheduled, cli
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    epochs: Mapped[int] = mapped_column(Integer)
    loss: Mapped[Optional[float]] = mapped_column(Float)
    error: Mapped[Optional[str]] = mapped_column(Text)
    requested_at: Mapped[float] = mapped_column(Float)
    data_from: Mapped[Optional[float]] = mapped_column(Float)
    data_to: Mapped[Optional[float]] = mapped_column(Float)
    finished_at: Mapped[Optional[float]] = mapped_column(Float)
    model_id: Mapped[Optional[int]] = mapped_column(ForeignKey("detector_models.id"))


class LineScore(db.Model):
    """The line model's verdict at each reading of the line's reference sensor."""

    __tablename__ = "line_scores"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    t: Mapped[float] = mapped_column(Float)
    error: Mapped[Optional[float]] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    anomaly: Mapped[bool] = mapped_column(Boolean)
    model_id: Mapped[int] = mapped_column(ForeignKey("detector_models.id"))

    __table_args__ = (Index("ix_line_scores_line_id", "line_id", "id"),)


class AnalysisJob(db.Model):
    """Long work a person asked for (an evaluation, a backtest), run outside the request.

    Any worker answers the progress poll from this row. ``payload`` (the input
    series) and ``result`` are large and deferred, so the poll never reads them.
    """

    __tablename__ = "analysis_jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)  # evaluation | backtest
    status: Mapped[str] = mapped_column(String(16))  # queued, running, done, failed
    name: Mapped[str] = mapped_column(String(256))
    params: Mapped[str] = mapped_column(Text)  # JSON: what was asked
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=1)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    step: Mapped[str] = mapped_column(String(256), default="")
    error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[Optional[float]] = mapped_column(Float)
    payload: Mapped[Optional[str]] = mapped_column(Text, deferred=True)
    result: Mapped[Optional[str]] = mapped_column(Text, deferred=True)


# --- telling people: states, alarms, e-mail, counters (issue 6) ----------------

class StateChange(db.Model):
    """A sensor or the line (``sensor_id`` NULL) changed between ``normal`` and ``high_usage``."""

    __tablename__ = "state_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sensor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("sensors.id"))
    t: Mapped[float] = mapped_column(Float)
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    ratio: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_state_changes_sensor_t", "sensor_id", "t"),)


class Alarm(db.Model):
    """One incident of one rule on one sensor (``sensor_id`` NULL: the line), from raise to clear.

    Lifecycle as in plant control rooms: active and unacknowledged → acknowledged
    (who, when, a note) → cleared; it may clear before anyone acknowledges it.
    ``notify`` is False when a cooldown, a shelf or a maintenance window kept it quiet
    (``suppressed`` says which). ``classification``: NULL, ``false_alarm`` or ``real_fault``.
    """

    __tablename__ = "alarms"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sensor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("sensors.id"))
    rule: Mapped[str] = mapped_column(String(16))  # state | burst | excursion
    status: Mapped[str] = mapped_column(String(16))  # active | cleared
    raised_at: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text)  # JSON: the numbers when it fired
    cleared_at: Mapped[Optional[float]] = mapped_column(Float)
    clear_reason: Mapped[Optional[str]] = mapped_column(Text)
    notify: Mapped[bool] = mapped_column(Boolean, default=True)
    suppressed: Mapped[Optional[str]] = mapped_column(Text)
    acked_at: Mapped[Optional[float]] = mapped_column(Float)
    acked_by: Mapped[Optional[str]] = mapped_column(String(64))
    ack_note: Mapped[Optional[str]] = mapped_column(Text)
    classification: Mapped[Optional[str]] = mapped_column(String(16))
    classified_by: Mapped[Optional[str]] = mapped_column(String(64))
    classified_at: Mapped[Optional[float]] = mapped_column(Float)

    __table_args__ = (Index("ix_alarms_raised_at", "raised_at"), Index("ix_alarms_status", "status"))


class Shelf(db.Model):
    """A sensor's alarms shelved (recorded, not sent) until ``until``."""

    __tablename__ = "shelves"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sensor_id: Mapped[int] = mapped_column(ForeignKey("sensors.id"))
    until: Mapped[float] = mapped_column(Float)
    by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Float)


class MaintenanceWindow(db.Model):
    """Planned work: alarms of the sensor (NULL: every sensor and the line) are recorded, not sent."""

    __tablename__ = "maintenance_windows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sensor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("sensors.id"))
    starts_at: Mapped[float] = mapped_column(Float)
    ends_at: Mapped[float] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text, default="")
    by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)


class OutboxMessage(db.Model):
    """An e-mail waiting to be sent, or its outcome: the queue that never blocks the sampler and loses nothing."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alarm_id: Mapped[Optional[int]] = mapped_column(ForeignKey("alarms.id"))
    kind: Mapped[str] = mapped_column(String(16))  # raise | clear | test
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[Optional[str]] = mapped_column(Text)
    recipients: Mapped[str] = mapped_column(Text)  # JSON list
    status: Mapped[str] = mapped_column(String(16))  # queued | sent | failed (gave up)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float)
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    sent_at: Mapped[Optional[float]] = mapped_column(Float)
    last_error_at: Mapped[Optional[float]] = mapped_column(Float)
    # A sender (any worker) claims a message before sending it, so it goes out once;
    # a claim left by a dead sender expires at ``claimed_until``.
    claimed_by: Mapped[Optional[str]] = mapped_column(String(128))
    claimed_until: Mapped[Optional[float]] = mapped_column(Float)

    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)


class SensorCounter(db.Model):
    """Running totals per sensor, kept by the sampler at each flush: Prometheus counters without a COUNT(*)."""

    __tablename__ = "sensor_counters"
    sensor_id: Mapped[int] = mapped_column(ForeignKey("sensors.id"), primary_key=True)
    readings: Mapped[int] = mapped_column(BigInteger, default=0)
    anomalies: Mapped[int] = mapped_column(BigInteger, default=0)


class ReadingRollup(db.Model):
    """Readings older than the raw retention, kept as one row per sensor-minute (issue 9's thinning)."""

    __tablename__ = "reading_rollups"
    sensor_id: Mapped[int] = mapped_column(ForeignKey("sensors.id"), primary_key=True)
    minute: Mapped[float] = mapped_column(Float, primary_key=True)  # epoch seconds of the minute's start
    n: Mapped[int] = mapped_column(Integer)
    low: Mapped[float] = mapped_column(Float)
    mean: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    anomalies: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_reading_rollups_minute", "minute"),)


class SensorForecast(db.Model):
    """A sensor's latest forecast of its next readings, replaced at every flush while a forecasting detector runs."""

    __tablename__ = "sensor_forecasts"
    sensor_id: Mapped[int] = mapped_column(ForeignKey("sensors.id"), primary_key=True)
    detector: Mapped[str] = mapped_column(String(200))
    t: Mapped[float] = mapped_column(Float)  # the last reading it has seen
    step_s: Mapped[float] = mapped_column(Float)  # seconds between forecast points
    points: Mapped[str] = mapped_column(Text)  # JSON [[mean, low, high], ...], the first one step after t


# --- real data in (issue 7) ---------------------------------------------------

class IngestBatch(db.Model):
    """Readings accepted (pushed, or read by a pull source) and not yet judged: the sampler's queue.

    Stored in the transaction that acknowledges them, deleted in the one that stores
    their verdicts, so an acknowledged reading is never lost and never judged twice.
    ``rows`` is JSON ``[[sensor_id, t, value], ...]``.
    """

    __tablename__ = "ingest_batches"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    received_at: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)
    rows: Mapped[str] = mapped_column(Text)


class IngestKey(db.Model):
    """An idempotency key a client sent with a batch: a retry of the same batch is acknowledged, not stored twice."""

    __tablename__ = "ingest_keys"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[float] = mapped_column(Float, index=True)


class ApiToken(db.Model):
    """A bearer token for the ingest API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[Optional[float]] = mapped_column(Float)
    last_used_at: Mapped[Optional[float]] = mapped_column(Float)


class SourceConfig(db.Model):
    """A pull source's settings (one per kind) and how it is doing: what the dashboard's Sources panel shows.

    ``config`` holds secrets (a password, a token) the API never sends back;
    ``payload`` is a replay's uploaded series, large and deferred.
    """

    __tablename__ = "sources"
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    config: Mapped[str] = mapped_column(Text, default="{}")
    payload: Mapped[Optional[str]] = mapped_column(Text, deferred=True)
    payload_info: Mapped[Optional[str]] = mapped_column(Text)  # JSON: the uploaded file's name, rows, when
    state: Mapped[str] = mapped_column(String(16), default="stopped")  # stopped, running, backing_off
    last_success_at: Mapped[Optional[float]] = mapped_column(Float)
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    last_error_at: Mapped[Optional[float]] = mapped_column(Float)
    next_try_at: Mapped[Optional[float]] = mapped_column(Float)
    lag_s: Mapped[Optional[float]] = mapped_column(Float)
    readings_total: Mapped[int] = mapped_column(BigInteger, default=0)


# --- who may do what (issue 9) ----------------------------------------------------

class User(db.Model):
    """A person who signs in: viewer, operator or admin; only a werkzeug password hash is stored."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float] = mapped_column(Float)


class AuditEntry(db.Model):
    """A control or settings change: who, what, before → after (JSON), when, from where."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    t: Mapped[float] = mapped_column(Float, index=True)
    who: Mapped[str] = mapped_column(String(64))  # a user name, "token:<name>", or "local" without users
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))  # the route's endpoint name
    target: Mapped[str] = mapped_column(String(200))  # the request path
    before: Mapped[Optional[str]] = mapped_column(Text)  # JSON, when the route knows it
    after: Mapped[Optional[str]] = mapped_column(Text)  # JSON: the new values (secrets blanked)
    address: Mapped[Optional[str]] = mapped_column(String(64))


class AppSecret(db.Model):
    """Secrets the app makes for itself on first start (the session-signing key), shared by every worker."""

    __tablename__ = "app_secrets"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))
