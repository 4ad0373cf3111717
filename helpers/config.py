"""Deploy-time configuration: defaults in one place, environment variables on top.

Settings a user changes while the app runs (threshold, anomaly level, ...)
live in the database; the ``*_DEFAULT`` values here only seed them at the
first start.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def flag(raw: str) -> bool:
    """An on/off environment variable: 1, true, yes or on (any case) mean on; anything else off."""
    return raw.strip().lower() in ("1", "true", "yes", "on")


# name -> (default, parser)
_FIELDS: dict[str, tuple[Any, Callable[[str], Any]]] = {
    "DATABASE_URL": (None, str),
    # Signs session cookies; made on first start and kept in the database when not given.
    "SECRET_KEY": (None, str),
    "SAMPLER_AUTOSTART": (True, flag),
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
    "MAIL_USE_TLS": (False, flag),
    "MAIL_USE_SSL": (False, flag),
    "MAIL_USERNAME": (None, str),
    "MAIL_PASSWORD": (None, str),
    "MAIL_DEFAULT_SENDER": ("linewatch@localhost", str),
    "MAIL_SUPPRESS_SEND": (False, flag),
    "MAIL_TIMEOUT_S": (10.0, float),
    "MAIL_GIVE_UP_HOURS": (24.0, float),
    "MAIL_RETRY_BASE_S": (30.0, float),
    "MAIL_RETRY_MAX_S": (900.0, float),
    "MAIL_AUTOSTART": (True, flag),
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
    "INGEST_AUTO_REGISTER": (False, flag),
    "Z_THRESHOLD": (None, float),
    "MODEL_SIZE": (None, int),
    "ANOMALY_LIST_SIZE": (None, int),
    "SAMPLE_RATE_HZ": (None, float),
    "RELEARN_AFTER": (None, int),
    "ANOMALY_LEVEL": (None, float),
    # The address gunicorn listens on (gunicorn.conf.py); with no accounts, a non-loopback one is warned about.
    "BIND": ("127.0.0.1:5000", str),
}

# gunicorn's own settings (gunicorn.conf.py), read here like every other variable.
SERVER_FIELDS: dict[str, tuple[Any, Callable[[str], Any]]] = {
    "BIND": _FIELDS["BIND"],
    "WEB_CONCURRENCY": (2, int),
    "WEB_THREADS": (4, int),
    "ACCESS_LOG": (None, str),
    "LOG_LEVEL": ("INFO", str),
}
SETTING_SEEDS = ("Z_THRESHOLD", "MODEL_SIZE", "ANOMALY_LIST_SIZE", "SAMPLE_RATE_HZ",
                 "RELEARN_AFTER", "ANOMALY_LEVEL")


def _read(fields: Mapping[str, tuple[Any, Callable[[str], Any]]], environ: Mapping[str, str]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for name, (default, parse) in fields.items():
        raw = environ.get(name)
        try:
            config[name] = default if raw in (None, "") else parse(raw)
        except ValueError as exc:
            raise SystemExit(f"environment variable {name}={raw!r} is not valid: {exc}") from exc
    return config


def server_config(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """gunicorn's settings: where to listen, how many workers and threads, the access log, the log level."""
    return _read(SERVER_FIELDS, environ)


def nab_corpus(environ: Mapping[str, str] = os.environ) -> Path:
    """The NAB corpus the NAB tests and benchmarks read: ``$NAB_CORPUS``, else a ``shared/data/nab-dev``
    folder beside the project (where this project's machines keep the dev half)."""
    raw = environ.get("NAB_CORPUS")
    return Path(raw) if raw else PROJECT_ROOT.parent / "shared" / "data" / "nab-dev"


def load_config(root_path: str, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Defaults overridden by environment variables; the database defaults to ``data.db`` in the project root."""
    config = _read(_FIELDS, environ)
    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = "sqlite:///" + os.path.join(root_path, "data.db")
    config["SQLALCHEMY_DATABASE_URI"] = config["DATABASE_URL"]
    if not config["MODELS_DIR"]:
        config["MODELS_DIR"] = os.path.join(root_path, "models")
    return config


def setting_seeds(config: Mapping[str, Any]) -> dict[str, Any]:
    """The user-setting defaults the environment asked for, keyed by setting name."""
    return {name.lower(): config[name] for name in SETTING_SEEDS if config.get(name) is not None}
