"""Starts the sampler thread after the server has forked, once per process.

Each process only becomes a *candidate*: the database lease decides which one
samples, so the line is sampled exactly once however many workers run.
"""
from __future__ import annotations

import os
import threading
from typing import Optional

from flask import Flask

from helpers.core.simulator import DEFAULT_SENSORS, LineSimulator
from helpers.runtime.sampler import Sampler


class SamplerThread:
    def __init__(self, app: Flask):
        self.stop_event = threading.Event()
        self.sampler = Sampler(app, LineSimulator(DEFAULT_SENSORS, seed=app.config["SIMULATOR_SEED"]))
        self.thread = threading.Thread(target=self.sampler.run, args=(self.stop_event,),
                                       name="linewatch-sampler", daemon=True)

    def start(self) -> "SamplerThread":
        self.thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)


_lock = threading.Lock()
_running: dict[int, SamplerThread] = {}  # by pid: a forked child must start its own


def ensure_started(app: Flask) -> Optional[SamplerThread]:
    """Start this process's sampler candidate unless it is already running."""
    pid = os.getpid()
    with _lock:
        if pid not in _running:
            _running[pid] = SamplerThread(app).start()
        return _running[pid]


def stop_running() -> None:
    """Stop this process's sampler (flushes and hands the lease back)."""
    with _lock:
        handle = _running.pop(os.getpid(), None)
    if handle is not None:
        handle.stop()
