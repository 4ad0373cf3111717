"""`flask evaluate`: NAB scores of a detector run over a corpus, or of ready-made score files."""
from __future__ import annotations

import json
import shutil

import pytest

from helpers.config import nab_corpus

CORPUS = nab_corpus()
needs_corpus = pytest.mark.skipif(not (CORPUS / "labels").is_dir(),
                                  reason=f"NAB corpus not found at {CORPUS} (set NAB_CORPUS)")


@needs_corpus
def test_ready_made_results_reproduce_the_published_score(runner):
    result = runner.invoke(args=["evaluate", str(CORPUS / "data"), "--labels",
                                 str(CORPUS / "labels" / "combined_windows.json"),
                                 "--results", str(CORPUS / "reference" / "numenta"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("["):])
    expected = json.loads((CORPUS / "reference" / "expected_scores.json").read_text())["reference_scores"]["numenta"]
    assert report[0]["files"] == 29 and report[0]["failed"] == {}
    for profile, score in report[0]["scores"].items():
        assert score == pytest.approx(expected[profile]["score"], abs=0.1)


@needs_corpus
def test_a_detector_runs_over_the_files_and_a_broken_file_is_reported_by_name(runner, tmp_path):
    labels = json.loads((CORPUS / "labels" / "combined_windows.json").read_text())
    chosen = ["artificialWithAnomaly/art_daily_jumpsup.csv", "artificialWithAnomaly/art_daily_nojump.csv"]
    for name in chosen:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(CORPUS / "data" / name, tmp_path / name)
    (tmp_path / chosen[1]).write_text("timestamp,value\n2014-04-01 00:00:00,oops\n")
    labels_path = tmp_path / "labels.json"
    labels_path.write_text(json.dumps({name: labels[name] for name in chosen}))
    result = runner.invoke(args=["evaluate", str(tmp_path), "--labels", str(labels_path), "--detector", "zscore"])
    assert result.exit_code == 0, result.output
    assert f"left out {chosen[1]}" in result.output and "'oops' is not a number" in result.output
    assert "1/2 files" in result.output and "2/2 files" in result.output
    table_row = next(line for line in result.output.splitlines() if line.startswith("zscore "))
    assert table_row.split("|")[-2].strip() == "1", "the readable file still counts"


def test_usage_errors(runner, tmp_path):
    labels = tmp_path / "labels.json"
    labels.write_text("{}")
    assert runner.invoke(args=["evaluate", str(tmp_path), "--labels", str(labels)]).exit_code == 2
    result = runner.invoke(args=["evaluate", str(tmp_path), "--labels", str(labels), "--detector", "zscore"])
    assert result.exit_code == 2 and "no file named" in result.output
    labels.write_text("not json")
    assert runner.invoke(args=["evaluate", str(tmp_path), "--labels", str(labels),
                               "--detector", "zscore"]).exit_code == 2


def test_the_bundled_examples_evaluate_without_the_corpus(runner):
    """A fresh clone has no ../shared: `flask evaluate` still runs end to end on examples/nab."""
    from helpers.core.evaluation.nab import examples as bundled
    from helpers.core.evaluation.nab.scorer import FileScores, score_corpus
    from helpers.runtime.jobs.evaluation import NAB_PROFILES

    root = bundled.EXAMPLES_DIR
    result = runner.invoke(args=["evaluate", str(root / "data"), "--labels", str(root / "labels.json"),
                                 "--results", str(root / "reference" / "numenta"), "--detector", "zscore",
                                 "--json"])
    assert result.exit_code == 0, result.output
    zscore, numenta = json.loads(result.stdout)
    assert zscore["detector"] == "zscore" and zscore["files"] == 5 and not zscore["failed"]
    files = [FileScores(e.name, bundled.load_series(e)[0], bundled.reference_scores(e, "numenta"))
             for e in bundled.examples().values()]
    labels = {e.name: e.windows for e in bundled.examples().values()}
    for profile, weights in NAB_PROFILES.items():
        assert numenta["scores"][profile] == pytest.approx(score_corpus(files, labels, weights).score)


def test_a_detector_that_fails_on_every_file_is_reported_not_a_crash(runner, tmp_path):
    (tmp_path / "broken.csv").write_text("timestamp,value\n2020-01-01 00:00:00,oops\n")
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"broken.csv": []}))
    result = runner.invoke(args=["evaluate", str(tmp_path), "--labels", str(labels), "--detector", "zscore"])
    assert result.exit_code == 0, result.output
    assert "left out broken.csv" in result.output and "nan" in result.output.lower()
