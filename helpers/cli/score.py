"""``flask score``: a detector run causally over a CSV file, a score for every row."""
from __future__ import annotations

import csv
from typing import IO, Optional

import click
from click.core import ParameterSource
from flask import Flask

from helpers.cli.inputs import InputError, read_series, read_table
from helpers.core.evaluation.batch import DETECTORS, MULTIVARIATE, lstm_verdicts, mspc_verdicts, score_series
from helpers.core.lstm.windows import NotEnoughDataError


def score_file(source: IO[str], name: str, output: IO[str], detector: str, options: dict) -> int:
    timestamps, values = read_series(source, name)
    try:
        verdicts = list(score_series(values, detector, options, timestamps=timestamps))
    except NotEnoughDataError as error:
        raise InputError(f"{name}: {error} (--train-rows says which rows are normal)") from None
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(["timestamp", "value", "score", "anomaly"])
    flagged = 0
    for ts, value, (score, anomaly) in zip(timestamps, values, verdicts):
        writer.writerow([ts, repr(value), f"{score:.6f}", int(anomaly)])
        flagged += anomaly
    return flagged


def score_table_file(source: IO[str], name: str, output: IO[str], detector: str, options: dict,
                     per_column: bool = False, train: Optional[IO[str]] = None) -> int:
    """Score every value column together (one model), or each alone with ``per_column``; returns the flags.

    Columns written: one value column → ``timestamp,value,score,anomaly``; several
    with one model → ``timestamp,<columns>,score,anomaly``; several per column →
    ``timestamp,<columns>,<column>_score,<column>_anomaly`` for each column.
    Nothing is written until every row is scored.
    """
    table = read_table(source, name)
    if table.ignored:
        click.echo(f"{name}: ignoring non-numeric column(s) {', '.join(table.ignored)}", err=True)
    reference: list = []
    if train is not None:
        normal = read_table(train, train.name)
        if normal.columns != table.columns:
            raise InputError(f"{train.name}: its columns ({', '.join(normal.columns)}) are not {name}'s "
                             f"({', '.join(table.columns)})")
        reference = normal.rows
        options = {**options, "train_rows": len(reference)}
    single = len(table.columns) == 1
    if per_column or single:
        groups = [([row[i] for row in reference + table.rows], [table.columns[i]]) for i in range(len(table.columns))]
    else:
        groups = [(reference + table.rows, table.columns)]
    why = None
    try:
        if detector == "mspc":
            verdicts = [mspc_verdicts(values, options, columns)[len(reference):] for values, columns in groups]
            results = [[(0.0, False) if v is None else (v.unit_score, v.anomaly) for v in vs] for vs in verdicts]
            why = [" · ".join(v.why() for v in row if v is not None and v.anomaly) for row in zip(*verdicts)]
        elif detector == "lstm" and not (single or per_column):
            explained = [lstm_verdicts(values, options, columns)[len(reference):] for values, columns in groups]
            results = [[(score, flag) for score, flag, _ in rows] for rows in explained]
            why = [" · ".join(w for _, _, w in row if w) for row in zip(*explained)]
        else:
            results = [list(score_series(values, detector, options))[len(reference):] for values, _ in groups]
    except NotEnoughDataError as error:
        raise InputError(f"{name}: {error} (--train-rows or --train says which rows are normal)") from None
    if single:
        header = ["timestamp", "value", "score", "anomaly"]
    elif per_column:
        header = ["timestamp", *table.columns, *(f"{c}_{part}" for c in table.columns for part in ("score", "anomaly"))]
    else:
        header = ["timestamp", *table.columns, "score", "anomaly"]
    if why is not None:
        header.append("why")  # the sensors that drove each alarm
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(header)
    for index, (ts, row) in enumerate(zip(table.timestamps, table.rows)):
        verdicts = [result[index] for result in results]
        writer.writerow([ts, *map(repr, row), *(cell for score, anomaly in verdicts
                                                 for cell in (f"{score:.6f}", int(anomaly))),
                         *([why[index]] if why is not None else [])])
    return sum(anomaly for result in results for _, anomaly in result)


# Which detectors each detector-specific option applies to.
_LSTMS = ("lstm", "lstm+likelihood")
_OPTION_DETECTORS = {"threshold": ("zscore",), "model_size": ("zscore",), "relearn_after": ("zscore",),
                     "seed": _LSTMS, "epochs": _LSTMS, "time_steps": _LSTMS, "per_column": ("lstm", "mspc"),
                     "train_rows": (*_LSTMS, "mspc"), "train": ("lstm", "mspc"), "variance": ("mspc",),
                     "alpha": ("mspc", *_LSTMS), "smoothing": _LSTMS}


