"""`flask init-db` and `flask score`: real files in, real files out, clear errors with exit code 2."""
from __future__ import annotations

import csv
import math
import random

import pytest
from sqlalchemy import inspect

from helpers.core.detectors.zscore import ZScoreDetector, z_to_score
from helpers.storage.db import db


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def series_csv(path, values):
    lines = ["timestamp,value"] + [f"2014-04-01 00:{i // 60:02d}:{i % 60:02d},{v}" for i, v in enumerate(values)]
    return write(path, "\n".join(lines) + "\n")


def test_init_db_creates_the_database(app, runner, tmp_path):
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0 and "database ready" in result.output
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        assert (tmp_path / "test.db").exists()
    with app.app_context():
        assert {"readings", "sensors", "settings"} <= set(inspect(db.engine).get_table_names())


def test_score_writes_every_row_in_order_with_causal_scores(runner, tmp_path):
    rng = random.Random(1)
    values = [round(10 + rng.gauss(0, 1), 4) for _ in range(200)]
    values[150] = 30.0
    source = series_csv(tmp_path / "in.csv", values)
    out = tmp_path / "out.csv"
    result = runner.invoke(args=["score", source, "--detector", "zscore", "--output", str(out),
                                 "--threshold", "3", "--model-size", "50"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert [r.keys() for r in rows][0] == {"timestamp", "value", "score", "anomaly"}
    assert [float(r["value"]) for r in rows] == values
    assert all(float(r["score"]) == 0.0 and r["anomaly"] == "0" for r in rows[:50])
    assert rows[150]["anomaly"] == "1" and float(rows[150]["score"]) > 0.99
    # The very detector class the sampler uses, fed the same values, gives the same scores.
    det = ZScoreDetector(model_size=50, threshold=3.0)
    expected = [z_to_score(det.update(v).z) for v in values]
    assert [float(r["score"]) for r in rows] == pytest.approx(expected, abs=1e-6)


def test_score_is_causal_future_rows_do_not_change_past_scores(runner, tmp_path):
    rng = random.Random(2)
    values = [10 + rng.gauss(0, 1) for _ in range(300)]
    short, full = tmp_path / "short.csv", tmp_path / "full.csv"
    runner.invoke(args=["score", series_csv(tmp_path / "a.csv", values[:200]), "-o", str(short)])
    runner.invoke(args=["score", series_csv(tmp_path / "b.csv", values[:150] + [99.0] * 150), "-o", str(full)])
    assert short.read_text().splitlines()[:151] == full.read_text().splitlines()[:151]


def test_score_reads_the_nab_format(runner, tmp_path):
    source = write(tmp_path / "nab.csv", "timestamp,value\n2014-04-01 00:00:00,1.5\n2014-04-01 00:05:00,2\n")
    out = tmp_path / "out.csv"
    assert runner.invoke(args=["score", source, "-o", str(out)]).exit_code == 0
    assert out.read_text().splitlines()[1].startswith("2014-04-01 00:00:00,1.5,0.000000,0")


@pytest.mark.parametrize("content, message", [
    ("", "empty"),
    ("timestamp,value\n", "no data rows"),
    ("time,reading\n1,2\n", "missing column(s) timestamp, value"),
    ("timestamp\n1\n", "missing column(s) value"),
    ("timestamp,value\n2014-04-01,1\n2014-04-02,abc\n", "line 3: value 'abc' is not a number"),
    ("timestamp,value\n2014-04-01,\n", "line 2: value '' is not a number"),
    ("timestamp,value\n2014-04-01,nan\n", "line 2: value 'nan' is not a finite number"),
    ("timestamp,value\n2014-04-01,inf\n", "not a finite number"),
])
def test_score_bad_input_exits_2_with_a_clear_message(runner, tmp_path, content, message):
    out = tmp_path / "out.csv"
    result = runner.invoke(args=["score", write(tmp_path / "bad.csv", content), "-o", str(out)])
    assert result.exit_code == 2
    assert message in result.output
    assert not out.exists(), "nothing half-written"


def test_score_missing_file_and_bad_options_exit_2(runner, tmp_path):
    assert runner.invoke(args=["score", str(tmp_path / "none.csv"), "-o", str(tmp_path / "o.csv")]).exit_code == 2
    good = series_csv(tmp_path / "in.csv", [1.0, 2.0])
    for bad in (["--threshold", "-1"], ["--model-size", "1"], ["--detector", "magic"]):
        result = runner.invoke(args=["score", good, "-o", str(tmp_path / "o.csv"), *bad])
        assert result.exit_code == 2, bad


# The lstm detector: a tiny model, few epochs, just enough rows (time_steps 5 needs 270 to train).
LSTM_FAST = ["--detector", "lstm", "--time-steps", "5", "--epochs", "2", "--seed", "3"]


def waves_csv(path, rows=400, header="timestamp,a,b", sep=",", decimal=".", opposite_from=None):
    """Two sensors that move together (the second one against the first from row ``opposite_from``)."""
    lines = [header]
    for i in range(rows):
        a = math.sin(2 * math.pi * i / 20)
        b = -a if opposite_from is not None and i >= opposite_from else a
        cells = [f"2024-01-01 00:{i // 60:02d}:{i % 60:02d}", f"{a:.4f}", f"{b + 0.01 * math.cos(i):.4f}"]
        lines.append(sep.join(cell.replace(".", decimal) if n else cell for n, cell in enumerate(cells)))
    return write(path, "\n".join(lines) + "\n")


def run_lstm(runner, source, out, *extra):
    result = runner.invoke(args=["score", source, "-o", str(out), *LSTM_FAST, *extra])
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(out.open()))


def test_lstm_scores_several_columns_with_one_model_after_its_training_rows(runner, tmp_path):
    rows = run_lstm(runner, waves_csv(tmp_path / "in.csv", opposite_from=360), tmp_path / "out.csv",
                    "--train-rows", "300")
    assert list(rows[0]) == ["timestamp", "a", "b", "score", "anomaly", "why"] and len(rows) == 400
    assert rows[0]["timestamp"] == "2024-01-01 00:00:00" and float(rows[1]["a"]) == 0.309
    assert all(r["score"] == "0.000000" and r["anomaly"] == "0" for r in rows[:300])
    assert all(0.0 < float(r["score"]) < 1.0 for r in rows[300:])
    assert all((float(r["score"]) > 0.5) == (r["anomaly"] == "1") for r in rows[300:]), "0.5 is the threshold"
    assert sum(r["anomaly"] == "1" for r in rows[360:]) > sum(r["anomaly"] == "1" for r in rows[300:360])
    # Each flag names the sensors whose reconstruction error drove it; unflagged rows say nothing.
    flagged = [r for r in rows[300:] if r["anomaly"] == "1"]
    assert flagged and all(r["why"].startswith("error ") and " a " in r["why"] + " " and "b " in r["why"]
                           for r in flagged)
    assert all(r["why"] == "" for r in rows if r["anomaly"] == "0")


def test_lstm_reads_semicolons_decimal_commas_and_a_datetime_column(runner, tmp_path):
    plain = run_lstm(runner, waves_csv(tmp_path / "a.csv", rows=1800), tmp_path / "a_out.csv")
    source = waves_csv(tmp_path / "b.csv", rows=1800, header="datetime;a;b", sep=";", decimal=",")
    assert "0,309" in open(source).read()
    assert run_lstm(runner, source, tmp_path / "b_out.csv") == plain, "the same numbers, the same scores"
    assert sum(r["score"] == "0.000000" for r in plain) == 270, "15 % of the rows train by default"


def test_lstm_one_value_column_keeps_the_four_zscore_columns(runner, tmp_path):
    source = write(tmp_path / "in.csv", "time,temperature,note\n" + "".join(
        f"{i},{20 + math.sin(i / 3):.4f},ok\n" for i in range(300)))
    result = runner.invoke(args=["score", source, "-o", str(tmp_path / "out.csv"), *LSTM_FAST,
                                 "--train-rows", "280"])
    assert result.exit_code == 0, result.output
    assert "ignoring non-numeric column(s) note" in result.output
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0] == "timestamp,value,score,anomaly" and len(lines) == 301 and lines[1].startswith("0,20.0,")


