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
from typing import Literal

from sqlite_utils import Database

from tracker.dates import LONDON, MONTH_NAMES, london_date, utc_iso
from tracker.ingest.config import WEEKDAYS, Settings
from tracker.judgement.themes import load_themes, theme_list
from tracker.store import open_database, replace_digest
from tracker.text import human_size, is_http_url

from .documents import PDF, check_documents_now

DEFAULT_WEEKS = 12
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


def day_month(day: date) -> str:
    return f"{day.day} {MONTH_NAMES[day.month - 1]}"


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

    @property
    def when(self) -> str:
        return f"In {MONTH_NAMES[self.day.month - 1]}" if self.month_only else f"On {day_month(self.day)}"

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

    @property
    def start(self) -> date:
        return window_start(self.week, self.weeks)

    @property
    def counts(self) -> dict[str, int]:
        return {"accepted": len(self.accepted), "candidates": len(self.candidates)}


def window_start(week: date, weeks: int) -> date:
    """The first day of the 7 * N days ending on the issue date inclusive."""
    return week - timedelta(days=7 * weeks - 1)


def collect(db: Database, week: date, weeks: int = DEFAULT_WEEKS) -> Digest:
    """The accepted list for the window ending on ``week`` and that week's new candidates."""
    start = window_start(week, weeks)
    accepted = [
        item for item in _items(db, "accepted", start, week, by_first_seen=False)
        if start <= item.day <= week
    ]
    # Newest first; within a day, the order the publications arrived in (for newsletter
    # history that is the order the issue listed them).
    accepted.sort(key=lambda item: (-item.day.toordinal(), item.id))
    candidates = _items(db, "new", window_start(week, 1), week, by_first_seen=True)
    return Digest(week=week, weeks=weeks, accepted=accepted, candidates=candidates)


def _items(db: Database, status: str, start: date, end: date, *, by_first_seen: bool) -> list[Item]:
    # first_seen is UTC: select a day wider on each side, then keep the exact London dates.
    lo = utc_iso(datetime.combine(start - timedelta(days=1), time(), timezone.utc))
    hi = utc_iso(datetime.combine(end + timedelta(days=2), time(), timezone.utc))
    if by_first_seen:
        where = "p.first_seen >= :lo and p.first_seen < :hi"
        order = "p.candidate_score is null, p.candidate_score desc, p.first_seen desc, p.id"
    else:
        where = ("(p.published between :start and :end"
                 " or (p.published is null and p.first_seen >= :lo and p.first_seen < :hi))")
        order = "p.id"
    rows = db.execute_returning_dicts(
        f"""select p.id, p.url, p.title, p.publisher, p.published, p.date_source, p.first_seen,
                   p.themes, p.verb, d.content_type, d.pages, d.bytes
            from publications p left join documents d on d.publication_id = p.id and d.error is null
            where p.status = :status and {where} order by {order}""",
        {"status": status, "start": start.isoformat(), "end": end.isoformat(), "lo": lo, "hi": hi},
    )
    items = []
    for row in rows:
        seen = london_date(row["first_seen"])
        if by_first_seen and not (seen and start <= seen <= end):
            continue
        day = date.fromisoformat(row["published"]) if row["published"] else seen
        if day is None:
            continue
        items.append(Item(
            id=row["id"], url=row["url"], title=" ".join((row["title"] or "").split()),
            publisher=(row["publisher"] or "").strip(), day=day,
            month_only=row["date_source"] == "month" and row["published"] is not None,
            verb=row["verb"] or "published", themes=tuple(theme_list(row["themes"])),
            content_type=row["content_type"], pages=row["pages"], nbytes=row["bytes"],
        ))
    return items


@dataclass(frozen=True)
class Section:
    heading: str
    level: int
    items: list[Item]
    empty: str = ""  # said in words when there are no items


def sections(digest: Digest, networks: dict[str, str] | None = None) -> list[Section]:
    """The digest's headings and lines, before any format; ``networks`` maps theme -> network."""
    nothing = (f"Nothing was accepted between {day_month(digest.start)} {digest.start.year}"
               f" and {day_month(digest.week)} {digest.week.year}.")
    first = window_start(digest.week, 1)
    since = str(first.day) if first.month == digest.week.month else day_month(first)
    candidates_heading = (
        f"New this week, for the editors to review (first seen {since} to {day_month(digest.week)})"
    )
    nothing_new = "No new candidates were first seen this week."
    if networks is None:
        return [
            Section(HEADING, 1, digest.accepted, nothing),
            Section(candidates_heading, 2, digest.candidates, nothing_new),
        ]
    result = [Section(HEADING, 1, [], "" if digest.accepted else nothing)]
    accepted, candidates = _by_network(digest.accepted, networks), _by_network(digest.candidates, networks)
    names = sorted(set(accepted) | set(candidates), key=lambda name: (name == OTHER_NETWORK, name.lower()))
    for name in names:
        result.append(Section(name, 2, accepted.get(name, []), nothing))
        if candidates.get(name):
            result.append(Section(candidates_heading, 3, candidates[name]))
    if not candidates:
        result.append(Section(candidates_heading, 2, [], nothing_new))
    return result


def _by_network(items: list[Item], networks: dict[str, str]) -> dict[str, list[Item]]:
    groups: dict[str, list[Item]] = {}
    for item in items:
        for name in sorted({networks[t] for t in item.themes if networks.get(t)}) or [OTHER_NETWORK]:
            groups.setdefault(name, []).append(item)
    return groups


def render(digest: Digest, fmt: Format = "text", networks: dict[str, str] | None = None) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown digest format {fmt!r}: one of {', '.join(FORMATS)}")
    blocks = []
    for section in sections(digest, networks):
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
    db: Database, week: date, *, weeks: int = DEFAULT_WEEKS, networks: dict[str, str] | None = None,
    lookup_with: Settings | None = None, now: datetime | None = None,
) -> dict:
    """Generate and store the digest for one issue date, replacing that week's row only.

    With ``lookup_with`` (the polling settings: fetch limits), the listed publications'
    documents are looked up first (network). Every format is rendered before the one write, so
    a crash leaves the previous row or the new one, never half a digest. Returns the row.
    """
    digest = collect_documented(db, week, weeks, lookup_with)
    texts: dict[str, str] = {fmt: render(digest, fmt, networks) for fmt in FORMATS}
    return replace_digest(db, week, weeks, texts, digest.counts, generated_at=now)


def collect_documented(db: Database, week: date, weeks: int, lookup_with: Settings | None) -> Digest:
    """``collect``, after looking up the listed publications' documents when given settings."""
    digest = collect(db, week, weeks)
    if lookup_with is None:
        return digest
    if check_documents_now(db, [item.id for item in digest.accepted + digest.candidates], lookup_with):
        digest = collect(db, week, weeks)
    return digest


@dataclass(frozen=True)
class DigestRequest:
    """What ``tracker digest`` asks for."""

    week: date | None = None  # the issue date; None: the coming issue day
    weeks: int = DEFAULT_WEEKS
    fmt: Format = "text"
    by_network: bool = False  # group the lines under each theme's regional network
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
            row = save_digest(db, week, weeks=request.weeks, networks=networks, lookup_with=lookup_with)
            return row[request.fmt]
        return render(collect_documented(db, week, request.weeks, lookup_with), request.fmt, networks)
    finally:
        db.close()
