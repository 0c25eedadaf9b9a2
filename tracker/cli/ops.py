"""`tracker serve`, `demo` and `backup`: running the workspace."""

from __future__ import annotations

import sys

import click

from .errors import user_errors
from .params import db_option, file_option, sources_option


def _base_url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Datasette's base_url starts and ends with "/": "tracker" and "/tracker" mean "/tracker/"."""
    return f"/{value.strip('/')}/" if value.strip("/") else "/"


def _say_serving(url: str) -> None:
    click.echo(f"Serving the workspace at {url} (Ctrl-C to stop)", err=True)


@click.command()
@db_option
@sources_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on")
@click.option("--no-poll", is_flag=True, help="Serve only: do not poll the sources on a schedule")
@click.option("--private", is_flag=True, envvar="TRACKER_PRIVATE",
              help="Login-only: nothing is visible until an editor logs in (or TRACKER_PRIVATE=1)")
@click.option("--base-url", default="/", show_default=True, metavar="PATH", callback=_base_url,
              help="The path a proxy in front serves the workspace under, e.g. /tracker/")
@click.option("--session-hours", default=12, show_default=True, type=click.FloatRange(0, 2160, min_open=True),
              envvar="TRACKER_SESSION_HOURS", metavar="HOURS",
              help="How long an editor's login lasts (or TRACKER_SESSION_HOURS)")
@user_errors
def serve(db_path: str, sources_path: str, host: str, port: int, no_poll: bool, private: bool,
          base_url: str, session_hours: float) -> None:
    """Open the editors' workspace in Datasette, polling due sources in the background.

    Anyone may browse publications, sources, themes and digests; editors log in at /-/login
    (accounts: `tracker editor add`) to triage at /-/triage. Set DATASETTE_SECRET so logins
    survive a restart. Stops cleanly on Ctrl-C or SIGTERM.

    \b
    Example:
        DATASETTE_SECRET=$(openssl rand -hex 32) tracker serve --port 8001
    """
    from tracker.web.serve import serve as serve_workspace

    serve_workspace(db_path, None if no_poll else sources_path, host=host, port=port,
                    private=private, base_url=base_url, session_hours=session_hours,
                    ready=_say_serving)


@click.command()
@file_option("--db", "db_path", "SQLite database file for the demo", "db/demo.db")
@click.option("--port", type=int, default=8001, show_default=True, help="Port of the workspace")
@click.option("--no-serve", is_flag=True, help="Stop after the poll instead of opening the workspace")
@click.option("--sample-port", type=int, default=8765, show_default=True,
              help="Port to serve the sample feeds on")
@user_errors
def demo(db_path: str, port: int, no_serve: bool, sample_port: int) -> None:
    """Offline demo: serve the bundled sample feeds locally, poll them, open the workspace.

    The sample feeds (tracker/data/samples/, listed in sources.sample.yaml) are real-format copies of
    the publishers' feeds, served on 127.0.0.1:8765 and polled with the real pipeline.
    Needs no internet. Works from any directory.

    \b
    Example:
        tracker demo --no-serve
    """
    from tracker.ops.demo import demo_editor, poll_samples, prepare_week

    from .progress import ProgressBar, render_summary

    with ProgressBar(sys.stderr.isatty()) as on_progress:
        summary = poll_samples(db_path, sample_port=sample_port, on_progress=on_progress)
    render_summary(summary)
    week = prepare_week(db_path)
    demo_accepted = f", {week.accepted} of them accepted by the demo" if week.accepted else ""
    click.echo(f"The issue of {week.issue:%A} {week.issue.day} {week.issue:%B %Y}: {week.listed} on its list"
               f"{demo_accepted}; its draft is stored (Digests, in the workspace's menu)")
    if no_serve:
        return
    from tracker.web.serve import serve as serve_workspace

    name, password = demo_editor(db_path)
    click.echo(f"Log in at http://127.0.0.1:{port}/-/login as {name}, password {password}, "
               f"then triage at http://127.0.0.1:{port}/-/triage")
    click.echo(f"Opening the workspace on {db_path}...", err=True)
    # No scheduler: the samples do not change.
    serve_workspace(db_path, port=port, ready=_say_serving)


@click.command()
@click.argument("dest", type=click.Path())
@db_option
@user_errors
def backup(dest: str, db_path: str) -> None:
    """Copy the database consistently while tracker serve and polls keep running.

    DEST is a new file, or a folder to put a time-stamped copy in. Restore by stopping
    tracker serve and copying the file back (see the README).

    \b
    Example:
        tracker backup /var/backups/tracker/
    """
    from tracker.ops.backup import backup_database
    from tracker.text import human_size

    result = backup_database(db_path, dest)
    click.echo(f"Backed up {db_path} to {result.path}: {result.publications} publications, "
               f"{human_size(result.nbytes)} in {result.seconds:.1f}s")
