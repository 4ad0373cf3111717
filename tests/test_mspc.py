"""MSPC for a line: PCA T² and SPE with limits at a false-alarm rate, contributions, runs scored, the CLI."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from helpers.config import PROJECT_ROOT
from helpers.core.detectors.mspc import NotEnoughRows, PCAMonitor
from helpers.core.evaluation.batch import score_series
from helpers.core.evaluation.runs import onsets_from_labels, score_run, summarise

COLUMNS = ["flow", "pressure", "temperature", "vibration"]


def line(n, seed):
    """Four sensors: flow drives pressure (×2) and temperature (×−1); vibration is independent."""
    rng = np.random.default_rng(seed)
    flow = rng.normal(10.0, 1.0, n)
    return np.column_stack([flow, 2 * flow + rng.normal(0, 0.2, n), -flow + rng.normal(0, 0.2, n),
                            rng.normal(3.0, 0.5, n)])


def test_false_alarms_on_fresh_normal_rows_stay_near_the_chosen_rate():
    monitor = PCAMonitor(COLUMNS, alpha=0.02).fit(line(2000, 1))
    fresh = line(20_000, 2)
    t2, spe = monitor.statistics(fresh)
    rate = float(np.mean((t2 > monitor.t2_limit) | (spe > monitor.spe_limit)))
    assert 0.005 < rate < 0.05, rate


def test_limits_from_held_back_rows_hold_on_fresh_rows_where_limits_from_the_fitted_rows_do_not():
    """With many sensors and few normal rows the model fits its own rows closely: a limit read off them is
    too tight and alarms far more often than asked on fresh normal rows; the held-back limit does not."""
    rng = np.random.default_rng(3)
    mixing = rng.normal(size=(20, 20))
    normal, fresh = rng.normal(size=(80, 20)) @ mixing, rng.normal(size=(20_000, 20)) @ mixing
    monitor = PCAMonitor([f"s{i}" for i in range(20)], alpha=0.02).fit(normal)
    _, spe_fitted = monitor.statistics(normal)
    _, spe_fresh = monitor.statistics(fresh)
    naive = float(np.mean(spe_fresh > np.quantile(spe_fitted, 0.99)))
    held = float(np.mean(spe_fresh > monitor.spe_limit))
    assert naive > 3 * 0.01 and held < naive / 2, (naive, held)


def test_a_broken_correlation_alarms_on_spe_and_names_the_sensors_that_broke_it():
    monitor = PCAMonitor(COLUMNS).fit(line(1000, 4))
    normal_row = [10.0, 20.0, -10.0, 3.0]
    assert monitor.judge(normal_row).anomaly is False
    broken = monitor.judge([10.0, 24.0, -10.0, 3.0])  # pressure off its relation to flow
    assert broken.anomaly and broken.rule == "SPE"
    assert next(iter(broken.contributions)) == "pressure"
    assert abs(sum(broken.contributions.values()) - 1.0) < 1e-9
    assert broken.why().startswith("SPE beyond its limit") and "pressure" in broken.why()


def test_a_large_move_along_normal_variation_alarms_on_t2():
    monitor = PCAMonitor(COLUMNS, variance=0.99).fit(line(1000, 5))
    far = monitor.judge([18.0, 36.0, -18.0, 3.0])  # flow 8 σ high, the others following it
    assert far.anomaly and "T²" in far.rule
    assert set(list(far.contributions)[:3]) == {"flow", "pressure", "temperature"}


def test_one_sensor_is_judged_by_t2_alone():
    """With every direction in the model SPE is 0 by construction: no SPE limit, T² judges (a static z-score)."""
    rng = np.random.default_rng(13)
    monitor = PCAMonitor(["only"]).fit(rng.normal(5.0, 1.0, size=(500, 1)))
    assert monitor.spe_limit == float("inf") and monitor.components == 1
    assert monitor.judge([5.2]).anomaly is False
    far = monitor.judge([12.0])
    assert far.anomaly and far.rule == "T²" and far.contributions == {"only": 1.0}


def test_bad_training_data_is_refused_with_a_reason():
    with pytest.raises(NotEnoughRows, match="needs at least 20 normal rows, has 5"):
        PCAMonitor(COLUMNS).fit(line(5, 6))
    rows = line(100, 7)
    rows[40, 2] = np.nan
    with pytest.raises(ValueError, match="missing or infinite"):
        PCAMonitor(COLUMNS).fit(rows)
    with pytest.raises(ValueError, match="rows of 4 values"):
        PCAMonitor(COLUMNS).fit(line(100, 8)[:, :3])
    with pytest.raises(ValueError, match="alpha"):
        PCAMonitor(COLUMNS, alpha=0.0)


def test_the_batch_detector_is_causal_and_flags_a_fault_after_its_onset():
    rows = line(1200, 9)
    rows[900:, 1] += 3.0  # a step on pressure alone from row 900
    verdicts = list(score_series(rows.tolist(), "mspc", {"train_rows": 500}))
    flags = np.array([flag for _, flag in verdicts])
    assert not flags[:500].any()
    assert flags[900:].mean() > 0.9 and flags[500:900].mean() < 0.05
    changed = rows.copy()
    changed[1000:] = 0.0
    again = list(score_series(changed.tolist(), "mspc", {"train_rows": 500}))
    assert again[:1000] == verdicts[:1000]


def test_runs_are_scored_for_false_alarms_detection_and_delay():
    runs = [score_run("normal", [False] * 95 + [True] * 5, None),
            score_run("fault", [False] * 48 + [True] * 2 + [False] * 3 + [True] * 47, onset=50),
            score_run("missed", [False] * 100, onset=50)]
    summary = summarise(runs)
    assert summary.false_alarm_rate == pytest.approx(7 / 200)
    assert [r.detection_rate for r in runs[1:]] == [0.94, 0.0]
    assert [r.delay_rows for r in runs[1:]] == [3, None]
    assert summary.caught == 1 and summary.faulty == 2 and summary.mean_delay_rows == 3.0
    assert summary.without(["missed"]).mean_detection_rate == pytest.approx(0.94)
    assert onsets_from_labels({"a": [0, 0, 1, 1], "b": [0, 0]}) == {"a": 2, "b": None}


def write_csv(path: Path, rows, columns=COLUMNS, labels=None):
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["timestamp", *columns, *(["label"] if labels is not None else [])])
        for i, row in enumerate(rows):
            stamp = f"2024-01-{1 + i // 1440:02d} {(i // 60) % 24:02d}:{i % 60:02d}:00"
            writer.writerow([stamp, *(f"{v:.6f}" for v in row), *([labels[i]] if labels is not None else [])])


def test_flask_score_mspc_trains_on_a_reference_file_and_says_why(app, tmp_path):
    write_csv(tmp_path / "normal.csv", line(400, 10))
    test = line(300, 11)
    test[200:, 2] += 2.5  # temperature leaves its relation to flow
    write_csv(tmp_path / "test.csv", test)
    out = tmp_path / "out.csv"
    runner = app.test_cli_runner()
    result = runner.invoke(args=["score", "--detector", "mspc", "--train", str(tmp_path / "normal.csv"),
                                 str(tmp_path / "test.csv"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 300 and list(rows[0])[-3:] == ["score", "anomaly", "why"]
    flagged = [i for i, r in enumerate(rows) if r["anomaly"] == "1"]
    assert sum(i >= 200 for i in flagged) > 90 and sum(i < 200 for i in flagged) < 10
    assert rows[250]["why"].startswith("SPE beyond its limit") and "temperature" in rows[250]["why"].split(":")[1][:30]
    foreign = runner.invoke(args=["score", "--detector", "zscore", "--alpha", "0.05", str(tmp_path / "test.csv"),
                                  "-o", str(out)])
    assert foreign.exit_code == 2 and "--alpha applies to --detector mspc" in foreign.output
    write_csv(tmp_path / "other.csv", line(50, 12)[:, :3], columns=COLUMNS[:3])
    mismatch = runner.invoke(args=["score", "--detector", "mspc", "--train", str(tmp_path / "other.csv"),
                                   str(tmp_path / "test.csv"), "-o", str(out)])
    assert mismatch.exit_code == 2 and "test.csv's (flow, pressure, temperature, vibration)" in mismatch.output


def test_flask_evaluate_runs_prints_false_alarms_detection_and_delay(app, tmp_path):
    write_csv(tmp_path / "normal.csv", line(400, 20))
    write_csv(tmp_path / "quiet.csv", line(200, 21))
    fault = line(200, 22)
    fault[100:, 1] += 3.0
    write_csv(tmp_path / "step.csv", fault, labels=[0] * 100 + [1] * 100)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["evaluate-runs", "--train", str(tmp_path / "normal.csv"), "--normal-run",
                                 "quiet.csv", str(tmp_path / "quiet.csv"), str(tmp_path / "step.csv")])
    assert result.exit_code == 0, result.output
    assert "step | 200 | 101 |" in result.output and "faults caught 1 of 1" in result.output
    assert "false-alarm rate" in result.output and "NAB-style" in result.output
    unknown = runner.invoke(args=["evaluate-runs", "--train", str(tmp_path / "normal.csv"), str(tmp_path / "quiet.csv")])
    assert unknown.exit_code == 2 and "no label column and no --onset-row" in unknown.output


TEP = PROJECT_ROOT.parent / "shared" / "data" / "tep"


@pytest.mark.skipif(not (TEP / "normal.csv").is_file(), reason=f"no TEP data at {TEP}")
def test_on_tep_the_contributions_name_the_variables_the_step_faults_move():
    """The data's README names, per step fault, the variables that move most; they lead the contributions."""
    def read(name):
        with open(TEP / name) as fh:
            rows = list(csv.reader(fh))
        return rows[0][1:], np.array([[float(v) for v in r[1:]] for r in rows[1:]])

    columns, normal = read("normal.csv")
    monitor = PCAMonitor(columns).fit(normal)
    named = {"d01": {"xmeas_1", "xmv_3"}, "d02": {"xmeas_10", "xmv_6", "xmeas_34"}, "d04": {"xmv_10"},
             "d07": {"xmv_4"}}
    for run, variables in named.items():
        _, rows = read(f"{run}_te.csv")
        totals: dict[str, float] = {}
        for row in rows[160:]:
            for name, share in monitor.judge(row).contributions.items():
                totals[name] = totals.get(name, 0.0) + share
        top = sorted(totals, key=totals.get, reverse=True)[:3]
        assert variables & set(top[:1]) and variables <= set(top), (run, top)
