"""`tracker digest`, `add`, `import-newsletter`, `coverage` and `notify`: what the editors publish and check."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tracker import TrackerError

from .errors import user_errors
from .params import DEFAULT_SOURCES, IsoDate, db_option, sources_option
from .plural import counted

if TYPE_CHECKING:
    from tracker.publish.digest import Format


@click.command()
@click.option("--week", type=IsoDate(), metavar="YYYY-MM-DD",
              help="Issue date the list is for  [default: the coming issue day]")
# The digest's DEFAULT_WEEKS and FORMATS, written out: the library loads only when the command runs.
@click.option("--weeks", default=12, show_default=True, type=click.IntRange(1, 5200), metavar="N",
              help="Weeks of accepted publications, ending on the issue date")
@click.option("--candidates", default=30, show_default=True, type=click.IntRange(min=0), metavar="K",
              help="At most K of the week's new candidates for the editors, best first (0: none)")
@db_option
@click.option("--format", "fmt", default="text", show_default=True, metavar="text|markdown|html",
              type=click.Choice(("text", "markdown", "html")),
              help="Output format; markdown and html link each title")
@click.option("--by-network", is_flag=True, help="Group the lines under each theme's regional network")
@click.option("--by-type", is_flag=True,
              help="Group the lines by what the publications are (guidance, research, statistics, ...)")
@click.option("--save", is_flag=True, help="Also store the digest in the digests table (replacing that week)")
@click.option("--documents", is_flag=True,
              help="First look up page counts of the listed publications' PDFs (once each)")
@click.option("--sources", "sources_path", type=click.Path(dir_okay=False),
              help="Sources file for settings (issue_day, fetch limits)  [default: sources.yaml if present]")
@user_errors
def digest(week: date | None, weeks: int, candidates: int, db_path: str, fmt: Format, by_network: bool, by_type: bool,
           save: bool, documents: bool, sources_path: str | None) -> None:
    """The Tools & Templates list for the issue dated --week, in the newsletter's house style.

    The accepted publications dated, or accepted, in the last N weeks, newest first, then at
    most K of this week's new candidates for the editors, best first. Rejected publications
    never appear. The issue day (default Friday) comes from sources.yaml settings.issue_day.

    \b
    Examples:
        tracker digest --week 2025-04-18
        tracker digest --save --documents      # from cron: the coming issue, stored
    """

    from tracker.ingest.config import Settings, load_config
    from tracker.publish.digest import DigestRequest, digest_report

    if sources_path is None and Path(DEFAULT_SOURCES).exists():
        sources_path = DEFAULT_SOURCES
    # Without one (cron runs from /), the defaults: a list needs no sources file.
    settings = load_config(sources_path).settings if sources_path else Settings()
    request = DigestRequest(week=week, weeks=weeks, candidates=candidates, fmt=fmt,
                            by_network=by_network, by_type=by_type, save=save, documents=documents)
    click.echo(digest_report(db_path, request, settings), nl=False)


@click.command()
@click.argument("url")
@click.option("--title", default="", help="The title  [default: read from the page]")
@click.option("--publisher", default="", help="As the newsletter writes it, e.g. DfE  [default: from the page]")
@click.option("--date", "published", type=IsoDate(), metavar="YYYY-MM-DD",
              help="The publication's date  [default: from the page]")
@click.option("--verb", default="", help="The newsletter's verb, e.g. released  [default: suggested]")
@click.option("--accept", is_flag=True, help="Also accept it for the newsletter's list")
@db_option
@user_errors
def add(url: str, title: str, publisher: str, published: date | None, verb: str, accept: bool,
        db_path: str) -> None:
    """Add a publication the sources missed, reading what is not given from its page.

    Title, date, publisher and summary come from the page's own metadata (JSON-LD, OpenGraph,
    citation_* tags, GOV.UK's Content API, a PDF's properties); it is stored with source_id
    manual and classified. A URL already stored changes nothing.

    \b
    Example:
        tracker add https://www.gov.uk/government/publications/kinship-care --accept
    """
    from tracker.publish.adding import AddRequest, add_publication

    request = AddRequest(url=url, title=title, publisher=publisher, published=published, verb=verb,
                         accept=accept)
    added = add_publication(db_path, request, editor="cli")
    if added.created:
        click.echo(f"Added publication {added.id} ({'accepted' if accept else 'new'}): {added.line}")
    else:
        click.echo(f"Already stored as publication {added.id}: {added.title} (nothing changed)")


@click.command(name="import-newsletter")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--date", "issue_date", required=True, type=IsoDate(), metavar="YYYY-MM-DD",
              help="The issue's date")
@db_option
@user_errors
def import_newsletter(file: str, issue_date: date, db_path: str) -> None:
    """Store a past issue's Tools & Templates entries as accepted publications.

    Each entry keeps its publisher (as configured in tracker/data/publishers.yaml), title,
    date and verb; dates without a year take it from the issue. Importing an issue again
    changes nothing. Lines that are not entries are listed as skipped.

    \b
    Example:
        tracker import-newsletter issue-658.txt --date 2025-04-18
    """
    from tracker.dates import long_date
    from tracker.publish.newsletter import read_newsletter, store_issue
    from tracker.store import open_database

    # Read and parse first, so that a bad file never creates a database.
    issue = read_newsletter(file, issue_date)
    result = store_issue(open_database(db_path), issue)
    day = result.issue
    click.echo(f"{file} (issue of {long_date(day)}): imported "
               f"{counted(len(result.imported), 'entry', 'entries')}, {result.already} already imported, "
               f"skipped {len(result.skipped)}")
    for skipped in result.skipped:
        click.echo(f"  skipped: {skipped.line} ({skipped.reason})")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--date", "issue_date", required=True, type=IsoDate(), metavar="YYYY-MM-DD",
              help="The issue's date (entries' years are read from it)")
@db_option
@sources_option
@click.option("--json", "as_json", is_flag=True, help="JSON instead of the report")
@user_errors
def coverage(file: str, issue_date: date, db_path: str, sources_path: str, as_json: bool) -> None:
    """What tracker had found of an issue's Tools & Templates list, and how early.

    FILE is an issue in the format import-newsletter reads. For each entry: whether a source
    had stored the publication by the issue date (matched by URL, title, or a similar title
    from the same publisher), which source, and the lead time in days; recall overall and by
    publisher; publisher coverage (entries whose publisher a source in sources.yaml polls);
    and publications editors added by hand, by publisher: the sources to add next.

    \b
    Example:
        tracker coverage issues/2025-04-18.txt --date 2025-04-18
    """
    from tracker.ingest.config import load_config
    from tracker.publish.coverage import measure_coverage
    from tracker.publish.newsletter import read_newsletter
    from tracker.store import open_database

    from .recall import render_coverage

    config = load_config(sources_path)
    issue = read_newsletter(file, issue_date)
    db = open_database(db_path)
    render_coverage(measure_coverage(db, issue.items, issue_date, config.sources), as_json)


@click.command()
@sources_option
@db_option
@user_errors
def notify(sources_path: str, db_path: str) -> None:
    """Send what is due to the Apprise URLs in sources.yaml's settings.notify.

    An alert for each source that has failed settings.alert_after polls in a row (default 3)
    and one when it recovers; the weekly draft from settings.draft_day at draft_time (London;
    default the day before the issue, 16:00); saved-search matches, at once or in the day's
    message. Each message once, however often this runs. A failed delivery is kept with its
    reason and retried with backoff on a later run; the exit status is still 0.

    \b
    Example (cron, every 15 minutes):
        */15 * * * * cd /srv/tracker && SMTP_PASSWORD=... tracker notify
    """
    from tracker.ingest.config import load_config
    from tracker.publish.notify import notify as notify_editors
    from tracker.store import open_database

    settings = load_config(sources_path).settings
    if not settings.notify:
        raise TrackerError(f"{sources_path}: settings.notify lists no Apprise URLs to send to")
    result = notify_editors(open_database(db_path, must_exist=True), settings)
    for subject in result.queued:
        click.echo(f"due: {subject}")
    click.echo(f"{counted(len(result.queued), 'new message')} due, "
               f"{counted(result.sent, 'delivery', 'deliveries')} sent, {len(result.failed)} failed")
    for failure in result.failed:
        click.echo(f"not delivered: {failure}", err=True)
