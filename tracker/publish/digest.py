"""The newsletter's Tools & Templates list, written in its own house style.

    On 7 April MoJ published Family Court Statistics Quarterly: October to December 2024

The digest only reads the store: an editor's ``status`` (set in Datasette or straight in SQL) is
read afresh on every run, so it is always respected. Document suffixes ("(pdf, 36 pages)") come
from the ``documents`` cache that ``tracker.publish.documents`` fills. Its one write, the
``digests`` row of a saved issue, goes through the store.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Literal

from sqlite_utils import Database

from tracker.dates import LONDON, MONTH_NAMES, london_date, long_date, utc_iso
from tracker.ingest.config import WEEKDAYS, Settings
from tracker.judgement.themes import load_themes, theme_list
from tracker.store import open_database, replace_digest, sent_weeks
from tracker.text import human_size, is_http_url

from .kinds import KINDS, PDF, kind_of, suggest_verb

DEFAULT_WEEKS = 12
DEFAULT_CANDIDATES = 30
Format = Literal["text", "markdown", "html"]
FORMATS: tuple[Format, ...] = ("text", "markdown", "html")
HEADING = "Tools & Templates"
OTHER_NETWORK = "Other"
# Markdown would read these as syntax inside a link text; "&" only where it starts an entity.
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~]|&(?=#?\w+;))")


def next_issue_date(today: date, issue_day: str = "friday") -> date:
    """The coming issue day: today when today is the issue day (the issue is still to go out)."""
    target = WEEKDAYS.index(issue_day.lower())
    return today + timedelta(days=(target - today.weekday()) % 7)


@dataclass(frozen=True)
class Item:
    """One publication as the list shows it."""

    id: int
    url: str
    title: str
    publisher: str
    day: date
    month_only: bool
    verb: str
    themes: tuple[str, ...]
    content_type: str | None = None
    pages: int | None = None
    nbytes: int | None = None
    issue_year: int | None = None  # the issue's year: a date in another year carries its own
    kind: str = "Other"  # its --by-type section (kinds.KINDS)

    @property
    def when(self) -> str:
        year = f" {self.day.year}" if self.issue_year and self.day.year != self.issue_year else ""
        if self.month_only:
            return f"In {MONTH_NAMES[self.day.month - 1]}{year}"
        return f"On {long_date(self.day, year=False)}{year}"

    @property
    def lead(self) -> str:
        """Everything before the title: "On 7 April MoJ published"."""
        return " ".join(part for part in (self.when, self.publisher, self.verb) if part)

    @property
    def suffix(self) -> str:
        """The newsletter's note for documents: "(pdf, 36 pages)", or the size without pages."""
        if self.content_type != PDF:
            return ""
        if self.pages:
            return f"(pdf, {self.pages} page{'s' if self.pages != 1 else ''})"
        if self.nbytes:
            return f"(pdf, {human_size(self.nbytes)})"
        return "(pdf)"

    @property
    def linkable(self) -> bool:
        # Newsletter history is stored under urn:tracker:... and must not become a link.
        return is_http_url(self.url)


@dataclass(frozen=True)
class Digest:
    week: date
    weeks: int
    accepted: list[Item]
    candidates: list[Item]
    shortlist: int = DEFAULT_CANDIDATES  # the most candidates asked for: 0, no candidates section

    @property
    def start(self) -> date:
        return window_start(self.week, self.weeks)

    @property
    def counts(self) -> dict[str, int]:
        return {"accepted": len(self.accepted), "candidates": len(self.candidates)}


def window_start(week: date, weeks: int) -> date:
    """The first day of the 7 * N days ending on the issue date inclusive."""
    return week - timedelta(days=7 * weeks - 1)


def collect(db: Database, week: date, weeks: int = DEFAULT_WEEKS,
            candidates: int = DEFAULT_CANDIDATES) -> Digest:
    """The issue dated ``week``: the accepted publications whose date or acceptance (London
    dates) lies in the ``weeks`` weeks ending on it, and at most ``candidates`` of that week's
    new publications, best first."""
    start = window_start(week, weeks)
    accepted = [
        item for item, accepted_on in _items(db, "accepted", start, week, week.year)
        if start <= item.day <= week or (accepted_on is not None and start <= accepted_on <= week)
    ]
    # Newest first; within a day, the order the publications arrived in (for newsletter
    # history that is the order the issue listed them).
    accepted.sort(key=lambda item: (-item.day.toordinal(), item.id))
    new = [item for item, _ in _items(db, "new", window_start(week, 1), week, week.year, candidates)]
    return Digest(week=week, weeks=weeks, accepted=accepted, candidates=new[:candidates],
                  shortlist=candidates)


