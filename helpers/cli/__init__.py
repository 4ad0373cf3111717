"""The ``flask`` commands, one module per group; each command wraps a plain function that a test can call.

The CLI stands beside web/ at the top of the layers: it may import runtime, storage, core and edge, never web.
"""
from __future__ import annotations

from flask import Flask

from helpers.cli import evaluate, knn, models, score, service, tokens, users
from helpers.edge import cli as edge_cli


def init_app(app: Flask) -> None:
    """Register every command on ``app``."""
    for group in (service, score, models, evaluate, tokens, knn, users, edge_cli):
        group.init_app(app)
