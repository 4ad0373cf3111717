"""The LSTM autoencoder detector, with real torch: what it catches that the z-score cannot, and its contracts.

Models are tiny and trained for a few epochs, shared per module, so the file runs in seconds.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from helpers.core.lstm.compute import pick_device
from helpers.core.lstm.persistence import ModelFileError, load, save
from helpers.core.lstm.scorer import LSTMScorer, error_to_score
from helpers.core.lstm.trainer import train
from helpers.core.lstm.windows import NotEnoughDataError, minimum_readings
from helpers.core.detectors.zscore import ZScoreDetector

PERIOD = 20
STEPS = 15
SMALL = {"time_steps": STEPS, "hidden": 16, "epochs": 8, "seed": 1, "device": "cpu"}
TRAIN_N = 800
SEGMENT = slice(300, 360)  # the injected stretch inside the 600 readings after training


def wave(n, start=0, period=PERIOD):
    return np.sin(2 * np.pi * np.arange(start, start + n) / period)


def noisy(values, seed):
    return values + 0.05 * np.random.default_rng(seed).normal(size=np.shape(values))


@pytest.fixture(scope="module")
def normal():
    return noisy(wave(TRAIN_N), seed=5)


@pytest.fixture(scope="module")
def trained(normal):
    return train(normal, **SMALL)


@pytest.fixture(scope="module")
def paired_normal():
    """Two sensors of one line that move together (say a motor's current and its temperature)."""
    return np.column_stack([noisy(wave(TRAIN_N), seed=6), noisy(wave(TRAIN_N), seed=7)])


@pytest.fixture(scope="module")
def paired_trained(paired_normal):
    return train(paired_normal, **SMALL)


def lstm_flags(model, history, test):
    """Flags for ``test``, the scorer warmed up on the end of ``history`` as it would be live."""
    scorer = LSTMScorer(model)
    scorer.score_series(history[-(model.time_steps - 1):])
    return np.array([v.anomaly for v in scorer.score_series(test)])


def zscore_flags(history, test):
    detector = ZScoreDetector()
    for x in history:
        detector.update(x)
    return np.array([detector.update(x).anomaly for x in test])


def split_flags(flags):
    """Flags of the readings whose window touches the segment, and of all the others."""
    touched = slice(SEGMENT.start, SEGMENT.stop + STEPS - 1)
    return flags[touched], np.concatenate([flags[:touched.start], flags[touched.stop:]])


@pytest.mark.parametrize("shape", ["cycle doubles its speed", "sensor stops oscillating"])
def test_catches_a_shape_change_inside_the_normal_range_that_the_zscore_misses(trained, normal, shape):
    test = wave(600, TRAIN_N)
    test[SEGMENT] = wave(60, 1100, PERIOD / 2) if shape == "cycle doubles its speed" else 0.0
    test = noisy(test, seed=8)
    assert test.min() > normal.min() - 0.1 and test.max() < normal.max() + 0.1, "every value looks normal"

    inside, outside = split_flags(lstm_flags(trained, normal, test))
    assert inside.mean() >= 0.75, f"LSTM caught only {inside.sum()} of {len(inside)}"
    assert outside.mean() <= 0.05, f"LSTM false alarms: {outside.sum()} of {len(outside)}"
    assert not zscore_flags(normal, test)[SEGMENT].any(), "the z-score sees only levels"


def test_multivariate_catches_two_sensors_that_stop_moving_together(paired_trained, paired_normal):
    test = np.column_stack([wave(600, TRAIN_N), wave(600, TRAIN_N)])
    test[SEGMENT, 1] *= -1  # starts and ends at a zero crossing: no jump, each sensor alone still a clean wave
    test = noisy(test, seed=9)

    inside, outside = split_flags(lstm_flags(paired_trained, paired_normal, test))
    assert inside.mean() >= 0.75, f"LSTM caught only {inside.sum()} of {len(inside)}"
    assert outside.mean() <= 0.05, f"LSTM false alarms: {outside.sum()} of {len(outside)}"
    for sensor in (0, 1):
        assert not zscore_flags(paired_normal[:, sensor], test[:, sensor])[SEGMENT].any()


@pytest.mark.parametrize("model_name, data_name", [("trained", "normal"), ("paired_trained", "paired_normal")])
def test_update_one_by_one_equals_the_batched_series_exactly(request, model_name, data_name):
    model, data = request.getfixturevalue(model_name), request.getfixturevalue(data_name)
    values = np.concatenate([data[:300], data[:40] * 3])
    one_by_one = LSTMScorer(model)
    live = [one_by_one.update(x) for x in values]
    assert live[:STEPS - 1] == [(None, False)] * (STEPS - 1) and live[STEPS - 1].error is not None
    assert LSTMScorer(model).score_series(values) == live
    # Batches of any size, mixed with single updates, carry the window across.
    mixed = LSTMScorer(model)
    pieces = mixed.score_series(values[:3]) + [mixed.update(values[3])] + mixed.score_series(values[4:200])
    assert pieces + mixed.score_series(values[200:]) == live
    # torch rounds the last rows of a batch differently unless padded: every batch length must agree.
    for length in range(STEPS, STEPS + 40):
        assert LSTMScorer(model).score_series(values[:length]) == live[:length], length


def test_future_readings_do_not_change_past_scores(trained, normal):
    past = normal[:400]
    alone = LSTMScorer(trained).score_series(past)
    with_future = LSTMScorer(trained).score_series(np.concatenate([past, np.full(100, 40.0)]))
    assert with_future[:400] == alone
    assert all(v.anomaly for v in with_future[400:])


def test_seeded_training_is_deterministic_and_an_unseeded_run_records_its_seed(normal):
    settings = dict(SMALL, epochs=2)
    first, second = train(normal[:400], **settings), train(normal[:400], **settings)
    assert first.loss_curve == second.loss_curve
    assert np.array_equal(first.validation_errors, second.validation_errors)
    for name, tensor in first.module.state_dict().items():
        assert torch.equal(tensor, second.module.state_dict()[name]), name
    other = train(normal[:400], **dict(settings, seed=2))
    assert other.loss_curve != first.loss_curve
    drawn = train(normal[:400], **dict(settings, seed=None))
    again = train(normal[:400], **dict(settings, seed=drawn.parameters["seed"]))
    assert again.loss_curve == drawn.loss_curve


def test_training_leaves_torch_settings_as_it_found_them(normal):
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    seen = []
    train(normal[:400], **dict(SMALL, epochs=2), progress=lambda *args: seen.append(args))
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == deterministic
    assert [(epoch, total) for epoch, total, _ in seen] == [(1, 2), (2, 2)]
    assert all(loss > 0 for *_, loss in seen)


def test_threshold_rule_changes_without_retraining(trained):
    errors = trained.validation_errors
    assert np.all(np.diff(errors) >= 0), "kept sorted"
    assert trained.threshold() == pytest.approx(np.percentile(errors, 99.0))
    assert trained.threshold(95.0) < trained.threshold(99.0) <= trained.threshold(100.0) == errors[-1]
    assert trained.threshold(99.0, ratio=1.5) == pytest.approx(1.5 * trained.threshold(99.0))
    assert trained.percentile_of(trained.threshold(97.5)) == pytest.approx(97.5)
    assert trained.percentile_of(errors[-1] * 10) == 100.0 and trained.percentile_of(0.0) == 0.0
    before = LSTMScorer(trained).threshold
    trained.set_threshold_rule(90.0, 2.0)
    try:
        assert LSTMScorer(trained).threshold == pytest.approx(2.0 * np.percentile(errors, 90.0)) != before
    finally:
        trained.set_threshold_rule(99.0, 1.0)


def test_score_maps_the_error_to_0_1_with_the_threshold_at_one_half():
    assert error_to_score(None, 0.2) == 0.0 and error_to_score(0.0, 0.2) == 0.0
    assert error_to_score(0.2, 0.2) == 0.5
    scores = [error_to_score(e, 0.2) for e in (0.01, 0.1, 0.3, 2.0, 1e6)]
    assert scores == sorted(scores) and all(0 < s < 1 for s in scores)


def test_save_and_load_give_identical_scores_and_keep_the_description(trained, normal, tmp_path):
    save(trained, tmp_path / "model", training_range={"from": "2024-01-01", "to": "2024-01-08"})
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["meta.json", "model.pt"]
    loaded = load(tmp_path / "model")
    values = np.concatenate([normal[:200], normal[:50] * 2])
    assert LSTMScorer(loaded).score_series(values) == LSTMScorer(trained).score_series(values)
    assert loaded.threshold() == trained.threshold()
    assert loaded.loss_curve == trained.loss_curve and loaded.parameters == trained.parameters
    assert np.array_equal(loaded.validation_errors, trained.validation_errors)
    assert loaded.training_range == {"from": "2024-01-01", "to": "2024-01-08"}
    meta = json.loads((tmp_path / "model" / "meta.json").read_text())
    assert meta["format_version"] == 1 and meta["torch_version"] == torch.__version__
    assert meta["n_features"] == 1 and meta["time_steps"] == STEPS and meta["hidden"] == 16
    assert meta["threshold"] == {"percentile": 99.0, "ratio": 1.0} and meta["created"]


def _truncate_model(folder):
    data = (folder / "model.pt").read_bytes()
    (folder / "model.pt").write_bytes(data[: len(data) // 2])


def _garbage_model_with_matching_checksum(folder):
    garbage = b"not a torch file at all"
    (folder / "model.pt").write_bytes(garbage)
    meta = json.loads((folder / "meta.json").read_text())
    meta["model_sha256"] = hashlib.sha256(garbage).hexdigest()
    (folder / "meta.json").write_text(json.dumps(meta))


def _edit_meta(change):
    def edit(folder):
        meta = json.loads((folder / "meta.json").read_text())
        change(meta)
        (folder / "meta.json").write_text(json.dumps(meta))
    return edit


@pytest.mark.parametrize("damage, file, message", [
    (lambda f: (f / "meta.json").unlink(), "meta.json", "missing"),
    (lambda f: (f / "model.pt").unlink(), "model.pt", "missing"),
    (_truncate_model, "model.pt", "truncated or changed"),
    (_garbage_model_with_matching_checksum, "model.pt", "not usable weights"),
    (lambda f: (f / "meta.json").write_text((f / "meta.json").read_text()[:200]), "meta.json", "not valid JSON"),
    (lambda f: (f / "meta.json").write_bytes(b"\xff\xfe\x00garbage"), "meta.json", "cannot be read"),
    (_edit_meta(lambda m: m.pop("time_steps")), "meta.json", "lacks 'time_steps'"),
    (_edit_meta(lambda m: m.update(hidden="32")), "meta.json", "bad (not int) 'hidden'"),
    (_edit_meta(lambda m: m.update(format_version=2)), "meta.json", "format version 2"),
    (_edit_meta(lambda m: m.update(hidden=8)), "model.pt", "not usable weights"),
    (_edit_meta(lambda m: m.update(threshold={"percentile": 150, "ratio": 1})), "meta.json", "percentile"),
])
def test_damaged_model_files_raise_a_clear_model_file_error(trained, tmp_path, damage, file, message):
    folder = save(trained, tmp_path / "model")
    damage(folder)
    with pytest.raises(ModelFileError) as caught:
        load(folder)
    assert str(folder / file) in str(caught.value) and message in str(caught.value)
    assert caught.value.__context__ is None or caught.value.__suppress_context__, "no raw torch/json traceback"


def test_a_folder_without_a_model_is_a_model_file_error(tmp_path):
    with pytest.raises(ModelFileError, match="meta.json: missing"):
        load(tmp_path / "nothing here")


@pytest.mark.parametrize("settings, message", [
    ({"time_steps": 1}, "time_steps must be at least 2"),
    ({"percentile": 0}, "percentile must be in (0, 100]"),
    ({"percentile": 100.5}, "percentile must be in (0, 100]"),
    ({"ratio": 0}, "ratio must be a finite number above 0"),
    ({"ratio": -1}, "ratio must be a finite number above 0"),
    ({"validation_fraction": 1.0}, "validation_fraction must be between 0 and 1"),
    ({"epochs": 0}, "epochs must be at least 1"),
    ({"device": "tpu"}, "device must be one of auto, cpu, cuda"),
])
def test_bad_settings_are_refused_before_training(normal, settings, message):
    with pytest.raises(ValueError) as caught:
        train(normal, **dict(SMALL, **settings))
    assert message in str(caught.value)


def test_nan_in_training_data_and_too_little_data_are_clear_errors(normal):
    broken = normal.copy()
    broken[123] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite number in training values \(the first at row 123\)"):
        train(broken, **SMALL)
    needed = minimum_readings(STEPS, 0.2)
    assert needed == 320
    with pytest.raises(NotEnoughDataError, match=f"at least {needed} readings .* got {needed - 1}"):
        train(normal[:needed - 1], **SMALL)


def test_bad_threshold_rules_and_readings_are_refused(trained):
    for percentile in (0, -5, 101):
        with pytest.raises(ValueError, match="percentile"):
            trained.threshold(percentile)
    with pytest.raises(ValueError, match="ratio"):
        trained.set_threshold_rule(99.0, 0.0)
    scorer = LSTMScorer(trained)
    with pytest.raises(ValueError, match="expects 1 value"):
        scorer.update([1.0, 2.0])
    with pytest.raises(ValueError, match="NaN or infinite"):
        scorer.update(float("nan"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_cuda_without_a_gpu_is_an_error_not_a_silent_cpu_run():
    assert pick_device("auto").type == "cpu"
    with pytest.raises(ValueError, match="no CUDA GPU"):
        pick_device("cuda")


# --- a smoothed error with a threshold calibrated on held-out normal windows ---------------------------------------

@pytest.fixture(scope="module")
def smoothed(normal):
    return train(normal, **SMALL, smoothing=0.2)


def test_the_smoothed_error_is_judged_and_scores_the_same_one_by_one_and_batched(smoothed, normal):
    assert smoothed.smoothing == 0.2 and smoothed.parameters["smoothing"] == 0.2
    test = noisy(wave(300, start=TRAIN_N), seed=9)
    batched = LSTMScorer(smoothed).score_series(test)
    one_by_one = LSTMScorer(smoothed)
    assert [one_by_one.update(x) for x in test] == batched
    raw = LSTMScorer(train(normal, **SMALL)).score_series(test)
    raw_errors = np.array([v.error for v in raw[STEPS:]])
    smooth_errors = np.array([v.error for v in batched[STEPS:]])
    assert smooth_errors.std() < raw_errors.std()  # the same model's errors, smoothed


def test_false_alarms_on_fresh_normal_data_stay_near_the_calibrated_rate(smoothed):
    fresh = noisy(wave(4000, start=TRAIN_N), seed=10)
    flags = np.array([v.anomaly for v in LSTMScorer(smoothed).score_series(fresh)])
    assert flags.mean() < 0.05  # the threshold sits at the 99th percentile of held-out smoothed errors


def test_the_smoothed_model_still_catches_a_shape_change_and_names_the_sensor(paired_normal):
    model = train(paired_normal, **SMALL, smoothing=0.3)
    test = np.column_stack([noisy(wave(600, start=TRAIN_N), seed=11), noisy(wave(600, start=TRAIN_N), seed=12)])
    test[SEGMENT, 1] = test[SEGMENT.start, 1]  # the second sensor sticks
    flags = lstm_flags(model, paired_normal, test)
    inside, outside = split_flags(flags)
    assert inside.mean() > 0.5 and outside.mean() < 0.05
    scorer = LSTMScorer(model)
    shares = scorer.sensor_shares(test[SEGMENT.start + 20 - STEPS + 1:SEGMENT.start + 21])
    assert shares.argmax() == 1 and shares.sum() == pytest.approx(1.0)


def test_smoothing_outside_0_1_is_refused(normal):
    with pytest.raises(ValueError, match="smoothing must be in"):
        train(normal, **SMALL, smoothing=0.0)


def test_a_saved_smoothed_model_loads_with_its_smoothing(smoothed, normal, tmp_path):
    save(smoothed, tmp_path / "m")
    again = load(tmp_path / "m")
    test = noisy(wave(200, start=TRAIN_N), seed=13)
    assert again.smoothing == 0.2
    assert LSTMScorer(again).score_series(test) == LSTMScorer(smoothed).score_series(test)


def test_calibration_folds_read_the_threshold_from_every_normal_reading(normal):
    """Each block judged by a model fitted without it: errors for (almost) every window, not only the tail's."""
    folded = train(normal, **SMALL, calibration_folds=4)
    tail = train(normal, **SMALL)
    assert folded.parameters["calibration_folds"] == 4
    assert len(folded.validation_errors) == TRAIN_N - 4 * (STEPS - 1)  # every block's own windows
    assert len(tail.validation_errors) == int(TRAIN_N * 0.2) - STEPS + 1
    fresh = noisy(wave(4000, start=TRAIN_N), seed=14)
    flags = np.array([v.anomaly for v in LSTMScorer(folded).score_series(fresh)])
    assert flags.mean() < 0.05
    with pytest.raises(ValueError, match="calibration_folds"):
        train(normal, **SMALL, calibration_folds=0)
