"""``flask train-knn`` and ``flask score-knn``: the supervised kNN classifier from a labelled CSV, then on new files."""
from __future__ import annotations

import csv
import io
from typing import IO, NamedTuple

import click
from flask import Flask, current_app

from helpers.cli.inputs import InputError, Table, read_table
from helpers.core.detectors import knn_classifier
from helpers.core.detectors.contract import run
from helpers.core.detectors.knn_classifier import ALARM, KNNClassifier, ModelError
from helpers.core.detectors.live import SUPERVISED, parse_names
from helpers.runtime.jobs import knn_models

LABEL_COLUMN = "label"


class Labelled(NamedTuple):
    """A labelled CSV: its values (as :func:`helpers.cli.inputs.read_table` reads them) and a 0/1 label per row."""

    table: Table
    labels: list[int]


def read_labelled(stream: IO[str], name: str) -> Labelled:
    """Read ``timestamp,value…,label``; a missing label column or a bad label is an InputError naming the line."""
    text = stream.read()
    if not text.strip():
        raise InputError(f"{name}: the file is empty")
    header_line = text.split("\n", 1)[0]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    lowered = [cell.strip().lower() for cell in rows[0]]
    if LABEL_COLUMN not in lowered:
        raise InputError(f"{name}: no label column; expected one named {LABEL_COLUMN} "
                         f"(found {','.join(cell.strip() for cell in rows[0])})")
    index = lowered.index(LABEL_COLUMN)
    labels = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(rows[0]):
            raise InputError(f"{name}, line {line}: {len(row)} fields where the header has {len(rows[0])}")
        label = knn_classifier.parse_label(row[index])
        if label is None:
            raise InputError(f"{name}, line {line}: label {row[index].strip()!r} is not one of "
                             f"{', '.join(knn_classifier.LABELS)}")
        labels.append(label)
    # The values are read by the one shared reader, from the same lines without the label column.
    rest = io.StringIO()
    writer = csv.writer(rest, delimiter=delimiter, lineterminator="\n")
    for row in rows:
        writer.writerow([cell for i, cell in enumerate(row) if i != index] if row else [])
    return Labelled(read_table(io.StringIO(rest.getvalue()), name), labels)


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def train_file(source: IO[str], name: str, output: str, window: int, k: int, echo=click.echo) -> knn_classifier.Model:
    """Read and check the labelled file whole, report a held-out check, train on every row and save."""
    labelled = read_labelled(source, name)
    table, labels = labelled.table, labelled.labels
    if table.ignored:
        echo(f"{name}: ignoring non-numeric column(s) {', '.join(table.ignored)}", err=True)
    try:
        model = knn_classifier.train(table.rows, labels, table.columns, window, k)
    except ValueError as error:
        raise InputError(f"{name}: {error}") from None
    echo(f"{name}: {len(table.rows)} rows, {sum(labels)} anomalous; columns {', '.join(table.columns)}; "
         f"window {window}, k {k}")
    try:
        check = knn_classifier.held_out(table.rows, labels, table.columns, window, k)
        echo(f"held-out last {check.test_rows} rows (trained on the first {check.train_rows}): "
             f"accuracy {_pct(check.accuracy)}, precision {_pct(check.precision)}, recall {_pct(check.recall)}")
    except ValueError as error:
        echo(f"held-out check skipped: the first 80 % of the rows alone: {error}")
    knn_classifier.save(model, output)
    echo(f"saved {output}")
    return model


def score_file(source: IO[str], name: str, model_dir: str, output: IO[str]) -> int:
    """Score every row of ``source`` with the saved model as the live detector would; returns the flags.

    Writes ``timestamp,value,score,anomaly`` (``timestamp,<columns>,score,anomaly`` for
    several columns); rows while the window fills score 0. A ``label`` column is ignored.
    """
    try:
        detector = KNNClassifier(model_dir)
    except ModelError as error:
        raise InputError(str(error)) from None
    table = read_table(source, name)
    columns = list(detector.model.columns)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(f"{name}: no column(s) {', '.join(missing)}, which the model was trained on "
                         f"(found {', '.join(table.columns)})")
    extra = [c for c in table.columns if c not in columns and c.lower() != LABEL_COLUMN]
    if extra:
        click.echo(f"{name}: ignoring column(s) {', '.join(extra)}, which the model does not know", err=True)
    picks = [table.columns.index(c) for c in columns]
    rows = [[row[i] for i in picks] for row in table.rows]
    scores = [0.0 if s is None else s for s in run(detector, rows, table.timestamps)]
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(["timestamp", *(["value"] if len(columns) == 1 else columns), "score", "anomaly"])
    for ts, row, score in zip(table.timestamps, rows, scores):
        writer.writerow([ts, *map(repr, row), f"{score:.6f}", int(score >= ALARM)])
    return sum(score >= ALARM for score in scores)


def init_app(app: Flask) -> None:
    @app.cli.command("train-knn")
    @click.argument("input_csv", type=click.File("r", encoding="utf-8"))
    @click.option("--output", "-o", type=click.Path(file_okay=False),
                  help="directory to save the model in (model.npz and meta.json)")
    @click.option("--name", help="save it as MODELS_DIR/knn/NAME, where sensors can run it live as knn_model:NAME")
    @click.option("--k", type=click.IntRange(min=1, max=1000), default=5, show_default=True,
                  help="nearest labelled windows that vote")
    @click.option("--window", type=click.IntRange(min=1, max=10_000), default=10, show_default=True,
                  help="readings per window")
    def train_knn_command(input_csv, output, name, k, window):
        """Train the supervised kNN classifier on INPUT_CSV (timestamp,value…,label) and save it.

        label is 0/1, true/false or normal/anomaly. Prints a check on the last 20 % of
        the rows (trained on the rest), then trains on every row.
        """
        if (output is None) == (name is None):
            raise click.UsageError("give --output DIR or --name NAME (one of them)")
        if name is not None:
            try:
                parse_names(SUPERVISED + name)
            except ValueError as error:
                raise click.BadParameter(str(error), param_hint="--name")
            output = str(knn_models.directory(current_app) / name)
        train_file(input_csv, input_csv.name, output, window, k)
        if name is not None:
            click.echo(f"a sensor runs it live with the setting detectors={SUPERVISED}{name}")

    @app.cli.command("score-knn")
    @click.argument("input_csv", type=click.File("r", encoding="utf-8"))
    @click.option("--model", "model_dir", required=True, type=click.Path(file_okay=False),
                  help="a directory written by flask train-knn")
    @click.option("--output", "-o", type=click.File("w", encoding="utf-8", lazy=True), required=True,
                  help="where to write timestamp,value…,score,anomaly")
    def score_knn_command(input_csv, model_dir, output):
        """Score INPUT_CSV causally with a trained kNN classifier; a score of 0.5 or more is an anomaly."""
        flagged = score_file(input_csv, input_csv.name, model_dir, output)
        click.echo(f"scored {input_csv.name} with the kNN classifier: {flagged} anomalies", err=True)
