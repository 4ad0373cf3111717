"""`flask init-db` and `flask score`: real files in, real files out, clear errors with exit code 2."""
from __future__ import annotations

import csv
import random

import pytest

from helpers.core.zscore import ZScoreDetector, z_to_score


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def series_csv(path, values):
    lines = ["timestamp,value"] + [f"2014-04-01 00:{i // 60:02d}:{i % 60:02d},{v}" for i, v in enumerate(values)]
    return write(path, "\n".join(lines) + "\n")


def test_init_db_creates_the_database(runner, tmp_path):
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0 and "database ready" in result.output
    assert (tmp_path / "test.db").exists()


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