# The line as the newsletter prints it: the editor's edits (edited_*) over the polled values.
LINE_COLUMNS = """p.id, p.url, coalesce(p.edited_title, p.title) as title,
    coalesce(p.edited_publisher, p.publisher) as publisher,
    coalesce(p.edited_published, p.published) as published,
    case when p.edited_published is null then p.date_source end as date_source, p.first_seen,
    p.reviewed_at, p.themes, coalesce(p.edited_verb, p.verb) as verb, p.document_type,
    d.content_type, d.pages, d.bytes"""


def _items(db: Database, status: str, start: date, end: date, issue_year: int,
           limit: int | None = None) -> list[tuple[Item, date | None]]:
    """The publications of that status in the window, each with the London date it was
    reviewed; candidates (``new``) by the date they were first seen, best first; the first
    ``limit`` of them when given."""
    # first_seen and reviewed_at are UTC: select a day wider on each side, then keep the
    # exact London dates.
    lo = utc_iso(datetime.combine(start - timedelta(days=1), time(), timezone.utc))
    hi = utc_iso(datetime.combine(end + timedelta(days=2), time(), timezone.utc))
    by_first_seen = status == "new"
    if by_first_seen:
        where = "p.first_seen >= :lo and p.first_seen < :hi"
        order = "p.candidate_score is null, p.candidate_score desc, p.first_seen desc, p.id"
    else:
        # The list's date in the window, or no date and first seen in it, or reviewed in it:
        # one branch per index (m012), as an OR over them would read every accepted row.
        where = """p.id in (
            select id from publications where status = :status
                and coalesce(edited_published, published) between :start and :end
            union all select id from publications where status = :status
                and coalesce(edited_published, published) is null
                and first_seen >= :lo and first_seen < :hi
            union all select id from publications where status = :status
                and reviewed_at >= :lo and reviewed_at < :hi)"""
        order = "p.id"
    rows = db.execute_returning_dicts(
        f"""select {LINE_COLUMNS}
            from publications p left join documents d on d.publication_id = p.id and d.error is null
            where p.status = :status and {where} order by {order}""",
        {"status": status, "start": start.isoformat(), "end": end.isoformat(), "lo": lo, "hi": hi},
    )
    items: list[tuple[Item, date | None]] = []
    for row in rows:
        # A week's candidates are thousands at a million publications; the shortlist needs
        # its first few lines only.
        if len(items) == limit:
            break
        seen = london_date(row["first_seen"])
        if by_first_seen and not (seen and start <= seen <= end):
            continue
        item = _item(row, issue_year)
        if item is not None:
            items.append((item, london_date(row["reviewed_at"]) if row["reviewed_at"] else None))
    return items


def _item(row: dict, issue_year: int | None) -> Item | None:
    day = date.fromisoformat(row["published"]) if row["published"] else london_date(row["first_seen"])
    if day is None:
        return None
    title = " ".join((row["title"] or "").split())
    return Item(
        id=row["id"], url=row["url"], title=title, publisher=(row["publisher"] or "").strip(), day=day,
        month_only=row["date_source"] == "month" and row["published"] is not None,
        verb=row["verb"] or suggest_verb(title, row["document_type"], row["url"]),
        themes=tuple(theme_list(row["themes"])),
        content_type=row["content_type"], pages=row["pages"], nbytes=row["bytes"],
        issue_year=issue_year, kind=kind_of(title, row["document_type"]),
    )


def publication_line(db: Database, publication_id: int, issue: date | None = None) -> Item | None:
    """One publication's line as the list would print it (edits applied, verb suggested when
    the editor set none), for an issue dated ``issue`` (its year decides whether the date
    carries one). None when there is no such publication."""
    rows = db.execute_returning_dicts(
        f"""select {LINE_COLUMNS}
            from publications p left join documents d on d.publication_id = p.id and d.error is null
            where p.id = ?""",
        [publication_id],
    )
    return _item(rows[0], issue.year if issue else None) if rows else None


@dataclass(frozen=True)
class Section:
    heading: str
    level: int
    items: list[Item]
    empty: str = ""  # said in words when there are no items


