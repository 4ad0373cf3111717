"""The LSTM autoencoder: squeeze a window of readings through a small state, then rebuild it.

A window the model has seen the like of during training comes back close to
itself; a window of a new shape (a faster cycle, two sensors that stop moving
together) comes back wrong, and the size of that error is the anomaly score.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

# Throw-away windows after each batch (see reconstruction_errors); one sufficed in every
# configuration tried, two leave a margin for other CPUs and cost little.
PAD_WINDOWS = 2


class LSTMAutoencoder(nn.Module):
    """Encoder LSTM → its last hidden state → repeated at every step → decoder LSTM → linear layer.

    Parameters:
        n_features: sensors per reading (1 for a single sensor, more for one model over a line).
        hidden: size of both LSTM states; the last encoder state is the whole summary of a window.
        time_steps: readings per window; the decoder unrolls this many steps.
    """

    def __init__(self, n_features: int, hidden: int = 32, time_steps: int = 15):
        super().__init__()
        if n_features < 1:
            raise ValueError("n_features must be at least 1")
        if hidden < 1:
            raise ValueError("hidden must be at least 1")
        if time_steps < 2:
            raise ValueError("time_steps must be at least 2: a window of one reading has no shape")
        self.n_features, self.hidden, self.time_steps = n_features, hidden, time_steps
        self.encoder = nn.LSTM(n_features, hidden, batch_first=True)
        self.decoder = nn.LSTM(hidden, hidden, batch_first=True)
        self.output = nn.Linear(hidden, n_features)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """``[batch, time_steps, n_features]`` in, its reconstruction (same shape) out."""
        _, (state, _) = self.encoder(windows)
        repeated = state[-1].unsqueeze(1).expand(-1, windows.shape[1], -1)
        decoded, _ = self.decoder(repeated)
        return self.output(decoded)


def reconstruction_errors(module: LSTMAutoencoder, windows: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Mean squared reconstruction error of each standardised window, as float64.

    Windows go through in chunks so a long series does not build one huge tensor.
    Each chunk is followed by PAD_WINDOWS throw-away copies of its last window:
    torch's CPU matmul kernels treat the last rows of a batch (and a batch of
    one) on another path that rounds differently in the last bit, and a window
    must score the same alone (live) as inside any batch.
    """
    device = next(module.parameters()).device
    errors = np.empty(len(windows), dtype=np.float64)
    with torch.inference_mode():
        for start in range(0, len(windows), chunk):
            part = np.array(windows[start:start + chunk], dtype=np.float32)
            count = len(part)
            padded = np.concatenate([part, np.repeat(part[-1:], PAD_WINDOWS, axis=0)])
            batch = torch.from_numpy(padded).to(device)
            squared = (module(batch) - batch).double().pow(2)
            errors[start:start + count] = squared.mean(dim=(1, 2)).cpu().numpy()[:count]
    return errors


def feature_errors(module: LSTMAutoencoder, windows: np.ndarray) -> np.ndarray:
    """Each window's mean squared reconstruction error per feature (``[n, n_features]``): which sensors
    the model could not rebuild. For explanations only (it skips the padding that keeps errors bit-exact)."""
    with torch.inference_mode():
        batch = torch.from_numpy(np.asarray(windows, dtype=np.float32)).to(next(module.parameters()).device)
        return (module(batch) - batch).double().pow(2).mean(dim=1).cpu().numpy()