def test_lstm_per_column_trains_one_model_per_column(runner, tmp_path):
    source = waves_csv(tmp_path / "in.csv")
    rows = run_lstm(runner, source, tmp_path / "out.csv", "--per-column", "--train-rows", "300")
    assert list(rows[0]) == ["timestamp", "a", "b", "a_score", "a_anomaly", "b_score", "b_anomaly"]
    assert len(rows) == 400 and rows[299]["a_score"] == "0.000000" and float(rows[300]["b_score"]) > 0
    assert [r["a_score"] for r in rows] != [r["b_score"] for r in rows]


def test_lstm_with_a_seed_repeats_exactly_and_is_causal(runner, tmp_path):
    source = waves_csv(tmp_path / "in.csv")
    first = (tmp_path / "1.csv", tmp_path / "2.csv")
    for out in first:
        run_lstm(runner, source, out, "--train-rows", "300")
    assert first[0].read_text() == first[1].read_text()
    changed_future = waves_csv(tmp_path / "future.csv", opposite_from=350)
    run_lstm(runner, changed_future, tmp_path / "3.csv", "--train-rows", "300")
    assert (tmp_path / "3.csv").read_text().splitlines()[:351] == first[0].read_text().splitlines()[:351]


@pytest.mark.parametrize("rows, extra, message", [
    (200, [], "training needs at least 270 readings"),
    (400, ["--train-rows", "100"], "training on the first 100 of 400 rows"),
    (400, ["--train-rows", "400"], "leaves none to score"),
])
def test_lstm_too_few_rows_to_train_exits_2(runner, tmp_path, rows, extra, message):
    out = tmp_path / "out.csv"
    result = runner.invoke(args=["score", waves_csv(tmp_path / "in.csv", rows), "-o", str(out), *LSTM_FAST, *extra])
    assert result.exit_code == 2 and message in result.output
    assert not out.exists(), "nothing half-written"


