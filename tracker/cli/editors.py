"""`tracker editor`: the workspace's accounts, kept beside the database (tracker.web.editors)."""

from __future__ import annotations

import sys

import click

from .errors import user_errors
from .params import db_option


@click.group()
def editor() -> None:
    """Editor accounts for the Datasette workspace (kept beside the database, never in it)."""


@editor.command(name="add")
@click.argument("name")
@db_option
@user_errors
def editor_add(name: str, db_path: str) -> None:
    """Create or reset an editor account; the password comes from stdin when piped.

    A reset ends the sessions opened with the old password, in a running tracker serve too.

    \b
    Example:
        printf '%s\\n' "$PASSWORD" | tracker editor add alice --db db/tracker.db
    """
    from tracker.web.editors import editor_add as add

    _refuse_another_file(db_path)
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    created = add(db_path, name, password)
    click.echo(f"{'Created' if created else 'Reset the password of'} editor {name} for {db_path}")


@editor.command(name="remove")
@click.argument("name")
@db_option
@user_errors
def editor_remove(name: str, db_path: str) -> None:
    """Remove an editor account; its sessions end at once, in a running tracker serve too.

    \b
    Example:
        tracker editor remove alice --db db/tracker.db
    """
    from tracker.web.editors import editor_remove as remove

    _refuse_another_file(db_path)
    remove(db_path, name)
    click.echo(f"Removed editor {name} from {db_path}; their sessions have ended")


def _refuse_another_file(db_path: str) -> None:
    """An account is for a tracker database (CONTRACT: another file is an error, exit 2): a
    mistyped --db is refused before an accounts file or its lock is written beside it."""
    from tracker.store import open_database

    open_database(db_path, must_exist=True).close()
