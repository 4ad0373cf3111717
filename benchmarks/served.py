"""The app as ``scripts/run`` serves it, for the benchmarks that load it over real HTTP."""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.server_process import free_port, start, stop  # noqa: E402


@contextmanager
def serve(tmp: Path):
    """gunicorn as ``scripts/run`` starts it (``gunicorn.conf.py``, 2 workers) on a free port, a fresh SQLite file.

    Yields ``(base URL, database path, master process)`` once ``/healthz`` answers and both workers run.
    """
    port, db_path = free_port(), tmp / "bench.db"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db_path}", "BIND": f"127.0.0.1:{port}",
           "WEB_CONCURRENCY": "2", "LOG_LEVEL": "WARNING"}
    base = f"http://127.0.0.1:{port}"
    argv = [str(Path(sys.executable).with_name("gunicorn")), "-c", "gunicorn.conf.py", "app:create_app()"]
    process = start(argv, tmp / "gunicorn.out", lambda: requests.get(f"{base}/healthz", timeout=2).ok, 60.0,
                    cwd=ROOT, env=env)
    try:
        master = psutil.Process(process.pid)
        deadline = time.monotonic() + 60
        while len(master.children()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        yield base, db_path, master
    finally:
        stop(process, timeout_s=30)
