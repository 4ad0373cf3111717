"""Deploy-time configuration: defaults in one place, environment variables on top.

Settings a user changes while the app runs (threshold, anomaly level, ...)
live in the database; the ``*_DEFAULT`` values here only seed them at the
first start.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Mapping

# name -> (default, parser)
_FIELDS: dict[str, tuple[Any, Callable[[str], Any]]] = {
    "DATABASE_URL": (None, str),
    # Signs session cookies; made on first start and kept in the database when not given.
    "SECRET_KEY": (None, str),
    "SAMPLER_AUTOSTART": (True, lambda v: v.strip().lower() in ("1", "true", "yes", "on")),
    "SAMPLER_FLUSH_SECONDS": (0.25, float),
    # Readings older than this many days are kept only as 1-minute min/mean/max (0: keep every reading).
    "RETENTION_RAW_DAYS": (30.0, float),
    # Minute rollups older than this many days are deleted (0: keep them for ever).
    "RETENTION_ROLLUP_DAYS": (730.0, float),
    "RETENTION_BATCH": (2000, int),
    "RETENTION_CHECK_SECONDS": (60.0, float),
    # How far ahead a forecasting detector's forecast reaches on the dashboard and in /metrics.
    "FORECAST_SECONDS": (60.0, float),
    "SAMPLER_LEASE_SECONDS": (10.0, float),
    "SAMPLER_HEARTBEAT_SECONDS": (1.0, float),
    "SAMPLER_STALE_SECONDS": (10.0, float),
    "SAMPLER_MAX_CATCHUP_SECONDS": (5.0, float),
    "SIMULATOR_SEED": (None, int),
    "SQLITE_BUSY_TIMEOUT_MS": (10_000, int),
    "MODELS_DIR": (None, str),
    "TRAINING_READINGS": (10_000, int),
    "TRAINING_EPOCHS": (20, int),
    "TRAINING_THREADS": (1, int),
    "LSTM_DEVICE": ("auto", str),
    "RETRAIN_INTERVAL_HOURS": (168.0, float),
    "SHADOW_HOURS": (24.0, float),
    "RETRAIN_CHECK_SECONDS": (60.0, float),
    # E-mail (Flask-Mail reads the MAIL_* names; see docs/email.md). Sending is never
    # suppressed just because TESTING is on: MAIL_SUPPRESS_SEND says so explicitly.
    "MAIL_SERVER": ("127.0.0.1", str),
    "MAIL_PORT": (25, int),
    "MAIL_USE_TLS": (False, lambda v: v.strip().lower() in ("1", "true", "yes", "on")),
    "MAIL_USE_SSL": (False, lambda v: v.strip().lower() in ("1", "true", "yes", "on")),
    "MAIL_USERNAME": (None, str),
    "MAIL_PASSWORD": (None, str),
    "MAIL_DEFAULT_SENDER": ("linewatch@localhost", str),
    "MAIL_SUPPRESS_SEND": (False, lambda v: v.strip().lower() in ("1", "true", "yes", "on")),
    "MAIL_TIMEOUT_S": (10.0, float),
    "MAIL_GIVE_UP_HOURS": (24.0, float),
    "MAIL_RETRY_BASE_S": (30.0, float),
    "MAIL_RETRY_MAX_S": (900.0, float),
    "MAIL_AUTOSTART": (True, lambda v: v.strip().lower() in ("1", "true", "yes", "on")),
    "ALERT_RECIPIENTS": ("", str),
    "DASHBOARD_URL": ("http://127.0.0.1:5000", str),
    "EVALUATE_MAX_UPLOAD_BYTES": (5 * 1024 * 1024, int),
    "EVALUATE_MAX_ROWS": (100_000, int),
    "EVALUATE_MIN_ROWS": (100, int),
    "BACKTEST_MAX_READINGS": (1_000_000, int),
    "BACKTEST_ALERT_GAP_SECONDS": (60.0, float),
    "SHIFT_STARTS": ("06:00 Early,14:00 Late,22:00 Night", str),
    "INGEST_MAX_BYTES": (4 * 1024 * 1024, int),
    "INGEST_MAX_FUTURE_S": (300.0, float),
    "REPLAY_MAX_UPLOAD_BYTES": (10 * 1024 * 1024, int),
    "INGEST_AUTO_REGISTER": (False, lambda v: v.strip().lower() in ("1", "true", "yes", "on")),
    "Z_THRESHOLD": (None, float),
    "MODEL_SIZE": (None, int),
    "ANOMALY_LIST_SIZE": (None, int),
    "SAMPLE_RATE_HZ": (None, float),
    "RELEARN_AFTER": (None, int),
    "ANOMALY_LEVEL": (None, float),
}
SETTING_SEEDS = ("Z_THRESHOLD", "MODEL_SIZE", "ANOMALY_LIST_SIZE", "SAMPLE_RATE_HZ",
                 "RELEARN_AFTER", "ANOMALY_LEVEL")


def load_config(root_path: str, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Defaults overridden by environment variables; the database defaults to ``data.db`` in the project root."""
    config: dict[str, Any] = {}
    for name, (default, parse) in _FIELDS.items():
        raw = environ.get(name)
        try:
            config[name] = default if raw in (None, "") else parse(raw)
        except ValueError as exc:
            raise SystemExit(f"environment variable {name}={raw!r} is not valid: {exc}") from exc
    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = "sqlite:///" + os.path.join(root_path, "data.db")
    config["SQLALCHEMY_DATABASE_URI"] = config["DATABASE_URL"]
    if not config["MODELS_DIR"]:
        config["MODELS_DIR"] = os.path.join(root_path, "models")
    return config


def setting_seeds(config: Mapping[str, Any]) -> dict[str, Any]:
    """The user-setting defaults the environment asked for, keyed by setting name."""
    return {name.lower(): config[name] for name in SETTING_SEEDS if config.get(name) is not None}
