"""``flask token create/revoke/list``: the ingest API's bearer tokens (stored hashed; shown once)."""
from __future__ import annotations

import time
from datetime import datetime

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy.exc import IntegrityError

from helpers.storage import tokens
from helpers.storage.db import db


def _when(t):
    return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M") if t else "–"


def init_app(app: Flask) -> None:
    group = AppGroup("token", help="API tokens for POST /api/readings (and the edge node).")

    @group.command("create")
    @click.argument("name")
    def create(name):
        """Create a token called NAME and print it (the only time it is shown)."""
        if not 1 <= len(name) <= 64:
            raise click.BadParameter("a name of 1 to 64 characters", param_hint="NAME")
        try:
            token = tokens.create(name, time.time())
        except IntegrityError:
            db.session.rollback()
            raise click.ClickException(f"a token called {name!r} exists already (revoke it, or pick another name)")
        click.echo(token)
        click.echo(f"token {name!r} created; store it now, it cannot be shown again", err=True)

    @group.command("revoke")
    @click.argument("name")
    def revoke(name):
        """Revoke the token called NAME: requests carrying it get 401 from now on."""
        if not tokens.revoke(name, time.time()):
            raise click.ClickException(f"no live token called {name!r}")
        click.echo(f"token {name!r} revoked")

    @group.command("list")
    def listing():
        """Every token: name, created, last used, revoked."""
        rows = tokens.listing()
        if not rows:
            click.echo("no tokens: the ingest API accepts requests from 127.0.0.1 only")
        for t in rows:
            state = f"revoked {_when(t.revoked_at)}" if t.revoked_at else "live"
            click.echo(f"{t.name}\tcreated {_when(t.created_at)}\tlast used {_when(t.last_used_at)}\t{state}")

    app.cli.add_command(group)
