"""Scheduled retraining and the shadow trial that decides whether a retrained model takes over.

A retrained model is a *shadow* first. After ``SHADOW_HOURS`` both models are
scored on the readings the shadow has seen since it was trained (the LSTM is
causal and deterministic, so this is what it would have flagged live), and it
is promoted only if it is not worse: no more false alarms on readings the
z-score judged normal outside scenarios, and no fewer injected scenarios
caught. Otherwise it becomes a *candidate* that waits for a person.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask

from helpers.core.evaluation.scorecard import DEFAULT_GRACE_S, Event, score
from helpers.runtime.jobs import training
from helpers.storage import model_registry as registry
from helpers.storage import line as line_store
from helpers.storage import readings as reading_store
from helpers.storage import scenarios as scenario_store
from helpers.storage import settings as settings_store
from helpers.storage.db import db

log = logging.getLogger(__name__)


def tick(app: Flask, now: float, background: bool = True) -> None:
    """Start the retrainings that are due and judge the shadows whose trial is over."""
    interval = app.config["RETRAIN_INTERVAL_HOURS"] * 3600.0
    line, overrides = settings_store.load_settings()
    for sensor in line_store.all_sensors():
        if not settings_store.effective(line, overrides, sensor.name)["lstm_enabled"]:
            continue
        target = registry.sensor_target(sensor.name)
        models = registry.models_of(target)
        shadow = next((m for m in models if m.status == registry.SHADOW), None)
        active = next((m for m in models if m.status == registry.ACTIVE), None)
        if shadow is not None:
            if now - shadow.created_at >= app.config["SHADOW_HOURS"] * 3600.0:
                judge_shadow(sensor, shadow, active, now)
            continue
        if interval > 0 and active is not None and now - active.created_at >= interval \
                and registry.unfinished_job(target) is None:
            try:
                job = training.request_training(app, target, "scheduled")
            except training.TrainingRefused as exc:
                log.warning("scheduled retraining skipped: %s", exc)
                continue
            if background:
                training.start_in_background(app, job.id)
            else:
                training.run_job(app, job.id)


def _trial(model, sensor_id: int, start: float, end: float) -> dict[str, Any]:
    """How ``model`` does on [start, end): false alarms on normal readings, injected scenarios caught."""
    from helpers.core.lstm import persistence
    from helpers.core.lstm.scorer import LSTMScorer

    times, values, normal = reading_store.values_between(sensor_id, start, end)
    scenarios = scenario_store.scenarios_between(sensor_id, start, end)
    if not values:
        return {"readings": 0, "false_alarms": 0, "caught": 0, "events": len(scenarios)}
    verdicts = LSTMScorer(persistence.load(model.path)).score_series(values)
    flags = [t for t, v in zip(times, verdicts) if v.anomaly]
    inside = [any(s.starts_at <= t < s.ends_at + DEFAULT_GRACE_S for s in scenarios) for t in times]
    false_alarms = sum(1 for v, ok, ins in zip(verdicts, normal, inside) if v.anomaly and ok and not ins)
    card = score([Event(s.id, "sensor", s.kind, s.starts_at, s.ends_at) for s in scenarios],
                 {"sensor": flags}, end)
    return {"readings": len(values), "false_alarms": false_alarms, "caught": card["caught"],
            "events": card["events"]}


def judge_shadow(sensor, shadow, active, now: float) -> str:
    """Promote the shadow if it is not worse than the active model; else leave it for a person."""
    try:
        mine = _trial(shadow, sensor.id, shadow.created_at, now)
        theirs = _trial(active, sensor.id, shadow.created_at, now) if active is not None else None
    except Exception as exc:  # an unusable file or the like: a person decides
        log.exception("shadow trial of %s v%s failed", shadow.target, shadow.version)
        mine, theirs = {"error": str(exc)}, None
    not_worse = "error" not in mine and (theirs is None or (
        mine["false_alarms"] <= theirs["false_alarms"] and mine["caught"] >= theirs["caught"]))
    info = json.loads(shadow.info)
    info["comparison"] = {"shadow": mine, "active": theirs, "judged_at": now,
                          "active_version": active.version if active is not None else None,
                          "promoted": not_worse}
    shadow.info = json.dumps(info)
    if not_worse:
        registry.activate(shadow)
        log.info("%s v%s promoted after its shadow trial: %s", shadow.target, shadow.version, info["comparison"])
        return registry.ACTIVE
    shadow.status = registry.CANDIDATE
    db.session.commit()
    log.warning("%s v%s is worse than the active model; it waits for a person", shadow.target, shadow.version)
    return registry.CANDIDATE
