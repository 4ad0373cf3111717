"""``flask`` commands; each wraps a plain function that a test can call."""
from __future__ import annotations

import csv
import logging
import math
import signal
import sys
import threading
from typing import IO, Iterator

import click
from flask import Flask, current_app

from helpers.config import setting_seeds
from helpers.core.batch import DETECTORS, score_series
from helpers.core.simulator import DEFAULT_SENSORS, LineSimulator
from helpers.runtime.sampler import Sampler
from helpers.storage import queries


class InputError(click.ClickException):
    """Bad input: a clear message and exit code 2."""

    exit_code = 2


def init_db() -> None:
    queries.init_db(DEFAULT_SENSORS, setting_seeds(current_app.config), current_app.config["SIMULATOR_SEED"])


def read_series(stream: IO[str], name: str) -> tuple[list[str], list[float]]:
    """Read ``timestamp,value`` rows; any problem is an InputError naming the line."""
    reader = csv.DictReader(stream)
    if reader.fieldnames is None:
        raise InputError(f"{name}: the file is empty")
    missing = {"timestamp", "value"} - {f.strip() for f in reader.fieldnames}
    if missing:
        raise InputError(f"{name}: missing column(s) {', '.join(sorted(missing))}; "
                         f"expected a header with timestamp,value (found {','.join(reader.fieldnames)})")
    timestamps, values = [], []
    for row in _stripped(reader):
        line = reader.line_num
        raw = row.get("value")
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise InputError(f"{name}, line {line}: value {raw!r} is not a number") from None
        if not math.isfinite(value):
            raise InputError(f"{name}, line {line}: value {raw!r} is not a finite number")
        timestamps.append(row.get("timestamp") or "")
        values.append(value)
    if not values:
        raise InputError(f"{name}: no data rows after the header")
    return timestamps, values


def _stripped(reader: csv.DictReader) -> Iterator[dict[str, str]]:
    for row in reader:
        yield {(k or "").strip(): v.strip() if isinstance(v, str) else v for k, v in row.items()}


def score_file(source: IO[str], name: str, output: IO[str], detector: str, options: dict) -> int:
    timestamps, values = read_series(source, name)
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(["timestamp", "value", "score", "anomaly"])
    flagged = 0
    for ts, value, (score, anomaly) in zip(timestamps, values, score_series(values, detector, options)):
        writer.writerow([ts, repr(value), f"{score:.6f}", int(anomaly)])
        flagged += anomaly
    return flagged


def init_app(app: Flask) -> None:
    @app.cli.command("init-db")
    def init_db_command():
        """Create the tables and seed the default line, sensors and settings."""
        init_db()
        click.echo(f"database ready: {current_app.config['SQLALCHEMY_DATABASE_URI']}")

    @app.cli.command("score")
    @click.argument("input_csv", type=click.File("r", encoding="utf-8"))
    @click.option("--detector", type=click.Choice(sorted(DETECTORS)), default="zscore", show_default=True)
    @click.option("--output", "-o", type=click.File("w", encoding="utf-8", lazy=True), required=True,
                  help="where to write timestamp,value,score,anomaly")
    @click.option("--threshold", type=click.FloatRange(min=0.1, max=100.0), default=3.0, show_default=True)
    @click.option("--model-size", type=click.IntRange(min=2, max=100_000), default=100, show_default=True)
    @click.option("--relearn-after", type=click.IntRange(min=1, max=100_000), default=30, show_default=True)
    def score_command(input_csv, detector, output, threshold, model_size, relearn_after):
        """Run a detector causally over INPUT_CSV (timestamp,value) and write a score for every row."""
        options = {"z_threshold": threshold, "model_size": model_size, "relearn_after": relearn_after}
        flagged = score_file(input_csv, input_csv.name, output, detector, options)
        click.echo(f"scored {input_csv.name} with {detector}: {flagged} anomalies", err=True)

    @app.cli.command("sampler")
    def sampler_command():
        """Run the sampler in the foreground (set SAMPLER_AUTOSTART=0 on the web workers)."""
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        init_db()
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        sampler = Sampler(current_app._get_current_object(),
                          LineSimulator(DEFAULT_SENSORS, seed=current_app.config["SIMULATOR_SEED"]))
        try:
            sampler.run(stop)
        except KeyboardInterrupt:
            stop.set()
        sys.exit(0)
