"""``flask evaluate``: NAB v1.1 scores of detectors on a labelled corpus, as a table or JSON."""
from __future__ import annotations

import json
import time
from pathlib import Path

import click
from flask import Flask

from helpers.cli.inputs import read_series
from helpers.core.evaluation.batch import DETECTORS
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


def init_app(app: Flask) -> None:
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
