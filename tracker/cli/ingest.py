"""`tracker poll` and `tracker sources`: the ingest stage's commands."""

from __future__ import annotations

import sys

import click

from .errors import user_errors
from .params import db_option, sources_option


@click.command()
@sources_option
@db_option
@click.option("--source", "source_ids", multiple=True, metavar="ID", help="Poll only this source (repeatable)")
@click.option("--due", is_flag=True, help="Skip sources whose next scheduled poll has not come yet")
@click.option("--all-sources", "every_source", is_flag=True,
              help="A summary row for every source, not only those with news or an error")
@user_errors
def poll(sources_path: str, db_path: str, source_ids: tuple[str, ...], due: bool, every_source: bool) -> None:
    """Fetch, parse, store and classify what is new, once, for every source.

    Exits 0 when the pass completed, even if some sources failed: each failure is recorded on
    its source (see the sources table) and shown in the summary. The summary has a row for each
    source with new or updated publications, skipped entries or an error, and counts the rest.

    \b
    Example:
        tracker poll --source dfe-activity --source ofsted-search
    """
    from tracker.ingest.config import load_config

    # Validate first: a mistake in sources.yaml is reported before anything heavier loads.
    config = load_config(sources_path)
    sources = config.select(source_ids)
    from tracker.ingest.poll import poll_sources
    from tracker.store import PollRunning, open_database

    from .progress import ProgressBar, render_summary

    db = open_database(db_path)
    try:
        with ProgressBar(sys.stderr.isatty()) as on_progress:
            summary = poll_sources(db, config, sources, db_path=db_path, due_only=due,
                                   on_progress=on_progress)
    except PollRunning as ex:
        click.echo(f"{ex}: nothing to do", err=True)
        return
    render_summary(summary, every_source)


@click.group()
def sources() -> None:
    """The sources in sources.yaml: check them against the live sites."""


@sources.command(name="check")
@sources_option
@click.option("--source", "source_ids", multiple=True, metavar="ID", help="Check only this source (repeatable)")
@click.option("--json", "as_json", is_flag=True, help="JSON: one object per source, with any proposal")
@user_errors
def sources_check(sources_path: str, source_ids: tuple[str, ...], as_json: bool) -> None:
    """Fetch each source once, store nothing, and say which work.

    Per source: whether it works, how many items it gave, its newest date, and what is wrong
    in words. For a failing source, or one that depends on CSS selectors, the feed its site
    advertises, its WordPress API or its sitemap is tried, and the first that gives items is
    printed as a sources.yaml entry to replace it. Exit 0 with the table; 2 for an unreadable
    sources file.

    \b
    Example:
        tracker sources check --source kinship-news
    """
    from tracker.dates import london_date, utc_now
    from tracker.ingest.check import check_sources
    from tracker.ingest.config import load_config

    from .checks import render_checks

    config = load_config(sources_path)
    checks = check_sources(config, config.select(source_ids))
    render_checks(checks, as_json, london_date(utc_now()) or utc_now().date())