@pytest.mark.parametrize("content, message", [
    ("", "empty"),
    ("when,value\n1,2\n", "no time column; expected one named timestamp, datetime or time"),
    ("timestamp,label\n1,x\n", "no numeric column besides timestamp"),
    ("timestamp,a\n1,2\n2,abc\n", "line 3: a 'abc' is not a number"),
    ("timestamp;a\n1;2\n2;inf\n", "line 3: a 'inf' is not a finite number"),
    ("timestamp,a,b\n1,2,3\n2,3\n", "line 3: 2 fields where the header has 3"),
])
def test_lstm_bad_input_exits_2_with_a_clear_message(runner, tmp_path, content, message):
    out = tmp_path / "out.csv"
    result = runner.invoke(args=["score", write(tmp_path / "bad.csv", content), "-o", str(out), *LSTM_FAST])
    assert result.exit_code == 2 and message in result.output
    assert not out.exists()


@pytest.mark.parametrize("args", [["--detector", "lstm", "--threshold", "2"], ["--per-column"],
                                  ["--detector", "zscore", "--train-rows", "10"]])
def test_options_of_the_other_detector_are_refused(runner, tmp_path, args):
    result = runner.invoke(args=["score", series_csv(tmp_path / "in.csv", [1.0] * 400), "-o", str(tmp_path / "o.csv"),
                                 *args])
    assert result.exit_code == 2 and "applies to --detector" in result.output


def test_lstm_with_its_likelihood_scores_one_series_and_refuses_too_few_rows(runner, tmp_path):
    # 300 rows train the model, the likelihood learns from the next 600; the jump comes after.
    values = [math.sin(2 * math.pi * i / 20) for i in range(1000)] + [3.0] * 20 + \
             [math.sin(2 * math.pi * i / 20) for i in range(80)]
    out = tmp_path / "o.csv"
    result = runner.invoke(args=["score", series_csv(tmp_path / "in.csv", values), "-o", str(out),
                                 "--detector", "lstm+likelihood", "--time-steps", "5", "--epochs", "2", "--seed", "3",
                                 "--train-rows", "300"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["timestamp", "value", "score", "anomaly"] and len(rows) == 1100
    assert any(r["anomaly"] == "1" for r in rows[1000:1020])
    short = runner.invoke(args=["score", series_csv(tmp_path / "s.csv", values[:50]), "-o", str(out),
                                "--detector", "lstm+likelihood", "--time-steps", "5", "--epochs", "2"])
    assert short.exit_code == 2 and "rows" in short.output