def _refuse_foreign_options(ctx: click.Context, detector: str) -> None:
    """An option of another detector is an error, not silently ignored."""
    for option, owners in _OPTION_DETECTORS.items():
        if detector not in owners and ctx.get_parameter_source(option) is ParameterSource.COMMANDLINE:
            raise click.UsageError(f"--{option.replace('_', '-')} applies to --detector "
                                   f"{' or '.join(owners)}, not {detector}")
    if ctx.params.get("train") is not None and ctx.get_parameter_source("train_rows") is ParameterSource.COMMANDLINE:
        raise click.UsageError("--train and --train-rows exclude each other: the normal rows come from one of them")


def init_app(app: Flask) -> None:
    @app.cli.command("score")
    @click.argument("input_csv", type=click.File("r", encoding="utf-8"))
    @click.option("--detector", type=click.Choice(sorted(DETECTORS)), default="zscore", show_default=True)
    @click.option("--output", "-o", type=click.File("w", encoding="utf-8", lazy=True), required=True,
                  help="where to write timestamp,value,score,anomaly")
    @click.option("--threshold", type=click.FloatRange(min=0.1, max=100.0), default=3.0, show_default=True,
                  help="zscore: |z| above which a reading is an anomaly")
    @click.option("--model-size", type=click.IntRange(min=2, max=100_000), default=100, show_default=True,
                  help="zscore: recent normal readings in the model")
    @click.option("--relearn-after", type=click.IntRange(min=1, max=100_000), default=30, show_default=True,
                  help="zscore: anomalies in a row that restart the model")
    @click.option("--train-rows", type=click.IntRange(min=1), default=None,
                  help="lstm, mspc: train on the first N rows  [default: 15 % of the rows]")
    @click.option("--train", type=click.File("r", encoding="utf-8"), default=None,
                  help="lstm, mspc: train on this file of normal operation (the same columns) instead")
    @click.option("--variance", type=click.FloatRange(min=0.01, max=1.0), default=0.9, show_default=True,
                  help="mspc: share of the normal rows' variance its principal components keep")
    @click.option("--alpha", type=click.FloatRange(min=1e-6, max=0.5), default=0.01, show_default=True,
                  help="mspc, lstm: the false-alarm rate its limits are set at, on held-back normal rows")
    @click.option("--smoothing", type=click.FloatRange(min=0.001, max=1.0), default=1.0, show_default=True,
                  help="lstm: weight of the newest error in the smoothed error it judges (1: none)")
    @click.option("--seed", type=int, default=None, help="lstm: seed, for the same output on every run")
    @click.option("--epochs", type=click.IntRange(min=1, max=10_000), default=20, show_default=True,
                  help="lstm: training passes over the training rows")
    @click.option("--time-steps", type=click.IntRange(min=2, max=10_000), default=15, show_default=True,
                  help="lstm: readings per window")
    @click.option("--per-column", is_flag=True,
                  help="lstm, mspc: one model per value column (writes <column>_score,<column>_anomaly for each)")
    @click.pass_context
    def score_command(ctx, input_csv, detector, output, threshold, model_size, relearn_after,
                      train_rows, train, variance, alpha, smoothing, seed, epochs, time_steps, per_column):
        """Run a detector causally over INPUT_CSV and write a score for every row.

        zscore reads timestamp,value. lstm reads a time column (timestamp, datetime or
        time) and every numeric column, separated by , or ;, trains one model over
        all of them (or one per column with --per-column) on the first rows, then
        scores the rest; its score is error/(error+threshold), so 0.5 is the threshold.
        mspc reads the same columns, fits PCA on the normal rows and flags a row whose
        Hotelling T² or SPE passes its limit (set at --alpha on held-back normal rows);
        its score is s/(1+s) with s the statistic over its limit, and a why column
        names the sensors that drove each alarm.
        """
        _refuse_foreign_options(ctx, detector)
        if detector in MULTIVARIATE:
            options = {"train_rows": train_rows, "seed": seed, "epochs": epochs, "time_steps": time_steps,
                       "variance": variance, "alpha": alpha, "smoothing": smoothing,
                       "progress": lambda epoch, total, loss: click.echo(
                           f"{detector}: epoch {epoch}/{total}, loss {loss:.5f}", err=True)}
            flagged = score_table_file(input_csv, input_csv.name, output, detector, options, per_column, train)
        elif detector == "lstm+likelihood":
            options = {"train_rows": train_rows, "seed": seed, "epochs": epochs, "time_steps": time_steps,
                       "alpha": alpha, "smoothing": smoothing}
            flagged = score_file(input_csv, input_csv.name, output, detector, options)
        else:
            options = {"z_threshold": threshold, "model_size": model_size, "relearn_after": relearn_after}
            flagged = score_file(input_csv, input_csv.name, output, detector, options)
        click.echo(f"scored {input_csv.name} with {detector}: {flagged} anomalies", err=True)