def sections(digest: Digest, networks: dict[str, str] | None = None, by_type: bool = False) -> list[Section]:
    """The digest's headings and lines, before any format: grouped under each theme's network
    (``networks`` maps theme -> network), or under what the publications are (``by_type``)."""
    nothing = (f"Nothing was accepted between {long_date(digest.start)}"
               f" and {long_date(digest.week)}.")
    first = window_start(digest.week, 1)
    since = str(first.day) if first.month == digest.week.month else long_date(first, year=False)
    candidates_heading = (
        f"New this week, for the editors to review (first seen {since} to {long_date(digest.week, year=False)})"
    )
    nothing_new = "No new candidates were first seen this week."
    if not digest.shortlist:
        candidates_heading = ""
    if by_type:
        return _grouped(digest, nothing, candidates_heading, nothing_new,
                        lambda item: [item.kind], KINDS.index)
    if networks is None:
        result = [Section(HEADING, 1, digest.accepted, nothing)]
        if candidates_heading:
            result.append(Section(candidates_heading, 2, digest.candidates, nothing_new))
        return result

    def network_names(item: Item) -> list[str]:
        return sorted({networks[t] for t in item.themes if networks.get(t)}) or [OTHER_NETWORK]

    return _grouped(digest, nothing, candidates_heading, nothing_new, network_names,
                    lambda name: (name == OTHER_NETWORK, name.lower()))


def _grouped(digest: Digest, nothing: str, candidates_heading: str, nothing_new: str,
             names_of: Callable[[Item], list[str]], order: Callable[[str], Any]) -> list[Section]:
    result = [Section(HEADING, 1, [], "" if digest.accepted else nothing)]
    accepted, candidates = _groups(digest.accepted, names_of), _groups(digest.candidates, names_of)
    names = sorted(set(accepted) | set(candidates), key=order)
    for name in names:
        result.append(Section(name, 2, accepted.get(name, []), nothing))
        if candidates.get(name):
            result.append(Section(candidates_heading, 3, candidates[name]))
    if not candidates and candidates_heading:
        result.append(Section(candidates_heading, 2, [], nothing_new))
    return result


def _groups(items: list[Item], names_of: Callable[[Item], list[str]]) -> dict[str, list[Item]]:
    groups: dict[str, list[Item]] = {}
    for item in items:
        for name in names_of(item):
            groups.setdefault(name, []).append(item)
    return groups


def render(digest: Digest, fmt: Format = "text", networks: dict[str, str] | None = None,
           by_type: bool = False) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown digest format {fmt!r}: one of {', '.join(FORMATS)}")
    blocks = []
    for section in sections(digest, networks, by_type):
        blocks.append(_heading(section, fmt))
        lines = [_line(item, fmt) for item in section.items]
        if not lines and section.empty:
            lines = [_words(section.empty, fmt)]
        blocks.extend(lines)
    return "\n\n".join(blocks) + "\n"


def _heading(section: Section, fmt: Format) -> str:
    if fmt == "markdown":
        return "#" * (section.level + 1) + " " + _markdown(section.heading)
    if fmt == "html":
        tag = f"h{section.level + 1}"
        return f"<{tag}>{html.escape(section.heading)}</{tag}>"
    return f"{section.heading}\n" + "=-~"[section.level - 1] * len(section.heading)


def _words(text: str, fmt: Format) -> str:
    if fmt == "markdown":
        return _markdown(text)
    if fmt == "html":
        return f"<p>{html.escape(text)}</p>"
    return text


def line(item: Item) -> str:
    """The plain house-style line, as the newsletter prints it."""
    return " ".join(part for part in (item.lead, item.title, item.suffix) if part)


def _line(item: Item, fmt: Format) -> str:
    if fmt == "text":
        return line(item)
    if fmt == "markdown":
        title = _markdown(item.title)
        if item.linkable:
            title = f"[{title}](<{_link_url(item.url)}>)"
        return " ".join(part for part in (_markdown(item.lead), title, item.suffix) if part)
    title = html.escape(item.title)
    if item.linkable:
        title = f'<a href="{html.escape(item.url)}">{title}</a>'
    parts = (html.escape(item.lead), title, html.escape(item.suffix))
    return "<p>" + " ".join(part for part in parts if part) + "</p>"


