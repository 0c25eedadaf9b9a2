"""The ``tracker`` command: each subcommand is a thin wrapper over one library function.

Heavy imports (scikit-learn, Datasette) happen inside the commands that need them, so that
``tracker poll`` from cron starts fast.
"""

from __future__ import annotations

import logging
import sys
from datetime import date

import click

from tracker import TrackerError, __version__

from .editors import editor
from .errors import user_errors
from .params import DEFAULT_SOURCES, IsoDate, OneLineErrors, db_option, file_option, sources_option

LOG_LEVELS = ("debug", "info", "warning", "error")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


cli.add_command(editor)


@cli.command()
@sources_option
@db_option
@click.option("--source", "source_ids", multiple=True, metavar="ID", help="Poll only this source (repeatable)")
@click.option("--due", is_flag=True, help="Skip sources whose next scheduled poll has not come yet")
@user_errors
def poll(sources_path: str, db_path: str, source_ids: tuple[str, ...], due: bool) -> None:
    """Fetch, parse, store and classify what is new, once, for every source.

    Exits 0 when the pass completed, even if some sources failed: each failure is recorded on
    its source (see the sources table) and shown in the summary.

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
    render_summary(summary)

@cli.group()
def sources() -> None:
    """The sources in sources.yaml: check them against the live sites."""


@sources.command(name="check", cls=OneLineErrors)
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


@cli.command(cls=OneLineErrors)
@click.argument("dest", type=click.Path())
@db_option
@user_errors
def backup(dest, db_path):
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


@cli.command(cls=OneLineErrors)
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
def digest(week, weeks, candidates, db_path, fmt, by_network, by_type, save, documents, sources_path):
    """The Tools & Templates list for the issue dated --week, in the newsletter's house style.

    The accepted publications dated, or accepted, in the last N weeks, newest first, then at
    most K of this week's new candidates for the editors, best first. Rejected publications
    never appear. The issue day (default Friday) comes from sources.yaml settings.issue_day.

    \b
    Examples:
        tracker digest --week 2025-04-18
        tracker digest --save --documents      # from cron: the coming issue, stored
    """
    from pathlib import Path

    from tracker.ingest.config import Settings, load_config
    from tracker.publish.digest import DigestRequest, digest_report

    if sources_path is None and Path(DEFAULT_SOURCES).exists():
        sources_path = DEFAULT_SOURCES
    # Without one (cron runs from /), the defaults: a list needs no sources file.
    settings = load_config(sources_path).settings if sources_path else Settings()
    request = DigestRequest(week=week, weeks=weeks, candidates=candidates, fmt=fmt,
                            by_network=by_network, by_type=by_type, save=save, documents=documents)
    click.echo(digest_report(db_path, request, settings), nl=False)


@cli.command()
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
    click.echo(f"{len(result.queued)} new messages due, {result.sent} deliveries sent, "
               f"{len(result.failed)} failed")
    for failure in result.failed:
        click.echo(f"not delivered: {failure}", err=True)


@cli.command(cls=OneLineErrors)
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


@cli.command()
@click.option("--rules-only", is_flag=True, help="Use themes.yaml's phrases alone, no model")
@click.option("--db", "db_path", type=click.Path(dir_okay=False),
              help="Score with this database's newest model from tracker train (else the shipped one)")
@user_errors
def classify(rules_only: bool, db_path: str | None) -> None:
    """Themes and a candidate score for JSON lines on stdin, one JSON line out per line in.

    Each input line is an object with a title (summary, publisher, url and any other keys are
    passed through); the output adds themes, candidate_score (0 to 1) and why. A bad line gets
    an "error" key and the rest carries on. Needs no network.

    \b
    Example:
        echo '{"title": "Kinship care strategy", "publisher": "DfE"}' | tracker classify
    """
    from io import BufferedIOBase
    from typing import cast

    from tracker.judgement.model import Classifier
    from tracker.judgement.provenance import classifier_for
    from tracker.judgement.themes import load_theme_set

    from .jsonlines import classify_lines

    if rules_only:
        classifier = Classifier(load_theme_set())
    else:
        from tracker.store import open_database

        classifier = classifier_for(open_database(db_path, must_exist=True) if db_path else None)
    # typeshed calls stdin's buffer a BinaryIO; it is a BufferedReader, whose read1 streaming needs
    classify_lines(classifier, cast(BufferedIOBase, sys.stdin.buffer), sys.stdout)


@cli.command()
@db_option
# `tracker serve` retrains in a process of its own (never holding up a page or a poll) and
# says so; not for people, so not in --help.
@click.option("--background", is_flag=True, hidden=True)
@user_errors
def train(db_path: str, background: bool) -> None:
    """Retrain from the editors' decisions and the shipped examples; re-score unreviewed.

    Prints cross-validated precision, recall and F1 per theme and the candidate ROC-AUC, beside
    the keyword-only baseline, stores the new model version in the database, and re-scores the
    publications not yet reviewed. Statuses and editor-set themes are never changed.
    """
    from tracker.judgement.training import train as train_model
    from tracker.store import open_database

    from .scores import scores_table

    trained = train_model(open_database(db_path, must_exist=True), trigger="background" if background else "train")
    click.echo(scores_table(trained.evaluation))
    click.echo(f"\nStored model {trained.model.version}; re-scored {trained.rescored} unreviewed publications.")


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--db", "db_path", type=click.Path(dir_okay=False),
              help="Also train on this database's editor decisions")
@click.option("--cross-validate", is_flag=True, help="Cross-validate on FILE alone instead")
@user_errors
def evaluate(file: str, db_path: str | None, cross_validate: bool) -> None:
    """Score a labelled JSON-lines file (title, summary, publisher, themes, candidate).

    By default a model trained on the shipped examples (and --db's decisions) minus FILE's own
    publications scores FILE; the keyword-only baseline is printed beside it.
    """
    from tracker.judgement.training import evaluate as evaluate_file
    from tracker.store import open_database

    from .scores import scores_table

    db = open_database(db_path, must_exist=True) if db_path else None
    click.echo(scores_table(evaluate_file(file, db, cross_validate_file=cross_validate), file))


def _base_url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Datasette's base_url starts and ends with "/": "tracker" and "/tracker" mean "/tracker/"."""
    return f"/{value.strip('/')}/" if value.strip("/") else "/"


def _say_serving(url: str) -> None:
    click.echo(f"Serving the workspace at {url} (Ctrl-C to stop)", err=True)


@cli.command()
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


@cli.command()
@file_option("--db", "db_path", "SQLite database file for the demo", "db/demo.db")
@click.option("--port", type=int, default=8001, show_default=True, help="Port of the workspace")
@click.option("--no-serve", is_flag=True, help="Stop after the poll instead of opening the workspace")
@click.option("--sample-port", type=int, default=8765, show_default=True,
              help="Port to serve the sample feeds on")
@user_errors
def demo(db_path: str, port: int, no_serve: bool, sample_port: int) -> None:
    """Offline demo: serve the bundled sample feeds locally, poll them, open the workspace.

    The sample feeds (samples/, listed in sources.sample.yaml) are real-format copies of
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


@cli.command(name="import-newsletter", cls=OneLineErrors)
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--date", "issue_date", required=True, type=IsoDate(), metavar="YYYY-MM-DD",
              help="The issue's date")
@db_option
@user_errors
def import_newsletter(file, issue_date, db_path):
    """Store a past issue's Tools & Templates entries as accepted publications.

    Each entry keeps its publisher (as configured in tracker/data/publishers.yaml), title,
    date and verb; dates without a year take it from the issue. Importing an issue again
    changes nothing. Lines that are not entries are listed as skipped.

    \b
    Example:
        tracker import-newsletter issue-658.txt --date 2025-04-18
    """
    from tracker.dates import MONTH_NAMES
    from tracker.publish.newsletter import read_newsletter, store_issue
    from tracker.store import open_database

    # Read and parse first, so that a bad file never creates a database.
    issue = read_newsletter(file, issue_date)
    result = store_issue(open_database(db_path), issue)
    day = result.issue
    entries = "entry" if len(result.imported) == 1 else "entries"
    click.echo(f"{file} (issue of {day.day} {MONTH_NAMES[day.month - 1]} {day.year}): imported "
               f"{len(result.imported)} {entries}, {result.already} already imported, "
               f"skipped {len(result.skipped)}")
    for skipped in result.skipped:
        click.echo(f"  skipped: {skipped.line} ({skipped.reason})")


@cli.command(cls=OneLineErrors)
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
