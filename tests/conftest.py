"""Shared fixtures: an app on a fresh temporary SQLite database, its clients, and a live server."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from app import create_app
from helpers.runtime.service import SamplerThread


def make_app(tmp_path, **overrides):
    config = {"DATABASE_URL": f"sqlite:///{tmp_path / 'test.db'}", "SAMPLER_AUTOSTART": False,
              "SIMULATOR_SEED": 1, "TESTING": True}
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
    app = make_app(tmp_path, SAMPLE_RATE_HZ=10.0, MODEL_SIZE=20, SAMPLER_FLUSH_SECONDS=0.1)
    sampler = SamplerThread(app).start()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        sampler.stop()


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
