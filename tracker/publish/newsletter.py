"""Past newsletter issues as history: the "Tools & Templates" list, parsed and stored.

Each entry of a past issue becomes an ``accepted`` publication: the editors chose it, so it is
training data for the classifier and the reference the digest must reproduce. The lines were
typed by hand week after week, so the parser expects the mess real issues contain:

    On 7 April MoJ published Family Court Statistics Quarterly: October to December 2024
    On Thursday 25 July LGA and County Councils Network published Towards ...
    In August Skills for Care published ...                       (only the month is known)
    ... Neutral Citation Number: [2024] EWHC 1353 (Admin).On 24 May the Childrens' Commissioner ...
                                                                  (two entries glued together)

The publisher is everything before the first verb ("published", "released", ...), because
publishers' names contain spaces and brackets but never those verbs; it is then normalised to the
short name in ``publishers.yaml`` ("Oftsed" -> "Ofsted"), while ``line`` keeps the entry as
written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from sqlite_utils import Database

from tracker import TrackerError
from tracker.dates import MONTHS
from tracker.paths import data_file
from tracker.store import PastEntry, store_past_entries
from tracker.yamlfile import load_yaml

VERBS = ("published", "released", "launched", "premiered", "advertised", "broadcast")
# An issue lists what came out before it; an entry dated more than this after the issue date
# belongs to the year before (a "December" item in a January issue).
LOOKAHEAD = timedelta(days=14)
URN = "urn:tracker:newsletter:{issue}:{n}"
PUBLISHERS_FILE = "publishers.yaml"

_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_WEEKDAY = r"(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day"
_START = (
    rf"(?:On\s+(?:{_WEEKDAY},?\s+)?\d{{1,2}}(?:st|nd|rd|th)?\s+(?i:{_MONTH})\b"
    rf"|In\s+(?i:{_MONTH})\b)"
)
ENTRY_START = re.compile(_START)
ENTRY = re.compile(
    rf"(?:On\s+(?:{_WEEKDAY},?\s+)?(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<month>(?i:{_MONTH}))"
    rf"|In\s+(?P<month_only>(?i:{_MONTH})))\.?(?:\s+(?P<year>\d{{4}}))?,?\s+(?P<rest>.+)",
    re.S,
)
# "...(Admin).On 24 May ...": a new entry starting straight after a sentence ends.
GLUED = re.compile(rf"(?<=[.)!?’”\"'])\s*(?={_START})")
HEADING = re.compile(r"^\s*tools\s*(?:&|and)\s*templates\s*$", re.I)
SECTION_END = re.compile(r"^\s*contact details\s*$", re.I)


class NewsletterError(TrackerError):
    pass


@dataclass(frozen=True)
class NewsletterItem:
    date: date  # the first of the month when ``month_only``
    month_only: bool
    publisher: str  # the configured short name, or the newsletter's wording when not configured
    verb: str
    title: str
    line: str  # the entry exactly as the issue wrote it


@dataclass(frozen=True)
class Skipped:
    line: str
    reason: str


@dataclass
class Issue:
    date: date
    path: Path
    items: list[NewsletterItem]
    skipped: list[Skipped]


@dataclass
class ImportResult:
    issue: date
    imported: list[int] = field(default_factory=list)  # publication ids
    already: int = 0  # entries stored by an earlier import, left as they are
    skipped: list[Skipped] = field(default_factory=list)


def parse_newsletter(text: str, issue_date: date, verbs: Iterable[str] = VERBS) -> list[NewsletterItem]:
    """Every entry of the issue's Tools & Templates list, in the issue's order; ``verbs``: the
    words that may end an entry's publisher (an issue tracker wrote uses its editors' too)."""
    return parse_section(text, issue_date, verbs)[0]


def parse_section(text: str, issue_date: date,
                  verbs: Iterable[str] = VERBS) -> tuple[list[NewsletterItem], list[Skipped]]:
    """The entries, and the lines of the section that are not entries (with the reason)."""
    items: list[NewsletterItem] = []
    skipped: list[Skipped] = []
    verb_pattern = _verb_pattern(frozenset(verbs))
    for line in _logical_lines(_section(text)):
        for piece in GLUED.split(line):
            parsed = _parse_entry(piece.strip(), issue_date, verb_pattern)
            if isinstance(parsed, NewsletterItem):
                items.append(parsed)
            else:
                skipped.append(parsed)
    return items, skipped


def _section(text: str) -> list[str]:
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if HEADING.match(line):
            body = lines[index + 1 :]
            end = next((i for i, line in enumerate(body) if SECTION_END.match(line)), len(body))
            return body[:end]
    raise NewsletterError("no 'Tools & Templates' section in this newsletter")


def _logical_lines(lines: list[str]) -> list[str]:
    """Join an entry's continuation lines onto it.

    A line that does not start an entry continues the entry above when nothing separates them,
    or when it starts in lower case (a sentence cannot start there); otherwise it stands alone
    and will be reported as skipped.
    """
    logical: list[str] = []
    after_blank = True
    for raw in lines:
        text = raw.strip()
        if not text:
            after_blank = True
            continue
        continues = (
            logical
            and not ENTRY_START.match(text)
            and ENTRY_START.match(logical[-1])
            and (not after_blank or text[0].islower())
        )
        if continues:
            logical[-1] = f"{logical[-1]} {text}"
        else:
            logical.append(text)
        after_blank = False
    return logical


@lru_cache(maxsize=16)
def _verb_pattern(verbs: frozenset[str]) -> re.Pattern[str]:
    """Any of ``verbs`` as whole words, the longest first where two start alike: "published
    online" is read whole, not as "published" before a title that starts "online"."""
    phrases = sorted({_squash(verb) for verb in verbs} - {""}, key=len, reverse=True)
    return re.compile(rf"(?<!\w)({'|'.join(map(re.escape, phrases))})(?!\w)")


