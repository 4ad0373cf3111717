"""Linewatch: the application factory, and only wiring.

``flask run`` finds ``create_app`` here; gunicorn serves ``'app:create_app()'``.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

from flask import Flask

from helpers import cli
from helpers.config import load_config
from helpers.runtime import service
from helpers.storage import db as storage
from helpers.storage import seed
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
    cli.init_app(app)
    app.register_blueprint(api_bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(auth.bp)
    with app.app_context():
        seed.init_configured(app.config)
    access.init_app(app)
    app.before_request(params.refuse_nul_characters)
    service.init_app(app)  # after the gate: a refused request starts nothing
    return app
