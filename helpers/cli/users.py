"""``flask user create/list/set-role/delete``: the accounts that may sign in, and their roles."""
from __future__ import annotations

import sys
from datetime import datetime

import click
from flask import Flask
from flask.cli import AppGroup

from helpers.storage import users


def init_app(app: Flask) -> None:
    group = AppGroup("user", help="Accounts: viewer (sees everything), operator (controls, scenarios, training, "
                                  "alarms), admin (settings, sources, mail, everything).")

    @group.command("create")
    @click.argument("name")
    @click.option("--role", type=click.Choice(users.ROLES), default="viewer", show_default=True)
    @click.option("--password-stdin", is_flag=True, help="read the password from the first line of stdin")
    def create(name, role, password_stdin):
        """Create the account NAME (asks for its password twice unless --password-stdin)."""
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        try:
            users.create(name, password, role)
        except users.UserError as error:
            raise click.ClickException(str(error))
        click.echo(f"user {name!r} created with the {role} role")

    @group.command("list")
    def listing():
        """Every account, its role and when it was made."""
        for user in users.listing():
            made = datetime.fromtimestamp(user.created_at).strftime("%Y-%m-%d %H:%M")
            click.echo(f"{user.name}\t{user.role}\t{made}")

    @group.command("set-role")
    @click.argument("name")
    @click.argument("role", type=click.Choice(users.ROLES))
    def set_role(name, role):
        """Give NAME another role (takes effect at their next request)."""
        try:
            users.set_role(name, role)
        except users.UserError as error:
            raise click.ClickException(str(error))
        click.echo(f"{name!r} is now a {role}")

    @group.command("delete")
    @click.argument("name")
    def delete(name):
        """Delete NAME's account (their session ends at the next request)."""
        try:
            users.delete(name)
        except users.UserError as error:
            raise click.ClickException(str(error))
        click.echo(f"user {name!r} deleted")

    app.cli.add_command(group)
