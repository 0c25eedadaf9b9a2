"""The offline demo: the bundled sample feeds, served on loopback, through the whole pipeline.

A newcomer without internet runs `make run` and sees a populated workspace; the samples are
served over real HTTP (with Last-Modified, so conditional GET works too) rather than read from
disk, so the demo exercises exactly the code that polls the real publishers.

The samples were recorded in spring 2025. So that the demo shows a real week (this week's
candidates, an accepted list, a stored draft), the server moves every date in them forward by
whole weeks, the newest to this week: weekdays stay true ("Mon, 07 Apr 2025" stays a Monday).
"""

from __future__ import annotations

import email.utils
import io
import json
import logging
import re
import secrets
import threading
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO

from tracker import TrackerError
from tracker.dates import LONDON, MONTH_NAMES
from tracker.ingest.config import Config, load_config
from tracker.ingest.poll import PollSummary, ProgressCallback, poll_sources
from tracker.paths import data_file
from tracker.publish.digest import collect, current_issue, save_digest
from tracker.store import PollRunning, open_database, set_status

log = logging.getLogger(__name__)

SAMPLE_HOST = "127.0.0.1"
SAMPLE_PORT = 8765  # sources.sample.yaml points here
SAMPLE_SOURCES = "sources.sample.yaml"
SAMPLES = "samples"
DEMO_DB = "db/demo.db"
DEMO_EDITOR = "editor"
# The newest date in the samples: served moved to this week (see the module's docstring).
SAMPLES_NEWEST = date(2025, 4, 7)
# How many of the week's likeliest candidates the demo accepts, as an editor would, when the
# issue's list is still empty: enough to show a list, few enough to leave the triage to do.
DEMO_ACCEPTS = 3
WEEKDAY = r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
SHORT_MONTHS = [name[:3] for name in MONTH_NAMES]
# The three ways the samples write a date: ISO 8601 with a time, RFC 822, and a listing's
# "7th February 2025" as an element's whole text (never a date inside a title or summary).
ISO = re.compile(rb"(?<![\w/])(20\d\d)-(\d\d)-(\d\d)(?=T\d\d:\d\d)")
RFC822 = re.compile(rb"\b" + WEEKDAY.encode() + rb", (\d\d) (" + "|".join(SHORT_MONTHS).encode() + rb") (20\d\d)")
LISTING = re.compile(rb">(\s*)(\d{1,2})(st|nd|rd|th)? (" + "|".join(MONTH_NAMES).encode() + rb") (20\d\d)(\s*)<")


def sample_shift(today: date) -> timedelta:
    """Whole weeks that bring the samples' newest date into the 7 days ending ``today``."""
    return timedelta(weeks=max(0, (today - SAMPLES_NEWEST).days // 7))


def shift_dates(body: bytes, shift: timedelta) -> bytes:
    """``body`` with every date the samples carry (see ISO, RFC822, LISTING) moved by ``shift``."""
    if not shift:
        return body

    def iso(match: re.Match[bytes]) -> bytes:
        return (date(*map(int, match.groups())) + shift).isoformat().encode()

    def rfc822(match: re.Match[bytes]) -> bytes:
        day = date(int(match[4]), SHORT_MONTHS.index(match[3].decode()) + 1, int(match[2])) + shift
        return day.strftime("%a, %d ").encode() + SHORT_MONTHS[day.month - 1].encode() + f" {day.year}".encode()

    def listing(match: re.Match[bytes]) -> bytes:
        day = date(int(match[5]), MONTH_NAMES.index(match[4].decode()) + 1, int(match[2])) + shift
        suffix = _ordinal(day.day) if match[3] else ""
        return (b">" + match[1] + f"{day.day}{suffix} {MONTH_NAMES[day.month - 1]} {day.year}".encode()
                + match[6] + b"<")

    return LISTING.sub(listing, RFC822.sub(rfc822, ISO.sub(iso, body)))


def _ordinal(day: int) -> str:
    return "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


class _SampleServer(ThreadingHTTPServer):
    shift = timedelta(0)  # how far the served samples' dates move


class _SampleHandler(SimpleHTTPRequestHandler):
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".atom": "application/atom+xml; charset=utf-8",
        ".rss": "application/rss+xml; charset=utf-8",
        ".xml": "application/xml; charset=utf-8",
        ".json": "application/json",
        ".html": "text/html; charset=utf-8",
    }

    server: _SampleServer

    def log_message(self, format: str, *args: object) -> None:  # the demo's output is the summary
        pass

    def send_head(self) -> BinaryIO | None:
        """A sample file with its dates moved, Last-Modified its file's, 304 when unchanged."""
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(HTTPStatus.NOT_FOUND, "No such sample")
            return None
        modified = datetime.fromtimestamp(int(path.stat().st_mtime), timezone.utc)
        since = self.headers.get("If-Modified-Since")
        parsed = email.utils.parsedate_to_datetime(since) if since else None
        if parsed is not None and parsed.tzinfo is not None and modified <= parsed:
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.end_headers()
            return None
        body = shift_dates(path.read_bytes(), self.server.shift)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Last-Modified", email.utils.format_datetime(modified, usegmt=True))
        self.end_headers()
        return io.BytesIO(body)


def start_sample_server(root: Path, port: int = SAMPLE_PORT, shift: timedelta = timedelta(0)) -> ThreadingHTTPServer:
    """Serve ``root`` on 127.0.0.1:``port`` from a daemon thread, its dates moved by ``shift``;
    call .shutdown() to stop."""
    handler = partial(_SampleHandler, directory=str(root))
    try:
        server = _SampleServer((SAMPLE_HOST, port), handler)
    except OSError as ex:
        raise TrackerError(f"cannot serve the sample feeds on {SAMPLE_HOST}:{port}: {ex.strerror}") from None
    server.shift = shift
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="samples", daemon=True).start()
    log.debug("serving %s on %s:%d", root, SAMPLE_HOST, port)
    return server


