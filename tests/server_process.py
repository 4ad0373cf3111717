"""Starting and stopping a real server binary for a test: wait until it answers, report its log if it dies."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

import sqlalchemy
from sqlalchemy.pool import NullPool

from tests.postgres_server import database_url

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS = "/usr/bin/prometheus"


def start(argv: list[str], log_path: Path, ready: Callable[[], bool], timeout_s: float,
          **popen) -> subprocess.Popen:
    """Run ``argv`` with its output in ``log_path`` until ``ready()`` is true; a RuntimeError with the log otherwise."""
    name = Path(argv[0]).name
    with open(log_path, "ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=log, **popen)
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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200


@contextmanager
def gunicorn(tmp_path: Path, **env: str):
    """The app under gunicorn (``gunicorn.conf.py``, a fresh database) until ``/healthz`` answers.

    ``env`` adds environment variables (WEB_CONCURRENCY, SAMPLE_RATE_HZ, ...). Yields ``(base URL, database
    URL, process)``; read the database with ``query``. The output goes to ``tmp_path / "gunicorn.out"``.
    """
    port, db_url = free_port(), database_url(tmp_path, "gunicorn.db")
    environ = {**os.environ, "DATABASE_URL": db_url, "BIND": f"127.0.0.1:{port}", **env}
    base = f"http://127.0.0.1:{port}"
    argv = [str(Path(sys.executable).with_name("gunicorn")), "-c", "gunicorn.conf.py", "app:create_app()"]
    process = start(argv, tmp_path / "gunicorn.out", lambda: _answers(f"{base}/healthz"), 60.0,
                    cwd=ROOT, env=environ)
    try:
        yield base, db_url, process
    finally:
        stop(process, timeout_s=30)


def query(db_url: str, sql: str, **params: Any) -> list[tuple]:
    """The rows of ``sql`` (``:name`` parameters) on the database a server process writes to."""
    engine = sqlalchemy.create_engine(db_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sqlalchemy.text(sql), params)]
    finally:
        engine.dispose()


@contextmanager
def prometheus(tmp_path: Path, target: str):
    """A real Prometheus scraping ``target`` (host:port) every second; yields its base URL."""
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                      "scrape_configs:\n  - job_name: linewatch\n    static_configs:\n"
                      f"      - targets: ['{target}']\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start([PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                     f"--web.listen-address=127.0.0.1:{port}"], tmp_path / "prometheus.log",
                    lambda: _answers(f"{url}/-/ready"), 60.0)
    try:
        yield url
    finally:
        stop(process)
