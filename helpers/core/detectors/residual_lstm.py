"""A small LSTM that predicts SARIMA's next one-step error from its last few errors.

A linear model leaves behind what it cannot express: bursts, asymmetric swings,
patterns that repeat in shape but not in level. Whatever of that is
predictable from the recent errors, the LSTM learns; the rest is noise. It
trains on a window of past errors (scaled by their robust spread, clipped, so
one spike cannot dominate) and is kept only if it beats predicting 0 on the
most recent fifth of that window, held out — otherwise it predicts 0 and the
forecast is SARIMA's alone. Training is seeded, so a run repeats exactly.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import nn

#: Scaled errors are clipped to ± this before they reach the network.
CLIP = 5.0


class _Net(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1]).squeeze(-1)


class ResidualLSTM:
    """Predicts the next error from the last ``lags`` errors; 0 until trained, or when training did not help.

    >>> rng = np.random.default_rng(0)
    >>> e = np.zeros(1200)
    >>> for i in range(2, 1200):              # errors with structure: an AR(2) the LSTM can learn
    ...     e[i] = 0.6 * e[i - 1] - 0.3 * e[i - 2] + rng.normal()
    >>> net = ResidualLSTM(seed=1)
    >>> net.train(e)
    True
    >>> bool(abs(net.predict(e[-net.lags:]) - (0.6 * e[-1] - 0.3 * e[-2])) < 0.5)
    True
    >>> ResidualLSTM(seed=1).train(rng.normal(size=1200))   # white noise: nothing to learn, not kept
    False
    """

    def __init__(self, lags: int = 16, hidden: int = 16, epochs: int = 6, batch: int = 64, lr: float = 0.01,
                 seed: int = 0, min_gain: float = 0.02):
        self.lags, self.hidden, self.epochs, self.batch, self.lr = int(lags), int(hidden), int(epochs), int(batch), lr
        self.seed, self.min_gain = int(seed), float(min_gain)
        self.scale = 1.0
        self._net: Optional[_Net] = None

    @property
    def active(self) -> bool:
        return self._net is not None

    def train(self, errors: np.ndarray, seed_offset: int = 0) -> bool:
        """Learn from a window of past errors (oldest first); whether the model is kept."""
        torch.set_num_threads(1)
        errors = np.asarray(errors, dtype=float)
        self._net = None
        n = len(errors) - self.lags
        if n < 50:
            return False
        self.scale = float(np.median(np.abs(errors)) * 1.4826) or float(np.mean(np.abs(errors))) or 1.0
        z = np.clip(errors / self.scale, -CLIP, CLIP).astype(np.float32)
        x = np.lib.stride_tricks.sliding_window_view(z[:-1], self.lags)
        y = z[self.lags:]
        split = n - max(n // 5, 10)
        xs, ys = torch.from_numpy(x[:, :, None].copy()), torch.from_numpy(y.copy())
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed + seed_offset)
            net = _Net(self.hidden)
            optimiser = torch.optim.Adam(net.parameters(), lr=self.lr)
            order = torch.Generator().manual_seed(self.seed + seed_offset)
            for _ in range(self.epochs):
                for batch in torch.randperm(split, generator=order).split(self.batch):
                    optimiser.zero_grad()
                    loss = nn.functional.mse_loss(net(xs[batch]), ys[batch])
                    loss.backward()
                    optimiser.step()
        with torch.no_grad():
            held_out = float(nn.functional.mse_loss(net(xs[split:]), ys[split:]))
        baseline = float(torch.mean(ys[split:] ** 2))
        if held_out < (1.0 - self.min_gain) * baseline:
            self._net = net.eval()
        return self.active

    def predict(self, recent: np.ndarray) -> float:
        """The expected next error given the last ``lags`` errors (oldest first); 0 without a kept model."""
        if self._net is None or len(recent) < self.lags:
            return 0.0
        torch.set_num_threads(1)
        z = np.clip(np.asarray(recent[-self.lags:], dtype=np.float32) / self.scale, -CLIP, CLIP)
        with torch.no_grad():
            return float(self._net(torch.from_numpy(z).view(1, -1, 1))) * self.scale
