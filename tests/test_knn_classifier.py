"""The supervised kNN classifier: it recognises labelled incidents, is causal, saves and loads, and its CLI."""
from __future__ import annotations

import csv
import json
import math
import random

import numpy as np
import pytest

from helpers.core.detectors import knn_classifier
from helpers.core.detectors.contract import run
from helpers.core.detectors.knn_classifier import ALARM, KNNClassifier, ModelError


def labelled_series(n: int, seed: int, every: int = 120):
    """A noisy sine with an incident every ``every`` rows: a spike or a stall, its rows labelled 1.

    Returns the values, the labels and ``(kind, rows)`` per incident.
    """
    rng = random.Random(seed)
    values = [math.sin(2 * math.pi * i / 50) + rng.gauss(0, 0.05) for i in range(n)]
    labels = [0] * n
    incidents = []
    for number, start in enumerate(range(every // 2 + rng.randrange(20), n - 30, every)):
        if number % 2 == 0:       # a spike, labelled for the readings whose window sees it
            values[start] += rng.uniform(3.5, 5.0)
            rows = range(start, start + 3)
        else:                     # the line stalls mid-swing for 15 readings
            level = values[start]
            for i in range(start, start + 15):
                values[i] = level + rng.gauss(0, 0.05)
            rows = range(start + 4, start + 15)
        for i in rows:
            labels[i] = 1
        incidents.append(("spike" if number % 2 == 0 else "stall", list(rows)))
    return values, labels, incidents


def write_csv(path, values, labels=None, label_cells=None):
    lines = ["timestamp,value" + (",label" if labels is not None else "")]
    for i, v in enumerate(values):
        line = f"2024-01-01T00:{i // 60 % 60:02d}:{i % 60:02d},{v!r}"
        if labels is not None:
            line += "," + (label_cells[labels[i]] if label_cells else str(labels[i]))
        lines.append(line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def assert_incidents_found(flagged, incidents):
    """Every spike, and most stalls (one that stops at a crest looks like the crest for a while), are flagged."""
    found = {kind: [any(flagged[i] for i in rows) for k, rows in incidents if k == kind] for kind in ("spike", "stall")}
    assert all(found["spike"]) and sum(found["stall"]) >= 0.75 * len(found["stall"]), found


@pytest.fixture(scope="module")
def model():
    values, labels, _ = labelled_series(4000, seed=1, every=80)
    return knn_classifier.train([[v] for v in values], labels, ["value"], window=10, k=5)


def test_held_out_incidents_are_flagged_and_little_else(model):
    values, labels, incidents = labelled_series(2000, seed=2, every=110)
    scores = list(run(KNNClassifier(model), values))
    flagged = [s is not None and s >= ALARM for s in scores]
    assert_incidents_found(flagged, incidents)
    near = {i for _, rows in incidents for i in range(rows[0] - 5, rows[-1] + 15)}
    elsewhere = [flagged[i] for i in range(len(values)) if i not in near]
    assert sum(elsewhere) <= 0.01 * len(elsewhere)


def test_scores_are_none_while_the_window_fills_then_in_unit_range(model):
    det = KNNClassifier(model)
    scores = [det.update(math.sin(i / 8)) for i in range(30)]
    assert scores[:9] == [None] * 9 and all(0.0 <= s <= 1.0 for s in scores[9:])
    assert det.ready


def test_a_future_value_never_changes_a_past_score(model):
    values, _, _ = labelled_series(600, seed=3)
    changed = values[:300] + [v + 7.0 for v in values[300:]]
    assert list(run(KNNClassifier(model), values))[:300] == list(run(KNNClassifier(model), changed))[:300]
    assert model.score_rows([[v] for v in values])[:300] == list(run(KNNClassifier(model), values))[:300]


def test_several_columns_make_one_point():
    rng = random.Random(5)
    rows = [[math.sin(i / 5) + rng.gauss(0, 0.05), 100 + 10 * math.cos(i / 5)] for i in range(800)]
    labels = [0] * 800
    for start in range(50, 800, 80):
        rows[start][1] += 80   # only the second column (on its own scale) jumps
        labels[start] = 1
    det = KNNClassifier(knn_classifier.train(rows, labels, ["a", "b"], window=5, k=3))
    scores = [det.update(r) for r in ([math.sin(i / 5), 100 + 10 * math.cos(i / 5)] for i in range(40))]
    assert max(scores[4:]) < ALARM
    assert det.update([math.sin(8), 100 + 10 * math.cos(8) + 80]) >= ALARM
    with pytest.raises(ValueError, match="1 values for the model's 2 columns"):
        det.update(1.0)


def test_save_load_round_trip_gives_identical_scores(model, tmp_path):
    values, _, _ = labelled_series(500, seed=4)
    knn_classifier.save(model, tmp_path / "m")
    loaded = knn_classifier.load(tmp_path / "m")
    assert (loaded.window, loaded.k, loaded.columns) == (10, 5, ("value",))
    assert list(run(KNNClassifier(tmp_path / "m"), values)) == list(run(KNNClassifier(model), values))


def test_a_corrupt_or_mismatched_model_is_refused(model, tmp_path):
    directory = knn_classifier.save(model, tmp_path / "m")
    meta = json.loads((directory / "meta.json").read_text())
    arrays = (directory / "model.npz").read_bytes()
    (directory / "model.npz").write_bytes(arrays[:-10] + b"0123456789")
    with pytest.raises(ModelError, match="checksum does not match"):
        knn_classifier.load(directory)
    (directory / "model.npz").write_bytes(arrays)
    (directory / "meta.json").write_text(json.dumps({**meta, "window": 12}))
    with pytest.raises(ModelError, match="do not match meta.json"):
        knn_classifier.load(directory)
    (directory / "meta.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        knn_classifier.load(directory)
    (directory / "meta.json").write_text(json.dumps({**meta, "format": "something-else"}))
    with pytest.raises(ModelError, match="not a kNN classifier model"):
        knn_classifier.load(directory)
    with pytest.raises(ModelError, match="no meta.json"):
        knn_classifier.load(tmp_path / "nowhere")


def test_train_knn_then_score_knn(runner, tmp_path):
    values, labels, _ = labelled_series(3000, seed=6, every=80)
    source = write_csv(tmp_path / "train.csv", values, labels, {0: "normal", 1: "anomaly"})
    result = runner.invoke(args=["train-knn", source, "--output", str(tmp_path / "model"), "--k", "5",
                                 "--window", "10"])
    assert result.exit_code == 0, result.output
    assert f"3000 rows, {sum(labels)} anomalous" in result.output
    assert "accuracy" in result.output and "precision" in result.output and "recall" in result.output
    held_values, held_labels, held_incidents = labelled_series(1000, seed=7)
    out = tmp_path / "out.csv"
    result = runner.invoke(args=["score-knn", write_csv(tmp_path / "new.csv", held_values, held_labels),
                                 "--model", str(tmp_path / "model"), "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["timestamp", "value", "score", "anomaly"] and len(rows) == 1000
    assert [float(r["value"]) for r in rows] == held_values
    expected = list(run(KNNClassifier(tmp_path / "model"), held_values))
    assert [float(r["score"]) for r in rows] == pytest.approx([s or 0.0 for s in expected], abs=1e-6)
    assert_incidents_found([r["anomaly"] == "1" for r in rows], held_incidents)


GOOD = "timestamp,value,label\n" + "".join(f"2024-01-01 00:00:{i:02d},{math.sin(i)},{int(i == 30)}\n"
                                           for i in range(40))


@pytest.mark.parametrize("content, message", [
    ("", "the file is empty"),
    ("timestamp,value\n2024-01-01,1\n", "no label column"),
    (GOOD.replace(",0\n", ",maybe\n", 1), "line 2: label 'maybe' is not one of 0, 1, false, true, normal, anomaly"),
    (GOOD.replace(",1\n", ",0\n"), "no anomalous row to learn from"),
    ("timestamp,value,label\n" + "".join(f"2024-01-01,{i},{i % 2}\n" for i in range(8)),
     "8 rows are too few for window 10 and k 5: at least 14 are needed"),
    (GOOD.replace(f"{math.sin(3)}", "abc"), "line 5: value 'abc' is not a number"),
    (GOOD.replace(",0\n", ",0,7\n", 1), "line 2: 4 fields where the header has 3"),
])
def test_train_knn_bad_input_exits_2_with_a_clear_message(runner, tmp_path, content, message):
    source = tmp_path / "bad.csv"
    source.write_text(content, encoding="utf-8")
    result = runner.invoke(args=["train-knn", str(source), "--output", str(tmp_path / "model")])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "model").exists(), "nothing saved"


def test_score_knn_refuses_a_bad_model_or_missing_columns(runner, tmp_path, model):
    source = write_csv(tmp_path / "in.csv", [1.0, 2.0, 3.0])
    out = tmp_path / "out.csv"
    result = runner.invoke(args=["score-knn", source, "--model", str(tmp_path / "none"), "-o", str(out)])
    assert result.exit_code == 2 and "no meta.json" in result.output
    other = knn_classifier.Model(model.window, model.k, ("pressure",), model.centre, model.scale,
                                 model.points, model.labels)
    knn_classifier.save(other, tmp_path / "m")
    result = runner.invoke(args=["score-knn", source, "--model", str(tmp_path / "m"), "-o", str(out)])
    assert result.exit_code == 2 and "no column(s) pressure" in result.output
    assert not out.exists()


def test_train_rejects_one_class_and_keeps_labels_aligned():
    with pytest.raises(ValueError, match="no normal row"):
        knn_classifier.train([[float(i)] for i in range(20)], [1] * 20, ["value"], window=3, k=2)
    model = knn_classifier.train([[float(i)] for i in range(20)], [0] * 19 + [1], ["value"], window=3, k=2)
    assert len(model.points) == len(model.labels) == 18 and model.labels[-1] == 1
    assert np.isfinite(model.points).all()
