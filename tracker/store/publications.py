"""Publications: one row per publication, whichever sources announced it and however often.

A row is keyed on its URL (``url_key`` folds http/https, www. and a trailing slash), or on its
folded title when another publisher announces the same report. What a repeated announcement may
change is decided by ``announcement_changes`` alone, away from the SQL that applies it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Protocol, cast

from sqlite_utils import Database

from tracker.dates import utc_iso
from tracker.entries import Entry
from tracker.text import title_key

from .database import audit, write_transaction

# Titles shorter than this ("Annual report", "News") are too generic to merge publishers on.
MIN_TITLE_KEY_FOR_MERGE = 25
TITLE_MERGE_WINDOW = timedelta(days=120)
# What the decision reads of a stored publication.
DECISION_COLUMNS = "id, title, summary, published, source_id, updated, status"
# A date another source gives may lower a publication's date by at most this: further is more
# likely a wrong date (a 1970 placeholder) than an earlier copy, so an editor is shown it instead.
MAX_DATE_MOVE = timedelta(days=30)
# The audit log's editor for what the poll itself changed or recorded.
POLL_EDITOR = "poll"


class Announcer(Protocol):
    """What the store reads of the source announcing an entry (``tracker.ingest.config.Source``)."""

    @property
    def id(self) -> str: ...
    @property
    def publisher(self) -> str: ...
    @property
    def themes(self) -> tuple[str, ...]: ...  # the themes its publications start with


@dataclass
class StoreResult:
    new_ids: list[int] = field(default_factory=list)
    updated: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)  # entries the store could not keep, and why


@dataclass(frozen=True)
class Update:
    """An upstream change of a stored publication that is recorded for the editors, not applied
    (a ``publication_updates`` row): ``kind`` 'updated', 'title' or 'date'."""

    kind: str
    old_value: str | None
    new_value: str | None
    change_note: str | None = None
    upstream_at: str | None = None


@dataclass
class Decision:
    changes: dict[str, Any] = field(default_factory=dict)  # columns to set
    updates: list[Update] = field(default_factory=list)  # changes to record, not apply


def announcement_changes(row: dict[str, Any], entry: Entry, source_id: str, linked: bool) -> dict[str, Any]:
    """The columns of a stored publication that this announcement of it changes."""
    return decide(row, entry, source_id, linked).changes


def decide(row: dict[str, Any], entry: Entry, source_id: str, linked: bool) -> Decision:
    """What this announcement of a stored publication changes, and what it only records.

    A later poll never changes ``status``, editor-set ``themes`` or ``published``, except that a
    source not seen announcing it before, giving an earlier date (or the first date), lowers
    ``published`` (earliest wins) by at most MAX_DATE_MOVE. The source that first announced it
    keeps its wording current. Once accepted, title and date are what the editors saw: a change
    is recorded as an update instead. ``linked``: this source has announced it before.
    """
    decision = Decision()
    changes, accepted = decision.changes, row.get("status") == "accepted"
    if not linked:
        if entry.published and (row["published"] is None or entry.published < row["published"]):
            if accepted or (row["published"] and _days_apart(entry.published, row["published"]) > MAX_DATE_MOVE):
                decision.updates.append(Update("date", row["published"], entry.published))
            else:
                changes.update(published=entry.published, date_source=entry.date_source)
    elif row["source_id"] == source_id and (entry.title, entry.summary) != (row["title"], row["summary"]):
        if not accepted:
            changes.update(title=entry.title, summary=entry.summary, title_key=entry.title_key)
        elif entry.title != row["title"]:
            decision.updates.append(Update("title", row["title"], entry.title))
    if entry.updated and entry.updated != row["updated"] and (linked or row["updated"] is None):
        changes["updated"] = entry.updated
        # Only the source's own later timestamp is an update: another copy dated otherwise is not.
        # GOV.UK's Search API gives a change note; an Atom entry says what changed in its summary.
        if linked and row["updated"] and entry.updated > row["updated"]:
            decision.updates.append(Update("updated", row["updated"], entry.updated,
                                           change_note=entry.change_note or entry.summary or None,
                                           upstream_at=entry.updated))
    return decision


def _days_apart(a: str, b: str) -> timedelta:
    return abs(date.fromisoformat(a) - date.fromisoformat(b))


def store_entry(db: Database, source: Announcer, entry: Entry, now: str, result: StoreResult) -> None:
    """Insert the entry as a new publication, or apply what it changes on the one it repeats.

    Runs inside the caller's transaction; ``now`` is the fetch's UTC ISO timestamp.
    """
    row = _find_publication(db, source, entry, now)
    if row is None:
        cursor = db.execute(
            """insert into publications (url, url_key, title, summary, publisher, published,
                 date_source, source_id, first_seen, last_seen, updated, document_type,
                 status, themes, title_key)
               values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'new', ?, ?)""",
            [
                entry.url, entry.url_key, entry.title, entry.summary, source.publisher,
                entry.published, entry.date_source, source.id, now, now, entry.updated,
                entry.document_type, json.dumps(list(source.themes)), entry.title_key,
            ],
        )
        new_id = cast(int, cursor.lastrowid)  # set by every INSERT that adds a row
        result.new_ids.append(new_id)
        _link_source(db, new_id, source, entry, now)
        return
    publication_id = row["id"]
    linked = db.execute(
        "select 1 from publication_sources where publication_id = ? and source_id = ?",
        [publication_id, source.id],
    ).fetchone() is not None
    decision = decide(row, entry, source.id, linked)
    changes = decision.changes
    for update in decision.updates:
        _record_update(db, publication_id, source.id, update, now)
    if "published" in changes and row["published"]:
        audit(db, POLL_EDITOR, now, "poll_published", row["published"], changes["published"], publication_id)
    if not linked:
        _link_source(db, publication_id, source, entry, now)
    if changes:
        result.updated += 1
    else:
        result.unchanged += 1
    changes = {"last_seen": now, **changes}
    assignments = ", ".join(f"{column} = ?" for column in changes)
    db.execute(
        f"update publications set {assignments} where id = ?", [*changes.values(), publication_id]
    )
    db.execute(
        "update publication_sources set last_seen = ? where publication_id = ? and source_id = ?",
        [now, publication_id, source.id],
    )


def _record_update(db: Database, publication_id: int, source_id: str, update: Update, now: str) -> None:
    """Record an upstream change once (a feed repeats it every poll), and audit a title or date
    the poll did not apply."""
    known = db.execute(
        """select 1 from publication_updates where publication_id = ? and kind = ?
           and new_value is ?""", [publication_id, update.kind, update.new_value]).fetchone()
    if known:
        return
    db.execute(
        """insert into publication_updates (publication_id, source_id, seen_at, kind, change_note,
             old_value, new_value, upstream_at, status) values (?, ?, ?, ?, ?, ?, ?, ?, 'new')""",
        [publication_id, source_id, now, update.kind, update.change_note, update.old_value,
         update.new_value, update.upstream_at],
    )
    if update.kind != "updated":  # a change to what editors saw; a new timestamp is only news
        audit(db, POLL_EDITOR, now, f"upstream_{update.kind}", update.old_value, update.new_value, publication_id)


def _find_publication(db: Database, source: Announcer, entry: Entry, now: str) -> dict[str, Any] | None:
    row = _first_row(db, f"select {DECISION_COLUMNS} from publications where url_key = ?", [entry.url_key])
    if row:
        return row
    key = entry.title_key
    if len(key) < MIN_TITLE_KEY_FOR_MERGE:
        return None
    since = utc_iso(datetime.fromisoformat(now) - TITLE_MERGE_WINDOW)
    # Only another source's copy counts: one source listing a title twice means two things.
    return _first_row(
        db,
        f"""select {DECISION_COLUMNS} from publications where title_key = ? and first_seen >= ?
            and id not in (select publication_id from publication_sources where source_id = ?)
            order by id limit 1""",
        [key, since, source.id],
    )


def _first_row(db: Database, sql: str, params: list) -> dict[str, Any] | None:
    """A lookup inside the caller's transaction, run directly: ``execute_returning_dicts`` wraps
    each query in a savepoint of its own, three statements where one does (a poll runs two
    lookups per new entry)."""
    cursor = db.execute(sql, params)
    row = cursor.fetchone()
    return dict(zip([column[0] for column in cursor.description], row, strict=True)) if row else None


def _link_source(db: Database, publication_id: int, source: Announcer, entry: Entry, now: str) -> None:
    db.execute(
        """insert or ignore into publication_sources
           (publication_id, source_id, url, publisher, published, entry_id, first_seen, last_seen)
           values (?, ?, ?, ?, ?, ?, ?, ?)""",
        [publication_id, source.id, entry.url, source.publisher, entry.published,
         entry.entry_id, now, now],
    )


@dataclass(frozen=True)
class PastEntry:
    """An entry of a past newsletter issue, stored as a publication the editors accepted."""

    url: str  # a stable identifier for the entry (it has no web address)
    title: str
    publisher: str
    published: str  # YYYY-MM-DD
    date_source: str  # "newsletter", or "month" when the issue gave only the month
    verb: str  # the newsletter's verb: "released", "premiered", ...
    line: str  # the entry exactly as the issue wrote it


def store_past_entries(db: Database, entries: Iterable[PastEntry], seen: str) -> tuple[list[int], int]:
    """Store past issue entries as accepted publications, first seen and reviewed at ``seen``.

    An entry whose URL is already stored is left as it is, whatever an editor has done to it
    since, so importing an issue again changes nothing. Returns the new publications' ids and
    how many entries were already stored.
    """
    imported: list[int] = []
    already = 0
    with write_transaction(db):
        for entry in entries:
            cursor = db.execute(
                """insert or ignore into publications (url, url_key, title, summary, publisher,
                     published, date_source, first_seen, last_seen, status, themes, reviewed_at,
                     title_key, verb, newsletter_line)
                   values (?, ?, ?, '', ?, ?, ?, ?, ?, 'accepted', '[]', ?, ?, ?, ?)""",
                [
                    entry.url, entry.url, entry.title, entry.publisher, entry.published,
                    entry.date_source, seen, seen, seen, title_key(entry.title), entry.verb,
                    entry.line,
                ],
            )
            if cursor.rowcount:
                imported.append(cast(int, cursor.lastrowid))
            else:
                already += 1
    return imported, already
