"""Backtests: re-run a sensor's detector with other settings over its stored history, as an analysis job.

Both sides are re-run, the current settings and the proposed ones, from the
same warm-up, so the difference is the settings' alone (the stored verdicts
may come from settings that changed during the stretch; their count is
reported as ``recorded``).
"""
from __future__ import annotations

import json
import time
from typing import Any, Mapping, Optional

import numpy as np
from flask import Flask

from helpers.core.evaluation import backtest as core
from helpers.core.evaluation.scorecard import Event
from helpers.core.formats.series_csv import epoch_seconds
from helpers.core.settings import SettingError, coerce
from helpers.storage import analysis_jobs
from helpers.storage import line as line_store
from helpers.storage import readings as reading_store
from helpers.storage import scenarios as scenario_store
from helpers.storage import settings as settings_store
from helpers.storage import model_registry as registry

KIND = "backtest"
SETTING_KEYS = {"zscore": ("z_threshold", "model_size", "relearn_after"),
                "lstm": ("lstm_ratio", "lstm_percentile")}
# Warm-up readings per reading of model size: the live detector leaves anomalies out, so it saw more.
WARM_UP_FACTOR = 3


class BacktestRefused(ValueError):
    """The backtest cannot run; ``field`` names the input at fault, ``status`` the HTTP answer."""

    def __init__(self, field: str, message: str, status: int = 400):
        super().__init__(message)
        self.field, self.status = field, status


def _time(body: Mapping, field: str, default: Optional[float]) -> float:
    try:
        return epoch_seconds(body.get(field, default))
    except ValueError as exc:
        raise BacktestRefused(field, f"{field} {exc}") from None


def request_backtest(app: Flask, body: Mapping[str, Any]) -> dict:
    """Validate the whole request, then record the job (the caller starts it)."""
    name = body.get("sensor")
    sensor = line_store.sensor_by_name(name) if isinstance(name, str) else None
    if sensor is None:
        raise BacktestRefused("sensor", f"unknown sensor {name!r}", 404 if isinstance(name, str) else 400)
    start, end = _time(body, "from", None), _time(body, "to", time.time())
    if start >= end:
        raise BacktestRefused("from", "from must be before to")
    detector = body.get("detector", "zscore")
    if detector not in SETTING_KEYS:
        raise BacktestRefused("detector", f"detector must be one of {', '.join(SETTING_KEYS)}")
    line, overrides = settings_store.load_settings()
    current = {k: settings_store.effective(line, overrides, sensor.name)[k] for k in SETTING_KEYS[detector]}
    raw = body.get("settings") or {}
    if not isinstance(raw, dict):
        raise BacktestRefused("settings", "settings must be an object of setting values")
    unknown = [k for k in raw if k not in SETTING_KEYS[detector]]
    if unknown:
        raise BacktestRefused(unknown[0], f"{unknown[0]} is not a setting of the {detector} detector "
                                          f"(those are {', '.join(SETTING_KEYS[detector])})")
    try:
        proposed = {**current, **{k: coerce(k, v) for k, v in raw.items()}}
    except SettingError as exc:
        raise BacktestRefused(exc.field, str(exc)) from None
    readings = reading_store.count_between(sensor.id, start, end)
    if readings == 0:
        raise BacktestRefused("from", f"{sensor.name} has no readings in the chosen stretch")
    if readings > app.config["BACKTEST_MAX_READINGS"]:
        raise BacktestRefused("from", f"the stretch holds {readings:,} readings of {sensor.name}; at most "
                                      f"{app.config['BACKTEST_MAX_READINGS']:,} (choose a shorter one)")
    if detector == "lstm" and registry.sensor_target(sensor.name) not in registry.active_models():
        raise BacktestRefused("detector", f"{sensor.name} has no trained LSTM yet: train one first", 409)
    params = {"sensor": sensor.name, "from": start, "to": end, "detector": detector,
              "settings": {"current": current, "proposed": proposed}}
    job = analysis_jobs.create(KIND, f"{detector} on {sensor.name}", params, None, total=readings)
    return status(job.id)


def status(job_id: int) -> Optional[dict]:
    job = analysis_jobs.get(job_id, KIND)
    if job is None:
        return None
    return {**analysis_jobs.as_dict(job), "result": analysis_jobs.result(job_id) if job.status == "done" else None}


def work_for(app: Flask):
    """The job's work, with the deploy-time settings it needs."""
    shifts = core.parse_shifts(app.config["SHIFT_STARTS"])
    gap_s = app.config["BACKTEST_ALERT_GAP_SECONDS"]

    def work(job_id: int, report) -> dict:
        params = json.loads(analysis_jobs.get(job_id, KIND).params)
        sensor = line_store.sensor_by_name(params["sensor"])
        current, proposed = params["settings"]["current"], params["settings"]["proposed"]
        rows = []
        for row in reading_store.backtest_rows(sensor.id, params["from"], params["to"]):
            rows.append(row)
            if len(rows) % 20_000 == 0:
                report(len(rows) / 2, f"reading history: {len(rows):,} readings")
        times = np.array([r[0] for r in rows], dtype=np.float64)
        n = len(rows)
        if params["detector"] == "zscore":
            values = [r[1] for r in rows]
            size = max(current["model_size"], proposed["model_size"])
            warm_up = reading_store.values_before(sensor.id, params["from"], WARM_UP_FACTOR * size)
            flags = {}
            for half, (side, settings) in enumerate((("current", current), ("proposed", proposed))):
                flags[side] = core.zscore_flags(warm_up, values, settings, lambda i, total, half=half, side=side: report(
                    n / 2 + (half + i / total) * n / 4, f"{side} settings: {i:,} of {total:,} readings"))
            recorded = int(sum(bool(r[2]) for r in rows))
            warm = (f"both runs first learn from the {len(warm_up)} readings before the stretch "
                    f"({WARM_UP_FACTOR} × model size), as the live detector had learned")
        else:
            from helpers.core.lstm import persistence
            model = persistence.load(registry.active_models()[registry.sensor_target(sensor.name)][1])
            old = model.threshold(current["lstm_percentile"], current["lstm_ratio"])
            new = model.threshold(proposed["lstm_percentile"], proposed["lstm_ratio"])
            errors, thresholds = [r[3] for r in rows], [r[4] for r in rows]
            flags = {"current": core.lstm_flags(errors, thresholds, 1.0),
                     "proposed": core.lstm_flags(errors, thresholds, new / old)}
            recorded = int(sum(bool(r[5]) for r in rows))
            warm = (f"the stored reconstruction errors are compared with the stored thresholds times "
                    f"{new / old:.4g} (the active model's threshold under the proposed rule, {new:.4g}, "
                    f"over the current one, {old:.4g}); nothing is retrained")
        events = [Event(s.id, sensor.name, s.kind, s.starts_at, s.ends_at)
                  for s in scenario_store.scenarios_between(sensor.id, params["from"], params["to"])]
        compared = core.compare(times, flags["current"], flags["proposed"], events, sensor.name, shifts, gap_s,
                                now=min(params["to"], time.time()))
        return {"sensor": sensor.name, "detector": params["detector"], "from": params["from"], "to": params["to"],
                "readings": n, "recorded_anomalies": recorded, "settings": params["settings"], **compared,
                "alert_rule": f"an alert starts at an anomaly that follows {gap_s:g} s without one",
                "warm_up": warm}

    return work
