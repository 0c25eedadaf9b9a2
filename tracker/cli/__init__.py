"""The ``tracker`` command: each subcommand is a thin wrapper over one library function.

Heavy imports (scikit-learn, Datasette) happen inside the commands that need them, so that
``tracker poll`` from cron starts fast.
"""

from __future__ import annotations

import logging

import click

from tracker import __version__

from .editors import editor
from .errors import OneLineErrors
from .ingest import poll, sources
from .judgement import classify, evaluate, train
from .ops import backup, demo, serve
from .publish import add, coverage, digest, import_newsletter, notify

LOG_LEVELS = ("debug", "info", "warning", "error")


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tracker")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False), default="warning",
              show_default=True, envvar="TRACKER_LOG_LEVEL",
              help="Log tracker's messages of this level and above on stderr (or TRACKER_LOG_LEVEL)")
def cli(log_level: str) -> None:
    """Track what children's-services publishers publish, and draft the newsletter's list.

    \b
    tracker poll                  fetch every source once into db/tracker.db
    tracker serve                 browse and triage in Datasette, polling on a schedule
    tracker digest --week DATE    the Tools & Templates list for the issue dated DATE
    """
    # Other libraries' warnings still show; their chatter below that stays out of the way.
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.WARNING)
    logging.getLogger("tracker").setLevel(log_level.upper())


for command in (poll, sources, classify, train, evaluate, digest, add, import_newsletter, coverage, notify,
                serve, demo, backup, editor):
    cli.add_command(command)
