"""A real PostgreSQL server for the tests: a throwaway one started from Debian's binaries, or the one that
``LINEWATCH_TEST_DATABASE_URL`` names, on which every test app gets a fresh database of its own.

``python -m tests.postgres_server COMMAND...`` starts a throwaway server (initdb in a temp dir, as the
``postgres`` user when run as root, on a free port), runs COMMAND with ``LINEWATCH_TEST_DATABASE_URL``
pointing at it, then stops and removes it, also when COMMAND fails or is interrupted. ``scripts/test``
runs its PostgreSQL pass that way.
"""
from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Optional

import sqlalchemy
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

ENV = "LINEWATCH_TEST_DATABASE_URL"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerUnavailable(RuntimeError):
    """No PostgreSQL binaries on this machine."""


class PostgresServer:
    """A PostgreSQL server reached as a superuser (or a role that may create databases) through ``admin_url``."""

    def __init__(self, admin_url: str, bindir: Optional[Path] = None, datadir: Optional[Path] = None,
                 as_user: Optional[list[str]] = None):
        self.admin_url = make_url(admin_url)
        self.bindir, self.datadir, self.as_user = bindir, datadir, as_user or []
        self.admin = sqlalchemy.create_engine(self.admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)

    @classmethod
    def start(cls) -> "PostgresServer":
        """initdb in a temp dir and start it on a free port of 127.0.0.1 (no fsync: it is thrown away)."""
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not found:
            raise ServerUnavailable("PostgreSQL server binaries are not installed (apt-get install postgresql)")
        bindir = found[-1].parent
        as_user: list[str] = []
        # In memory where there is a /dev/shm: creating and dropping a database per test is then cheap.
        shm = Path("/dev/shm")
        datadir = Path(tempfile.mkdtemp(prefix="linewatch-pg-", dir=shm if os.access(shm, os.W_OK) else None))
        if os.geteuid() == 0:
            # initdb refuses to run as root: run the server as the postgres user.
            as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(datadir, "postgres", "postgres")
        port = _free_port()
        run = lambda *args: subprocess.run([*as_user, *map(str, args)], check=True, capture_output=True)  # noqa: E731
        try:
            run(bindir / "initdb", "-D", datadir, "-A", "trust", "-U", "postgres", "--no-sync")
            run(bindir / "pg_ctl", "-D", datadir, "-w", "-l", datadir / "server.log", "-o",
                f"-p {port} -k {datadir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_wal_size=256MB -c max_connections=300",
                "start")
        except subprocess.CalledProcessError as exc:
            shutil.rmtree(datadir, ignore_errors=True)
            raise RuntimeError(f"{Path(exc.cmd[len(as_user)]).name} failed: {exc.stderr.decode(errors='replace')}")
        return cls(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", bindir, datadir, as_user)

    @classmethod
    def start_or_skip(cls) -> "PostgresServer":
        import pytest

        try:
            return cls.start()
        except ServerUnavailable as exc:
            pytest.skip(str(exc))

    @property
    def port(self) -> int:
        return self.admin_url.port

    def url(self, database: str) -> str:
        return self.admin_url.set(database=database).render_as_string(hide_password=False)

    def execute(self, statement: str) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(statement)

    def create_database(self, name: str, template: Optional[str] = None) -> str:
        """A new database ``name`` (an old one of that name is dropped first); its URL."""
        self.drop_database(name)
        self.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        # WITH (FORCE) ends the connections a test left open (a pool, a thread still winding down).
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def fresh_database(self, name: str) -> str:
        return self.create_database(re.sub(r"[^a-z0-9_]", "_", name.lower())[:50])

    def stop(self) -> None:
        """Stop and remove a server this process started; leave one given by URL running."""
        self.admin.dispose()
        if self.datadir is None:
            return
        subprocess.run([*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate",
                        "-w", "stop"], capture_output=True)
        shutil.rmtree(self.datadir, ignore_errors=True)


class Databases:
    """One fresh database per app directory a test uses, copied from a template that holds the empty schema.

    The same directory gives the same database (a second app "restarting" on it sees the first one's data);
    another directory gives another database, as another SQLite file would.
    """

    def __init__(self, server: PostgresServer):
        self.server = server
        self.prefix = f"lwtest_{os.getpid()}_"
        self.template = f"{self.prefix}template"
        self.by_path: dict[Path, str] = {}
        self._numbers = itertools.count(1)
        self._template_ready = False

    def _make_template(self) -> None:
        import app  # noqa: F401 - every model is declared once the app's modules are imported
        from helpers.storage.db import db

        url = self.server.create_database(self.template)
        engine = sqlalchemy.create_engine(url, poolclass=NullPool)
        try:
            db.metadata.create_all(engine)
        finally:
            engine.dispose()
        self._template_ready = True

    def url_for(self, path: Path) -> str:
        path = Path(path).resolve()
        if path not in self.by_path:
            if not self._template_ready:
                self._make_template()
            name = f"{self.prefix}{next(self._numbers)}"
            self.server.create_database(name, template=self.template)
            self.by_path[path] = name
        return self.server.url(self.by_path[path])

    def drop_under(self, directory: Path) -> None:
        """Drop the databases of ``directory`` and of every directory inside it."""
        directory = Path(directory).resolve()
        for path in [p for p in self.by_path if p == directory or directory in p.parents]:
            self.server.drop_database(self.by_path.pop(path))

    def drop_all(self) -> None:
        """Drop every database this run made; one that will not go is reported, and the rest still go."""
        names = [*self.by_path.values(), *([self.template] if self._template_ready else [])]
        self.by_path.clear()
        for name in names:
            try:
                self.server.drop_database(name)
            except sqlalchemy.exc.SQLAlchemyError as exc:
                warnings.warn(f"could not drop the test database {name}: {exc}")


_databases: Optional[Databases] = None


def on_postgres() -> bool:
    """Whether this run puts the tests' apps on PostgreSQL (``LINEWATCH_TEST_DATABASE_URL`` is set)."""
    return bool(os.environ.get(ENV))


def databases() -> Databases:
    global _databases
    if _databases is None:
        _databases = Databases(PostgresServer(os.environ[ENV]))
    return _databases


def database_url(path: Path, sqlite_name: str = "test.db") -> str:
    """The database of the app kept in ``path``: the SQLite file ``path / sqlite_name``, or, with
    ``LINEWATCH_TEST_DATABASE_URL`` set, a fresh PostgreSQL database of that directory's own."""
    if on_postgres():
        return databases().url_for(path)
    return f"sqlite:///{Path(path) / sqlite_name}"


def main(argv: list[str]) -> int:
    """Run ``argv`` with ``LINEWATCH_TEST_DATABASE_URL`` set to a throwaway server; its exit status."""
    if not argv:
        print("usage: python -m tests.postgres_server COMMAND [ARG...]", file=sys.stderr)
        return 2
    # SIGTERM (a CI timeout) should stop the server too, like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server = PostgresServer.start()
    try:
        print(f"PostgreSQL {server.bindir.parent.name} on 127.0.0.1:{server.port}, data in {server.datadir}",
              flush=True)
        return subprocess.call(argv, env={**os.environ, ENV: server.url("postgres")})
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
