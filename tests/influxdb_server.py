"""Starts a real InfluxDB 1.x server (Debian's ``influxdb``) for the tests, in a temp dir on a free port.

``stop`` and ``start`` take it down and bring it back on the same port with its data,
so a test can play an outage; ``close`` removes everything.
"""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Optional

import pytest

from tests import server_process

INFLUXD = Path("/usr/bin/influxd")
START_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CONFIG = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{root}/meta"
  logging-enabled = false

[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[http]
  bind-address = "127.0.0.1:{port}"
  log-enabled = false
  auth-enabled = {auth}

[logging]
  level = "warn"
"""


class InfluxServer:
    def __init__(self, root: Path, port: int, admin: Optional[tuple[str, str]] = None):
        self.root, self.port, self.admin = root, port, admin
        self.url = f"http://127.0.0.1:{port}"
        self.config = root / "influxdb.conf"
        self.config.write_text(CONFIG.format(root=root, port=port, rpc_port=_free_port(),
                                             auth="true" if admin else "false"))
        self.process: Optional[subprocess.Popen] = None

    @classmethod
    def start_or_skip(cls, admin: Optional[tuple[str, str]] = None) -> "InfluxServer":
        """A running server; with ``admin`` (user, password) authentication is on and that user holds every right."""
        if not INFLUXD.exists():
            pytest.skip("InfluxDB is not installed (apt-get install influxdb: /usr/bin/influxd)")
        server = cls(Path(tempfile.mkdtemp(prefix="linewatch-influx-")), _free_port(), admin)
        server.start()
        if admin:
            # With authentication on, InfluxDB lets the first user be created without credentials.
            server.query(f"CREATE USER \"{admin[0]}\" WITH PASSWORD '{admin[1]}' WITH ALL PRIVILEGES")
        return server

    def start(self) -> None:
        def answers() -> bool:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as response:
                return response.status == 204

        self.process = server_process.start([str(INFLUXD), "-config", str(self.config)], self.root / "influxd.log",
                                            answers, START_TIMEOUT_S)

    def stop(self) -> None:
        if self.process is not None:
            server_process.stop(self.process)
            self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # --- what a test does with it ---------------------------------------------

    def query(self, q: str, database: str = "") -> dict:
        user, password = self.admin or ("", "")
        params = urllib.parse.urlencode({"q": q, "db": database, "epoch": "ms", "u": user, "p": password})
        with urllib.request.urlopen(f"{self.url}/query?{params}", data=b"", timeout=10) as response:
            return json.load(response)

    def fresh_database(self, name: str) -> str:
        self.query(f'DROP DATABASE "{name}"')
        self.query(f'CREATE DATABASE "{name}"')
        return name

    def write(self, database: str, lines: list[str]) -> None:
        user, password = self.admin or ("", "")
        params = urllib.parse.urlencode({"db": database, "precision": "ms", "u": user, "p": password})
        request = urllib.request.Request(f"{self.url}/write?{params}", data="\n".join(lines).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 204

    def rows(self, database: str, q: str) -> list[dict]:
        """Every row the query returns, as dicts (tags included), in the order InfluxDB gave them."""
        out = []
        for result in self.query(q, database)["results"]:
            assert "error" not in result, result
            for series in result.get("series", []):
                for values in series["values"]:
                    out.append({**series.get("tags", {}), **dict(zip(series["columns"], values))})
        return out
