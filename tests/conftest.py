"""Shared fixtures: an app on a fresh temporary database, its clients, and a live server.

The database is a SQLite file in the test's directory, or, with ``LINEWATCH_TEST_DATABASE_URL`` set to a
PostgreSQL server (``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``, a role that may create
databases), a fresh database on that server for each app directory, dropped after the test.
"""
from __future__ import annotations

import functools
import re
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from app import create_app
from helpers.runtime.service import SamplerThread
from tests import postgres_server as pg
from tests.postgres_server import database_url, on_postgres

ON_POSTGRES = on_postgres()


def make_app(tmp_path, **overrides):
    """The app on the database of ``tmp_path`` (the same directory gives the same database)."""
    config = {"DATABASE_URL": database_url(tmp_path), "SAMPLER_AUTOSTART": False,
              "SIMULATOR_SEED": 1, "TESTING": True, "MAIL_AUTOSTART": False}
    config.update(overrides)
    return create_app(config)


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def live_server(tmp_path):
    """The real app over real HTTP, its sampler at 10 Hz per sensor with a 20-reading model."""
    with sampling_server(tmp_path) as server:
        yield server.url


@pytest.fixture(scope="session")
def postgres_server():
    """The server of LINEWATCH_TEST_DATABASE_URL, or a throwaway one on 127.0.0.1 from the Debian binaries."""
    if ON_POSTGRES:
        yield pg.databases().server
        return
    server = pg.PostgresServer.start_or_skip()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server, request):
    """A fresh, empty database on that server for one test, dropped after it."""
    name = "lwtest_" + re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:50]
    yield postgres_server.create_database(name)
    postgres_server.drop_database(name)


# --- PostgreSQL runs: a database per app directory, dropped with the test -------------------

@pytest.fixture(autouse=True)
def _drop_the_tests_databases(request):
    if not ON_POSTGRES:
        yield
        return
    tmp_path = Path(request.getfixturevalue("tmp_path"))
    yield
    pg.databases().drop_under(tmp_path)


@pytest.fixture(scope="session", autouse=True)
def _drop_every_test_database():
    yield
    if ON_POSTGRES:
        pg.databases().drop_all()


_DATABASE_FIXTURES = {"app", "live_server", "restartable_server", "postgres_url", "postgres_server"}
_BUILDS_AN_APP = re.compile(r"\b(make_app|sampling_server|create_app|gunicorn)\(|postgres_url|DATABASE_URL")


def pytest_addoption(parser):
    parser.addoption("--database-tests-only", action="store_true",
                     help="run only the tests that build an app on a database (scripts/test's PostgreSQL pass: "
                          "the others do not depend on the database and ran in the SQLite pass)")
    parser.addoption("--skip-browser-tests", action="store_true",
                     help="deselect the tests that drive Chromium (scripts/test runs them apart, one at a time)")
    parser.addoption("--browser-tests-only", action="store_true",
                     help="run only the tests that drive Chromium (scripts/test runs the others on two workers)")


def uses_a_database(item) -> bool:
    """Whether ``item`` builds an app (through a fixture, or a module that calls make_app & co. itself)."""
    if _DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    source = getattr(getattr(item, "module", None), "__file__", None)
    return bool(source and Path(source).name.startswith("test_") and _module_builds_an_app(source))


@functools.cache
def _module_builds_an_app(source: str) -> bool:
    return bool(_BUILDS_AN_APP.search(Path(source).read_text()))


def pytest_collection_modifyitems(config, items):
    database_only, no_browser = config.getoption("--database-tests-only"), config.getoption("--skip-browser-tests")
    browser_only = config.getoption("--browser-tests-only")
    if not (database_only or no_browser or browser_only):
        return
    keep, drop = [], []
    for item in items:
        in_browser = bool({"page", "browser"} & set(getattr(item, "fixturenames", ())))
        wanted = ((not database_only or uses_a_database(item))
                  and not (no_browser and in_browser) and not (browser_only and not in_browser))
        (keep if wanted else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_report_header(config):
    if ON_POSTGRES:
        server = pg.databases().server
        return [f"database: PostgreSQL at {server.admin_url.render_as_string()} (a fresh database per test app)"]
    return ["database: SQLite (a file per test app); set LINEWATCH_TEST_DATABASE_URL for PostgreSQL"]


class RestartableServer:
    """A live server whose HTTP side can be stopped and started again on the same port."""

    def __init__(self, app):
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = None
        self.start()

    def start(self):
        if self._server is None:
            self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@contextmanager
def sampling_server(path, **overrides):
    """The app on a fresh database in ``path``, its sampler running (10 Hz per sensor, a 20-reading model unless
    ``overrides`` say otherwise) and served over real HTTP on 127.0.0.1: a RestartableServer."""
    app = make_app(path, **{"SAMPLE_RATE_HZ": 10.0, "MODEL_SIZE": 20, "SAMPLER_FLUSH_SECONDS": 0.1, **overrides})
    sampler = SamplerThread(app).start()
    server = RestartableServer(app)
    try:
        yield server
    finally:
        server.stop()
        sampler.stop()


@pytest.fixture
def restartable_server(tmp_path):
    """Like live_server, but the test can take the HTTP server down and bring it back."""
    with sampling_server(tmp_path) as server:
        yield server


# --- browser tests (pytest-playwright) -------------------------------------------

@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Debian's Chromium: Playwright's own browser download does not work here.
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium",
            "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # Wide enough for the layout that laptops (1280) and wall screens (1920) get.
    return {**browser_context_args, "viewport": {"width": 1600, "height": 1000}}


@pytest.fixture
def problems():
    """Filled by ``tests.browser_support.watch``: console errors and requests that left 127.0.0.1."""
    return {"console": [], "outside": []}
