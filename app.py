"""Linewatch: the application factory, and only wiring.

``flask run`` finds ``create_app`` here; gunicorn serves ``'app:create_app()'``.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

from flask import Flask

from helpers.cli import (score as cli, evaluate as cli_evaluate, knn as cli_knn, models as cli_models, tokens as cli_tokens, users as cli_users)
from helpers.edge import cli as cli_node
from helpers.config import load_config
from helpers.runtime.alerting import mailer
from helpers.runtime import service
from helpers.storage import db as storage
from helpers.web import access, auth, errors, metrics, openapi, pages, params
from helpers.web.api import bp as api_bp


def create_app(overrides: Optional[Mapping[str, Any]] = None) -> Flask:
    app = Flask(__name__)
    app.url_map.converters["int"] = params.IdConverter  # before any route is added
    app.config.update(load_config(app.root_path))
    if overrides:
        app.config.update(overrides)
        if "DATABASE_URL" in overrides:
            app.config["SQLALCHEMY_DATABASE_URI"] = overrides["DATABASE_URL"]
    app.json.sort_keys = False  # polled JSON is large; sorting its keys is wasted work
    storage.init_app(app)
    errors.init_app(app)
    mailer.init_app(app)
    cli.init_app(app)
    cli_models.init_app(app)
    cli_evaluate.init_app(app)
    cli_tokens.init_app(app)
    cli_knn.init_app(app)
    cli_node.init_app(app)
    cli_users.init_app(app)
    app.register_blueprint(api_bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(auth.bp)
    with app.app_context():
        cli.init_db()
    access.init_app(app)
    app.before_request(params.refuse_nul_characters)
    if app.config["SAMPLER_AUTOSTART"]:
        # Started by the first request, i.e. after gunicorn has forked, never in
        # its master; gunicorn.conf.py also starts it as soon as a worker boots.
        app.before_request(lambda: service.ensure_started(app) and None)
    return app
