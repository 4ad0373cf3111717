"""``flask evaluate``: NAB v1.1 scores of detectors on a labelled corpus; ``flask evaluate-runs``: a
multivariate detector over runs with a fault onset (false alarms, detection rate, delay, NAB-style score)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import click
import numpy as np
from flask import Flask

from helpers.cli.inputs import InputError, read_series, read_table
from helpers.core.evaluation.batch import DETECTORS, MULTIVARIATE, judge_runs
from helpers.core.evaluation.nab import FileScores, score_corpus
from helpers.core.evaluation.runs import onsets_from_labels, score_run, summarise
from helpers.core.lstm.windows import NotEnoughDataError
from helpers.runtime.jobs.evaluation import NAB_PROFILES, corpus_files, evaluate

PROFILE_LABELS = {"standard": "standard", "reward_low_FP_rate": "low FP", "reward_low_FN_rate": "low FN"}


def read_file(path: Path, name: str):
    with open(path, encoding="utf-8") as stream:
        return read_series(stream, name)


def table(results) -> str:
    header = ["detector"] + [PROFILE_LABELS.get(p, p) for p in results[0].scores] + \
             ["precision", "recall", "F1", "mean delay", "files", "run time"]
    rows = [header]
    for r in results:
        delay = "–" if r.mean_delay_s is None else f"{r.mean_delay_s / 60:.1f} min"
        rows.append([r.detector] + [f"{s:.2f}" for s in r.scores.values()] +
                    [f"{r.precision:.3f}", f"{r.recall:.3f}", f"{r.f1:.3f}", delay, str(r.files), f"{r.seconds:.1f} s"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def evaluate_runs(detector: str, train_path: Path, runs: list[Path], onset_row: int | None, normal_runs: set[str],
                  label_column: str, options: dict) -> tuple[list, dict]:
    """Each run scored by ``detector`` fitted on ``train_path``; ``(run scores, NAB-style results by profile)``.

    A run's onset is its ``label_column``'s first 1 when it has that column, else ``onset_row`` (1-based),
    except for ``normal_runs``, normal throughout. The label column is never a detector input.
    """
    with open(train_path, encoding="utf-8") as fh:
        normal = read_table(fh, train_path.name)
    features = [c for c in normal.columns if c != label_column]
    reference = [[row[normal.columns.index(c)] for c in features] for row in normal.rows]
    tables, onsets = [], []
    for path in runs:
        with open(path, encoding="utf-8") as fh:
            table = read_table(fh, path.name)
        missing = [c for c in features if c not in table.columns]
        if missing:
            raise InputError(f"{path.name}: lacks the training file's column(s) {', '.join(missing)}")
        if path.name in normal_runs or path.stem in normal_runs:
            onset = None
        elif label_column in table.columns:
            at = table.columns.index(label_column)
            onset = onsets_from_labels({path.name: [row[at] for row in table.rows]})[path.name]
        elif onset_row is not None:
            onset = onset_row - 1
        else:
            raise InputError(f"{path.name}: no {label_column} column and no --onset-row: where does its fault start?")
        tables.append(table)
        onsets.append(onset)
    try:
        judged = judge_runs(detector, reference, [[[row[t.columns.index(c)] for c in features] for row in t.rows]
                                                  for t in tables], options)
    except NotEnoughDataError as error:
        raise InputError(f"{train_path.name}: {error}") from None
    scored, nab_files, windows = [], [], {}
    for path, table, onset, verdicts in zip(runs, tables, onsets, judged):
        scored.append(score_run(path.stem, [flag for _, flag in verdicts], onset))
        nab_files.append(FileScores(path.stem, table.timestamps, np.array([score for score, _ in verdicts])))
        windows[path.stem] = [] if onset is None else [(table.timestamps[onset], table.timestamps[-1])]
    nab = {profile: score_corpus(nab_files, windows, weights, threshold=0.5)
           for profile, weights in NAB_PROFILES.items()}
    return scored, nab


def runs_table(scored, nab, exclude: set[str]) -> str:
    lines = ["run | rows | onset row | false alarms | detection rate | delay (rows)", "-" * 72]
    for r in scored:
        onset = "—" if r.onset is None else str(r.onset + 1)
        rate = "—" if r.detection_rate is None else f"{r.detection_rate:.3f}"
        delay = "—" if r.delay_rows is None else str(r.delay_rows)
        mark = " (left out of the mean)" if r.name in exclude else ""
        lines.append(f"{r.name} | {r.rows} | {onset} | {r.false_alarms}/{r.normal_rows} | {rate} | {delay}{mark}")
    every = summarise(scored)
    kept = every.without(sorted(exclude))
    lines.append("")
    lines.append(f"false-alarm rate {every.false_alarm_rate:.2%} over {sum(r.normal_rows for r in scored)} normal rows")
    lines.append(f"mean detection rate {kept.mean_detection_rate:.3f} over {kept.faulty} faulty runs"
                 + (f" ({every.mean_detection_rate:.3f} over all {every.faulty})" if exclude else ""))
    delay = "—" if kept.mean_delay_rows is None else f"{kept.mean_delay_rows:.1f} rows"
    lines.append(f"faults caught {kept.caught} of {kept.faulty}, mean delay {delay}")
    lines.append("NAB-style (each fault a window from its onset to the run's end, threshold at the limit): "
                 + ", ".join(f"{PROFILE_LABELS.get(p, p)} {r.score:.2f}" for p, r in nab.items()))
    return "\n".join(lines)


def init_app(app: Flask) -> None:
    @app.cli.command("evaluate-runs")
    @click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--detector", type=click.Choice(sorted(MULTIVARIATE)), default="mspc", show_default=True)
    @click.option("--train", "train_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="a run of normal operation with the same columns: what the detector learns from")
    @click.option("--onset-row", type=click.IntRange(min=1), default=None,
                  help="the first faulty row (1-based) of every run without a label column")
    @click.option("--normal-run", "normal_runs", multiple=True, metavar="FILE",
                  help="a run that is normal throughout (repeatable)")
    @click.option("--label-column", default="label", show_default=True,
                  help="a 0/1 column marking faulty rows; its first 1 is the run's onset")
    @click.option("--exclude", multiple=True, metavar="RUN",
                  help="a run left out of the mean detection rate, e.g. a fault known to be invisible (repeatable)")
    @click.option("--alpha", type=click.FloatRange(min=1e-6, max=0.5), default=0.01, show_default=True,
                  help="mspc: the false-alarm rate its limits are set at, on held-back normal rows")
    @click.option("--seed", type=int, default=0, show_default=True, help="lstm: seed")
    @click.option("--epochs", type=click.IntRange(min=1, max=10_000), default=20, show_default=True,
                  help="lstm: training passes")
    @click.option("--smoothing", type=click.FloatRange(min=0.001, max=1.0), default=1.0, show_default=True,
                  help="lstm: weight of the newest error in the smoothed error it judges (1: none)")
    @click.option("--calibration-folds", type=click.IntRange(min=1, max=20), default=1, show_default=True,
                  help="lstm: read the threshold from every normal row, each judged by a model fitted without "
                       "its block (1: from the last 20 %% only)")
    @click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
    def evaluate_runs_command(runs, detector, train_path, onset_row, normal_runs, label_column, exclude, alpha,
                              seed, epochs, smoothing, calibration_folds, as_json):
        """Score a multivariate detector over RUNS, each normal until its fault starts.

        Prints the false-alarm rate (flagged normal rows of every run), each run's detection rate
        (flagged faulty rows) and delay (rows from the onset to the first flag), and a NAB-style score.
        """
        options = {"alpha": alpha, "seed": seed, "epochs": epochs, "smoothing": smoothing,
                   "calibration_folds": calibration_folds,
                   "progress": lambda epoch, total, loss: click.echo(f"{detector}: epoch {epoch}/{total}, "
                                                                    f"loss {loss:.5f}", err=True)}
        scored, nab = evaluate_runs(detector, train_path, list(runs), onset_row,
                                    set(normal_runs) | {Path(n).name for n in normal_runs}, label_column, options)
        exclude_set = {Path(e).stem for e in exclude}
        if as_json:
            every = summarise(scored)
            kept = every.without(sorted(exclude_set))
            click.echo(json.dumps({"detector": detector, "false_alarm_rate": every.false_alarm_rate,
                                   "mean_detection_rate": kept.mean_detection_rate,
                                   "mean_detection_rate_all": every.mean_detection_rate,
                                   "mean_delay_rows": kept.mean_delay_rows,
                                   "nab": {p: r.score for p, r in nab.items()},
                                   "runs": [r.__dict__ for r in scored]}, indent=2))
        else:
            click.echo(runs_table(scored, nab, exclude_set))

    @app.cli.command("evaluate")
    @click.argument("corpus_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
    @click.option("--labels", "labels_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  required=True, help="NAB label windows (combined_windows.json)")
    @click.option("--detector", "detectors", multiple=True, type=click.Choice(sorted(DETECTORS)),
                  help="a detector to run (repeat for several)")
    @click.option("--results", "results_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
                  help="score ready-made per-file CSVs (timestamp,anomaly_score) instead of running a detector")
    @click.option("--profiles", "profiles_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="NAB profiles.json (default: NAB v1.1's three profiles)")
    @click.option("--seed", type=int, help="seed for detectors that train (the LSTM): the same seed, the same scores")
    @click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
    def evaluate_command(corpus_dir, labels_path, detectors, results_dir, profiles_path, seed, as_json):
        """Score detectors on CORPUS_DIR's labelled files with NAB v1.1 (one configuration for all files)."""
        if not detectors and results_dir is None:
            raise click.UsageError("give at least one --detector, or --results DIR")
        try:
            labels = json.loads(labels_path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise click.BadParameter(f"{labels_path} is not JSON: {exc}", param_hint="--labels") from None
        profiles = NAB_PROFILES if profiles_path is None else json.loads(profiles_path.read_text(encoding="utf-8"))
        names = corpus_files(corpus_dir, labels)
        if not names:
            raise click.UsageError(f"no file named in {labels_path} was found under {corpus_dir}")
        runs = [(d, None) for d in detectors] + ([(results_dir.name, results_dir)] if results_dir else [])
        results = []
        for detector, ready in runs:
            started = time.perf_counter()

            def progress(done, total, name, detector=detector, started=started):
                click.echo(f"\r{detector}: {done}/{total} files, {time.perf_counter() - started:.0f} s", nl=False,
                           err=True)

            result = evaluate(detector, names, labels, profiles, corpus_dir=corpus_dir, results_dir=ready,
                              options={"seed": seed}, read=read_file, progress=progress)
            click.echo("", err=True)
            for name, why in result.failed.items():
                click.echo(f"{detector}: left out {name}: {why}", err=True)
            results.append(result)
        click.echo(json.dumps([r.as_dict() for r in results], indent=1) if as_json else table(results))
