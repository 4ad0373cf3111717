"""``flask init-db`` and ``flask sampler``: the database and the sampler run by hand."""
from __future__ import annotations

import logging
import signal
import sys

import click
from flask import Flask, current_app

from helpers.runtime.service import SamplerThread
from helpers.storage import seed


def init_app(app: Flask) -> None:
    @app.cli.command("init-db")
    def init_db_command():
        """Create the tables and seed the default line, sensors and settings."""
        seed.init_configured(current_app.config)
        click.echo(f"database ready: {current_app.config['SQLALCHEMY_DATABASE_URI']}")

    @app.cli.command("sampler")
    def sampler_command():
        """Run the sampler in the foreground (set SAMPLER_AUTOSTART=0 on the web workers).

        Supervised as in a web worker: a sampler thread that dies is recorded (/healthz shows it) and
        restarted with backoff, so a foreground sampler left running for weeks does not stop for good.
        """
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        seed.init_configured(current_app.config)
        runner = SamplerThread(current_app._get_current_object())
        signal.signal(signal.SIGTERM, lambda *_: runner.stop_event.set())
        runner.run_in_foreground()
        sys.exit(0)