def poll_samples(db_path: str | Path = DEMO_DB, *, sample_port: int = SAMPLE_PORT,
                 on_progress: ProgressCallback | None = None, today: date | None = None) -> PollSummary:
    """Serve the sample feeds on 127.0.0.1:``sample_port``, dated for the week ending ``today``
    (default: today in London), while the real pipeline polls them into ``db_path``."""
    config = _on_port(load_config(data_file(SAMPLE_SOURCES)), sample_port)
    today = today or datetime.now(LONDON).date()
    # Serving first: a busy port is reported before any database is created.
    server = start_sample_server(data_file(SAMPLES), sample_port, sample_shift(today))
    db_path = Path(db_path)
    try:
        with closing(open_database(db_path)) as db:
            return poll_sources(db, config, config.select(), db_path=db_path,
                                on_progress=on_progress)
    except PollRunning as ex:
        raise TrackerError(f"{ex}: wait for it to finish, or use another --db") from None
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class DemoWeek:
    issue: date  # the issue the demo's editors are working on
    accepted: int  # how many the demo accepted for it now (0 when its list already had some)
    listed: int  # how many its list holds


def prepare_week(db_path: str | Path, today: date | None = None) -> DemoWeek:
    """Make the current issue look as it does mid-week: when its list is still empty, accept the
    likeliest few of this week's candidates (audited as the editor 'demo'); then store its draft
    so that its digest page has something to show from the start."""
    today = today or datetime.now(LONDON).date()
    with closing(open_database(db_path)) as db:
        issue = current_issue(db, today)
        digest = collect(db, issue, candidates=DEMO_ACCEPTS)
        accepted = 0
        if not digest.accepted:
            for item in digest.candidates:
                set_status(db, item.id, "demo", "accepted")
                accepted += 1
        row = save_digest(db, issue)
    return DemoWeek(issue=issue, accepted=accepted, listed=json.loads(row["counts"])["accepted"])


def demo_editor(db_path: str | Path) -> tuple[str, str]:
    """The demo's editor account for ``db_path``: its name and a password made for this run, so
    that the account is not a known default that outlives the demo if someone serves that
    database later."""
    from tracker.web.editors import editor_add  # tracker.web loads Datasette: not for --no-serve

    password = secrets.token_urlsafe(9)
    editor_add(db_path, DEMO_EDITOR, password)
    return DEMO_EDITOR, password


def _on_port(config: Config, port: int) -> Config:
    """sources.sample.yaml names SAMPLE_PORT; another port (two demos, or tests running side by
    side) gets the same sources at its own address."""
    old, new = f"http://{SAMPLE_HOST}:{SAMPLE_PORT}/", f"http://{SAMPLE_HOST}:{port}/"
    sources = tuple(replace(s, url=s.url.replace(old, new, 1)) for s in config.sources)
    return replace(config, sources=sources)
