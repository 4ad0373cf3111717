"""Starting and stopping a real server binary for a test: wait until it answers, report its log if it dies."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Callable


def start(argv: list[str], log_path: Path, ready: Callable[[], bool], timeout_s: float) -> subprocess.Popen:
    """Run ``argv`` with its output in ``log_path`` until ``ready()`` is true; a RuntimeError with the log otherwise."""
    name = Path(argv[0]).name
    with open(log_path, "ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited: {log_path.read_text(errors='replace')[-2000:]}")
        try:
            if ready():
                return process
        except OSError:
            pass
        time.sleep(0.05)
    stop(process)
    raise RuntimeError(f"{name} did not answer within {timeout_s:g} s")


def stop(process: subprocess.Popen, timeout_s: float = 15.0) -> None:
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
