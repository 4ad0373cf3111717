"""Shared fixtures: an app on a fresh temporary SQLite database, its clients, and a live server."""
from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest
from werkzeug.serving import make_server

from app import create_app
from helpers.runtime.service import SamplerThread


def make_app(tmp_path, **overrides):
    config = {"DATABASE_URL": f"sqlite:///{tmp_path / 'test.db'}", "SAMPLER_AUTOSTART": False,
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
    """A throwaway PostgreSQL server on 127.0.0.1, started from the Debian binaries."""
    from tests.postgres_server import PostgresServer

    server = PostgresServer.start_or_skip()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server, request):
    """A fresh, empty database on that server for one test."""
    return postgres_server.fresh_database(request.node.name)


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
