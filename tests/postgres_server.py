"""Starts a real PostgreSQL server for the tests, as the `postgres` user when run as root."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
import sqlalchemy


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, bindir: Path, datadir: Path, port: int, as_user: list[str]):
        self.bindir, self.datadir, self.port, self.as_user = bindir, datadir, port, as_user
        self.admin = sqlalchemy.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")

    @classmethod
    def start_or_skip(cls) -> "PostgresServer":
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not found:
            pytest.skip("PostgreSQL server binaries are not installed (apt-get install postgresql)")
        bindir = found[-1].parent
        as_user: list[str] = []
        datadir = Path(tempfile.mkdtemp(prefix="linewatch-pg-"))
        if os.geteuid() == 0:
            # initdb refuses to run as root: run the server as the postgres user.
            as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(datadir, "postgres", "postgres")
        port = _free_port()
        run = lambda *args: subprocess.run([*as_user, *map(str, args)], check=True, capture_output=True)  # noqa: E731
        run(bindir / "initdb", "-D", datadir, "-A", "trust", "-U", "postgres", "--no-sync")
        run(bindir / "pg_ctl", "-D", datadir, "-w", "-l", datadir / "server.log", "-o",
            f"-p {port} -k {datadir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        return cls(bindir, datadir, port, as_user)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def fresh_database(self, name: str) -> str:
        database = re.sub(r"[^a-z0-9_]", "_", name.lower())[:50]
        with self.admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{database}"'))
            conn.execute(sqlalchemy.text(f'CREATE DATABASE "{database}"'))
        return self.url(database)

    def stop(self) -> None:
        self.admin.dispose()
        subprocess.run([*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast",
                        "-w", "stop"], capture_output=True)
        shutil.rmtree(self.datadir, ignore_errors=True)