def _parse_entry(line: str, issue_date: date, verb_pattern: re.Pattern[str]) -> NewsletterItem | Skipped:
    match = ENTRY.fullmatch(_squash(line))
    if not match:
        return Skipped(_squash(line), "not an entry: no date ('On 7 April', 'In August') at the start")
    verb = verb_pattern.search(match["rest"])
    if not verb:
        return Skipped(_squash(line), f"no verb ({', '.join(VERBS)}) after the publisher")
    publisher = match["rest"][: verb.start()].strip(" ,")
    title = match["rest"][verb.end() :].strip()
    if not publisher or not title:
        return Skipped(_squash(line), "no publisher or no title around the verb")
    month = MONTHS[(match["month"] or match["month_only"]).lower()]
    day = int(match["day"]) if match["day"] else 1
    year = int(match["year"]) if match["year"] else None
    when = _entry_date(issue_date, year, month, day)
    if when is None:
        return Skipped(_squash(line), f"no such date: {day} {match['month']}")
    return NewsletterItem(
        date=when,
        month_only=match["month_only"] is not None,
        publisher=canonical_publisher(publisher),
        verb=verb.group(1),
        title=title,
        line=line,
    )


def _entry_date(issue_date: date, year: int | None, month: int, day: int) -> date | None:
    for candidate_year in [year] if year else [issue_date.year, issue_date.year - 1]:
        try:
            candidate = date(candidate_year, month, day)
        except ValueError:
            continue
        if year or candidate <= issue_date + LOOKAHEAD:
            return candidate
    return None


def _squash(text: str) -> str:
    """One space between words: issues are full of no-break spaces and doubled spaces."""
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ")).strip()


def _fold(name: str) -> str:
    folded = _squash(name).replace("’", "'").replace("‘", "'").casefold()
    return folded.removeprefix("the ")


@lru_cache(maxsize=1)
def publisher_entries() -> tuple[dict, ...]:
    """publishers.yaml's entries (name, aliases, polled_as), read once."""
    config = load_yaml(data_file(PUBLISHERS_FILE), what="publishers file", error=NewsletterError)
    return tuple(config["publishers"])


@lru_cache(maxsize=1)
def _publisher_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for publisher in publisher_entries():
        for spelling in [publisher["name"], *publisher.get("aliases", [])]:
            names[_fold(spelling)] = publisher["name"]
    return names


def canonical_publisher(written: str) -> str:
    """The configured short name for a publisher as the newsletter wrote it.

    Unknown publishers (joint lines, one-off bodies) keep the newsletter's wording, with
    straight apostrophes as in sources.yaml so that the same publisher compares equal.
    """
    known = _publisher_names().get(_fold(written))
    return known or _squash(written).replace("’", "'").replace("‘", "'")


def read_newsletter(path: str | Path, issue_date: date) -> Issue:
    """Read and parse one issue; every problem with the file is a NewsletterError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NewsletterError(f"no such file: {path}") from None
    except OSError as ex:
        raise NewsletterError(f"cannot read {path}: {ex.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Issues pasted out of Word on Windows arrive as cp1252.
        text = data.decode("cp1252", errors="replace")
    try:
        items, skipped = parse_section(text, issue_date)
    except NewsletterError as ex:
        raise NewsletterError(f"{path}: {ex}") from None
    return Issue(date=issue_date, path=path, items=items, skipped=skipped)


def store_issue(db: Database, issue: Issue) -> ImportResult:
    """Store each entry as an accepted publication, with themes; an entry already stored is
    left alone.

    The URL is the entry's position in the issue, so importing an issue again finds the same
    rows and changes nothing, whatever an editor has done to them since.
    """
    entries = [
        PastEntry(
            url=URN.format(issue=issue.date.isoformat(), n=n), title=item.title,
            publisher=item.publisher, published=item.date.isoformat(),
            date_source="month" if item.month_only else "newsletter", verb=item.verb,
            line=item.line,
        )
        for n, item in enumerate(issue.items, 1)
    ]
    imported, already = store_past_entries(db, entries, seen=f"{issue.date.isoformat()}T00:00:00Z")
    result = ImportResult(issue=issue.date, imported=imported, already=already,
                          skipped=list(issue.skipped))
    if result.imported:
        # Themes let the digest group past issues by network; the classifier knows these
        # entries (they are in its labelled data), and never overrides an editor's themes.
        from tracker.judgement.classify import classify_publications

        classify_publications(db, result.imported)
    return result


def import_newsletter(db: Database, path: str | Path, issue_date: date) -> ImportResult:
    return store_issue(db, read_newsletter(path, issue_date))