def _markdown(text: str) -> str:
    return MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _link_url(url: str) -> str:
    # Inside <...> a destination may hold anything but angle brackets and line breaks.
    return url.replace("<", "%3C").replace(">", "%3E").replace(" ", "%20").replace("\n", "")


def theme_networks() -> dict[str, str]:
    """Theme slug -> the regional network that follows it, from themes.yaml."""
    return {theme.slug: theme.network for theme in load_themes() if theme.network}


def save_digest(
    db: Database, week: date, *, weeks: int = DEFAULT_WEEKS, candidates: int = DEFAULT_CANDIDATES,
    networks: dict[str, str] | None = None, by_type: bool = False,
    lookup_with: Settings | None = None, now: datetime | None = None, sent_by: str | None = None,
) -> dict:
    """Generate and store the digest for one issue date, replacing that week's draft only.

    With ``lookup_with`` (the polling settings: fetch limits), the listed publications'
    documents are looked up first (network). Every format is rendered before the one write, so
    a crash leaves the previous row or the new one, never half a digest. ``sent_by`` stores it
    as sent by that editor (see mark_sent). A sent issue is never replaced: IssueSent. Returns
    the row.
    """
    digest = collect_documented(db, week, weeks, candidates, lookup_with)
    texts: dict[str, str] = {fmt: render(digest, fmt, networks, by_type) for fmt in FORMATS}
    return replace_digest(db, week, weeks, texts, digest.counts, generated_at=now, sent_by=sent_by)


def mark_sent(db: Database, week: date, editor: str, *, weeks: int = DEFAULT_WEEKS,
              now: datetime | None = None) -> dict:
    """Freeze the issue dated ``week`` as ``editor`` sent it: its list (without the editors'
    candidates) is rendered from the store now and kept as sent, and the next issue begins
    (``current_issue``). Raises IssueSent if it was already sent. Returns the digests row."""
    return save_digest(db, week, weeks=weeks, candidates=0, now=now, sent_by=editor)


def current_issue(db: Database, today: date, issue_day: str = "friday") -> date:
    """The issue the editors are working on: the coming issue day, or the first one after it
    not yet sent (an issue sent on Thursday makes the next week's the current one)."""
    week = next_issue_date(today, issue_day)
    sent = sent_weeks(db)
    while week in sent:
        week += timedelta(days=7)
    return week


def collect_documented(db: Database, week: date, weeks: int, candidates: int,
                       lookup_with: Settings | None) -> Digest:
    """``collect``, after looking up the listed publications' documents when given settings."""
    digest = collect(db, week, weeks, candidates)
    if lookup_with is None:
        return digest
    # Only a lookup needs the HTTP client: importing it costs every plain digest 150 ms.
    from .documents import check_documents_now

    if check_documents_now(db, [item.id for item in digest.accepted + digest.candidates], lookup_with):
        digest = collect(db, week, weeks, candidates)
    return digest


@dataclass(frozen=True)
class DigestRequest:
    """What ``tracker digest`` asks for."""

    week: date | None = None  # the issue date; None: the coming issue day
    weeks: int = DEFAULT_WEEKS
    candidates: int = DEFAULT_CANDIDATES  # at most this many of the week's new candidates
    fmt: Format = "text"
    by_network: bool = False  # group the lines under each theme's regional network
    by_type: bool = False  # group the lines under what the publications are
    save: bool = False  # also store it in the digests table
    documents: bool = False  # look up the listed publications' documents first


def digest_report(
    db_path: str | Path, request: DigestRequest = DigestRequest(), settings: Settings | None = None,
    *, today: date | None = None,
) -> str:
    """The list ``request`` asks for, in its format. ``settings`` (sources.yaml's, else the
    defaults) give the issue day and the limits for document look-ups."""
    settings = settings or Settings()
    week = request.week or next_issue_date(today or datetime.now(LONDON).date(), settings.issue_day)
    db = open_database(db_path, must_exist=True)
    try:
        networks = theme_networks() if request.by_network else None
        lookup_with = settings if request.documents else None
        if request.save:
            row = save_digest(db, week, weeks=request.weeks, candidates=request.candidates,
                              networks=networks, by_type=request.by_type, lookup_with=lookup_with)
            return row[request.fmt]
        digest = collect_documented(db, week, request.weeks, request.candidates, lookup_with)
        return render(digest, request.fmt, networks, request.by_type)
    finally:
        db.close()
