"""Train an LSTM autoencoder on normal readings and measure its errors on held-out normal readings."""
from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Callable, Optional

import numpy as np
import torch

from helpers.core.lstm.compute import deterministic, pick_device, torch_threads, training_threads
from helpers.core.lstm.model import LSTMAutoencoder, reconstruction_errors
from helpers.core.stats.ewma import ewma
from helpers.core.lstm.trained import TrainedModel, check_percentile, check_ratio
from helpers.core.lstm.windows import (MIN_WINDOWS, NotEnoughDataError, Standardiser, as_table, minimum_readings,
                                       sliding_windows, validation_rows)

Progress = Callable[[int, int, float], None]


def train(values, time_steps: int = 15, epochs: int = 20, batch_size: int = 64, hidden: int = 32,
          learning_rate: float = 5e-3, seed: Optional[int] = None, validation_fraction: float = 0.2,
          percentile: float = 99.0, ratio: float = 1.0, device: str = "auto", threads: Optional[int] = None,
          progress: Optional[Progress] = None, smoothing: float = 1.0,
          calibration_folds: int = 1) -> TrainedModel:
    """Fit the autoencoder to ``values`` (``[n]`` or ``[n, n_features]``, normal operation only).

    The last ``validation_fraction`` of the readings is held out: the model never
    fits it, and the reconstruction error of each of its windows makes the
    distribution the threshold is read from. Splitting readings (not windows)
    keeps every validation window free of training readings.

    Parameters:
        time_steps: readings per window (at least 2).
        epochs, batch_size, learning_rate: Adam on the mean squared reconstruction error.
        hidden: LSTM state size.
        seed: the same seed, data, device and threads give the same model; None draws one (kept in ``parameters``).
        percentile, ratio: the threshold rule, changeable later without retraining: ``percentile`` 99 puts
            the threshold where 1 % of the held-out normal windows' (smoothed) errors lie above it.
        smoothing: the weight of the newest error in the exponentially weighted mean that is judged
            (1: each window's own error); the held-out errors are smoothed the same way, in time order,
            before the threshold is read from them, so false alarms on normal data stay near 100 − percentile.
        calibration_folds: 1 holds out the last ``validation_fraction``. More cuts the readings into that many
            contiguous blocks, judges each block's windows by a model fitted without it, and reads the
            threshold from all of those errors; the model kept is then fitted on every reading (costs
            ``calibration_folds`` more trainings, for a threshold read from every normal reading, not a tail).
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``; the result always lives on the CPU.
        threads: torch CPU threads for this run; default two at most, so the dashboard keeps a core.
        progress: called after each epoch with ``(epoch, epochs, mean training loss)``.
    """
    if time_steps < 2:
        raise ValueError("time_steps must be at least 2: a window of one reading has no shape")
    for name, number in (("epochs", epochs), ("batch_size", batch_size), ("hidden", hidden), ("threads", threads)):
        if number is not None and number < 1:
            raise ValueError(f"{name} must be at least 1, not {number}")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be above 0, not {learning_rate}")
    if not 0.0 < smoothing <= 1.0:
        raise ValueError(f"smoothing must be in (0, 1], not {smoothing}")
    if calibration_folds < 1:
        raise ValueError(f"calibration_folds must be at least 1, not {calibration_folds}")
    percentile, ratio = check_percentile(percentile), check_ratio(ratio)
    needed = minimum_readings(time_steps, validation_fraction)
    table = as_table(values, "training values")
    if len(table) < needed:
        raise NotEnoughDataError(
            f"training needs at least {needed} readings with time_steps={time_steps} and "
            f"validation_fraction={validation_fraction} ({MIN_WINDOWS} windows to fit and "
            f"{MIN_WINDOWS} to validate), got {len(table)}")
    target = pick_device(device)
    seed = secrets.randbits(32) if seed is None else int(seed)
    threads = training_threads() if threads is None else threads

    # With calibration folds every reading is fitted (the folds' own models judge the readings); else a tail
    # is held out and judged by the one model.
    fitted = len(table) if calibration_folds > 1 else len(table) - validation_rows(len(table), validation_fraction)
    standardiser = Standardiser.fit(table[:fitted])
    scaled = standardiser.apply(table)

    with torch_threads(threads), deterministic(seed) as rng:
        def fit_on(windows: np.ndarray, report: Optional[Progress]) -> tuple[LSTMAutoencoder, list[float]]:
            module = LSTMAutoencoder(table.shape[1], hidden, time_steps).to(target)
            curve = _fit(module, torch.tensor(windows, dtype=torch.float32, device=target),
                         epochs, batch_size, learning_rate, rng, report)
            return module.eval().cpu(), curve

        module, loss_curve = fit_on(sliding_windows(scaled[:fitted], time_steps), progress)
        if calibration_folds == 1:
            validation_errors = ewma(reconstruction_errors(module, sliding_windows(scaled[fitted:], time_steps)),
                                     smoothing)
        else:
            held = []
            for block in np.array_split(np.arange(len(scaled)), calibration_folds):
                around = [part for part in (scaled[:block[0]], scaled[block[-1] + 1:]) if len(part) >= time_steps]
                fold, _ = fit_on(np.concatenate([sliding_windows(part, time_steps) for part in around]), None)
                held.append(ewma(reconstruction_errors(fold, sliding_windows(scaled[block], time_steps)), smoothing))
            validation_errors = np.concatenate(held)

    parameters = {"time_steps": time_steps, "epochs": epochs, "batch_size": batch_size, "hidden": hidden,
                  "learning_rate": learning_rate, "seed": seed, "validation_fraction": validation_fraction,
                  "device": target.type, "threads": threads, "training_readings": len(table),
                  "smoothing": smoothing, "calibration_folds": calibration_folds}
    return TrainedModel(module, standardiser, parameters, loss_curve, validation_errors, percentile, ratio,
                        created=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def _fit(module: LSTMAutoencoder, windows: torch.Tensor, epochs: int, batch_size: int, learning_rate: float,
         rng: np.random.Generator, progress: Optional[Progress]) -> list[float]:
    """Mini-batch Adam over shuffled windows; returns the mean loss of each epoch."""
    optimiser = torch.optim.Adam(module.parameters(), lr=learning_rate)
    loss_fn = torch.nn.MSELoss()
    module.train()
    curve = []
    for epoch in range(1, epochs + 1):
        order = torch.as_tensor(rng.permutation(len(windows)), device=windows.device)
        total = 0.0
        for start in range(0, len(windows), batch_size):
            batch = windows[order[start:start + batch_size]]
            optimiser.zero_grad()
            loss = loss_fn(module(batch), batch)
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        curve.append(total / len(windows))
        if progress is not None:
            progress(epoch, epochs, curve[-1])
    return curve
