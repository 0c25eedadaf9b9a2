"""How much of what the editors listed tracker had found: per entry of an issue's Tools & Templates
list, whether a source had stored the publication by the issue date, which source, and how long
before (the lead time); recall overall and by publisher; and whether a source polls the entry's
publisher at all (publisher coverage, the figure sources.yaml is judged by).

Publications editors added by hand (``tracker add``, source ``manual``) count as misses: grouped
by publisher, they are the list of sources to add next.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from difflib import SequenceMatcher
from typing import Protocol

from sqlite_utils import Database

from tracker.dates import london_date
from tracker.ingest.normalise import url_key
from tracker.store import line_verbs
from tracker.text import title_key

from .kinds import DEFAULT_VERB, VERB_BY_DISPLAY_TYPE, VERB_CUES
from .newsletter import (
    VERBS,
    NewsletterError,
    NewsletterItem,
    canonical_publisher,
    parse_newsletter,
    publisher_entries,
)

MANUAL = "manual"
NEWSLETTER_URLS = "urn:tracker:newsletter:%"
# A publication first seen this long before an issue is not what the issue's entry describes.
LOOKBACK = timedelta(days=400)
SIMILAR = 0.85  # title similarity (difflib ratio of the folded titles) that counts as the same
JOINT = re.compile(r"\s+(?:and|&)\s+")
URL = re.compile(r"https?://[^\s)\]>\"']+")
# "[2024] EWHC 1353 (Admin)": the entry is a judgment, which a caselaw source polls.
NEUTRAL_CITATION = re.compile(r"\[\d{4}\]\s+(?:UKSC|UKPC|EWCA|EWHC|EWFC|EWCOP|UKUT|UKFTT)\b")


class PolledSource(Protocol):
    """What coverage needs of a source: a configured Source, or a row of the sources table."""

    @property
    def publisher(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def enabled(self) -> bool: ...


@dataclass(frozen=True)
class StoredSource:
    publisher: str
    type: str
    enabled: bool = True


@dataclass(frozen=True)
class EntryCoverage:
    item: NewsletterItem
    polled: bool  # a configured source polls the entry's publisher
    publication_id: int | None = None  # the stored publication it matched, if any
    source_id: str | None = None  # the source that found it; "manual" when an editor added it
    first_seen: date | None = None  # when tracker first held it (London date)
    lead_days: int | None = None  # days from first seen to the issue date

    @property
    def found(self) -> bool:
        return self.source_id is not None and self.source_id != MANUAL


@dataclass
class Coverage:
    issue_date: date
    entries: list[EntryCoverage]
    manual: Counter[str] = field(default_factory=Counter)  # hand-added publications by publisher

    @property
    def found(self) -> int:
        return sum(e.found for e in self.entries)

    @property
    def recall(self) -> float | None:
        return self.found / len(self.entries) if self.entries else None

    @property
    def polled(self) -> int:
        return sum(e.polled for e in self.entries)

    @property
    def publisher_coverage(self) -> float | None:
        return self.polled / len(self.entries) if self.entries else None

    def by_publisher(self) -> dict[str, tuple[int, int]]:
        """Publisher -> (entries found, entries), most entries first."""
        totals: Counter[str] = Counter(e.item.publisher for e in self.entries)
        found: Counter[str] = Counter(e.item.publisher for e in self.entries if e.found)
        return {publisher: (found[publisher], n) for publisher, n in totals.most_common()}


def measure_coverage(db: Database, items: list[NewsletterItem], issue_date: date,
                     sources: Sequence[PolledSource]) -> Coverage:
    """Coverage of ``items`` (an issue dated ``issue_date``) by what ``db`` held on that date."""
    polled = polled_publishers(sources)
    judgments = any(s.type == "caselaw" for s in sources if s.enabled)
    held = _held(db, issue_date)
    entries = []
    for item in items:
        is_polled = _is_polled(item, polled, judgments)
        match = _match(item, held)
        if match is None:
            entries.append(EntryCoverage(item, is_polled))
            continue
        seen = london_date(match["first_seen"])
        entries.append(EntryCoverage(
            item, is_polled, match["id"], match["found_by"], seen,
            (issue_date - seen).days if seen else None,
        ))
    manual: Counter[str] = Counter(
        canonical_publisher(row["publisher"] or "unknown") for row in held if row["found_by"] == MANUAL)
    return Coverage(issue_date, entries, manual)


def polled_publishers(sources: Sequence[PolledSource]) -> set[str]:
    """The publishers enabled sources poll, folded, with those polled under another name
    (``polled_as`` in publishers.yaml: a coalition publishing on a member's site, a podcast)."""
    names = {_fold(s.publisher) for s in sources if s.enabled}
    for publisher in publisher_entries():
        if _fold(publisher.get("polled_as") or "") in names:
            names.add(_fold(publisher["name"]))
    return names


def _fold(name: str) -> str:
    return canonical_publisher(name).casefold().removeprefix("the ")


def _is_polled(item: NewsletterItem, polled: set[str], judgments: bool) -> bool:
    """Whether a source polls the publisher; a joint entry ("LGA and County Councils Network")
    is polled when one of its publishers is."""
    if judgments and NEUTRAL_CITATION.search(item.line):
        return True
    names = [item.publisher, *JOINT.split(item.publisher)]
    return any(_fold(name) in polled for name in names)


def _held(db: Database, issue_date: date) -> list[dict]:
    """Every publication tracker held by the end of the issue date (imported issues excluded),
    with the source that found it first: a poller's source before an editor's hand."""
    end = (issue_date + timedelta(days=1)).isoformat()
    start = (issue_date - LOOKBACK).isoformat()
    rows = db.execute(
        """select p.id, p.title, p.url_key, p.publisher, p.first_seen,
                  coalesce((select ps.source_id from publication_sources ps
                            where ps.publication_id = p.id and ps.source_id != ? and ps.first_seen < ?
                            order by ps.first_seen limit 1), p.source_id) as found_by
           from publications p
           where p.url not like ? and p.first_seen >= ? and p.first_seen < ?""",
        [MANUAL, end, NEWSLETTER_URLS, start, end],
    ).fetchall()
    columns = ("id", "title", "url_key", "publisher", "first_seen", "found_by")
    return [dict(zip(columns, row, strict=True)) | {"key": title_key(row[1])} for row in rows]


def _match(item: NewsletterItem, held: list[dict]) -> dict | None:
    """The stored publication the entry describes: the same URL, the same folded title, or a
    similar title from the same publisher; a source's find before a hand-added copy."""
    keys = {url_key(url.rstrip(".,;")) for url in URL.findall(item.line)}
    wanted = title_key(item.title)
    publisher = _fold(item.publisher)
    matches = [row for row in held
               if row["url_key"] in keys or row["key"] == wanted
               or (_fold(row["publisher"] or "") == publisher and _similar(row["key"], wanted))]
    matches.sort(key=lambda row: (row["found_by"] in (MANUAL, None), row["first_seen"]))
    return matches[0] if matches else None


def _similar(stored: str, written: str) -> bool:
    """Editors shorten and retype titles: a close spelling, or the stored title starting with
    the entry's (a subtitle dropped), counts."""
    if not stored or not written:
        return False
    if len(written.split()) >= 4 and (stored.startswith(written) or written.startswith(stored)):
        return True
    return SequenceMatcher(None, stored, written).ratio() >= SIMILAR


def stored_sources(db: Database) -> list[StoredSource]:
    """The sources the last poll was configured with, as the sources table keeps them: what a
    workspace without sources.yaml at hand knows of the sources."""
    return [StoredSource(publisher or "", kind or "") for publisher, kind in
            db.execute("select publisher, type from sources where configured = 1").fetchall()]


def past_issues(db: Database) -> dict[date, list[NewsletterItem]]:
    """Each issue the database knows, newest first: the sent digests (their text parsed as an
    issue), and the issues imported with import-newsletter (their stored entries)."""
    issues: dict[date, list[NewsletterItem]] = {}
    # Every verb tracker may have written a line with, so that each line it sent reads back:
    # the ones it suggests and the ones its editors typed ("publishes"), besides the newsletter's.
    verbs = {*VERBS, DEFAULT_VERB, *(verb for verb, _ in VERB_CUES), *VERB_BY_DISPLAY_TYPE.values(),
             *line_verbs(db)}
    for week, text in db.execute("select week, text from digests where sent_at is not null").fetchall():
        try:
            issues[date.fromisoformat(week)] = parse_newsletter(text or "", date.fromisoformat(week), verbs)
        except NewsletterError:  # a sent digest with no list: nothing to measure
            continue
    rows = db.execute(
        """select substr(url, 24, 10) as issue, publisher, title, published, verb, newsletter_line,
                  date_source from publications where url like ? order by id""", [NEWSLETTER_URLS],
    ).fetchall()
    imported: dict[date, list[NewsletterItem]] = {}
    for issue, publisher, title, published, verb, line, date_source in rows:
        imported.setdefault(date.fromisoformat(issue), []).append(NewsletterItem(
            date=date.fromisoformat(published), month_only=date_source == "month",
            publisher=publisher or "", verb=verb or "published", title=title, line=line or title))
    # An imported issue is the list as the editors sent it, whatever tracker drafted that week.
    return dict(sorted({**issues, **imported}.items(), reverse=True))
