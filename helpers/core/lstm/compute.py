"""Where and how torch computes: device choice, bounded threads, seeded determinism.

torch's thread count is process-wide and defaults to every core; on a line
computer that also serves the dashboard, an unbounded training run would starve
the web workers, so every torch user here goes through these helpers.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch

DEVICES = ("auto", "cpu", "cuda")


def training_threads() -> int:
    """Threads a training run may use: two at most, fewer on a smaller machine."""
    return min(2, os.cpu_count() or 1)


def use_one_scoring_thread() -> None:
    """Set this process's torch to one thread: call once where live readings are scored.

    One window per reading is far too little work to gain from threads, and the
    sampler shares the machine with the web workers.
    """
    torch.set_num_threads(1)


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch threads, then restore the previous count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def pick_device(device: str) -> torch.device:
    """``auto`` takes CUDA when there is a GPU; ``cuda`` without one is an error, not a silent CPU run."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but torch sees no CUDA GPU")
    return torch.device(device)


@contextmanager
def deterministic(seed: int) -> Iterator[np.random.Generator]:
    """Seed torch, force deterministic kernels for the block; yields a seeded numpy generator.

    The global switches are restored afterwards so the rest of the process is untouched.
    """
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn_deterministic, cudnn_benchmark = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.manual_seed(seed)
    # warn_only: a CUDA kernel without a deterministic variant warns instead of failing the run.
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield np.random.default_rng(seed)
    finally:
        torch.use_deterministic_algorithms(was_deterministic, warn_only=was_warn_only)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn_deterministic, cudnn_benchmark
