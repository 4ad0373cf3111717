"""``flask train``: train a sensor's LSTM in the foreground, with the same checks as the dashboard."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import click
from flask import Flask, current_app

from helpers.runtime.jobs import training
from helpers.storage import model_registry as registry
from helpers.storage import line as line_store


class _Time(click.ParamType):
    name = "TIME"

    def convert(self, value, param, ctx) -> float:
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time (e.g. 2026-11-26T09:00:00+00:00)", param, ctx)


def train_sensor(name: str, data_from: Optional[float], data_to: Optional[float], echo=click.echo) -> int:
    """Train and activate; returns the model id. A click error (exit 2) says what is wrong."""
    app = current_app._get_current_object()
    sensor = line_store.sensor_by_name(name)
    if sensor is None:
        known = ", ".join(s.name for s in line_store.all_sensors())
        raise click.BadParameter(f"unknown sensor {name!r} (known: {known})", param_hint="--sensor")
    try:
        job = training.request_training(app, registry.sensor_target(sensor.name), "cli", data_from, data_to)
    except training.TrainingRefused as exc:
        raise click.UsageError(str(exc)) from None
    model_id = training.run_job(app, job.id, echo=echo)
    if model_id is None:
        raise click.ClickException(f"training failed: {registry.job_by_id(job.id).error}")
    model = registry.model_by_id(model_id)
    echo(f"{sensor.name}: model v{model.version} is active ({model.path})")
    return model_id


def init_app(app: Flask) -> None:
    @app.cli.command("train")
    @click.option("--sensor", required=True, help="the sensor whose LSTM to train")
    @click.option("--from", "data_from", type=_Time(), help="train on readings from this time (ISO 8601)")
    @click.option("--to", "data_to", type=_Time(), help="... up to this time")
    def train_command(sensor, data_from, data_to):
        """Train the LSTM of a sensor on its recent normal readings (or the chosen range) and activate it."""
        if data_from is not None and data_to is not None and data_from >= data_to:
            raise click.BadParameter("--from must be before --to", param_hint="--from")
        train_sensor(sensor, data_from, data_to)
