"""Sources and their fetches: configuration, health, the fetch log, and each fetch's entries.

Each source's fetch, entries and health are written together (in a transaction of their own, or a
savepoint of a poll's larger one), so a killed poll leaves every source either fully stored or
untouched.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Protocol, Sequence

from sqlite_utils import Database

from tracker.dates import utc_iso, utc_now
from tracker.entries import Entry

from .database import write_transaction
from .publications import Announcer, StoreResult, store_entry


class ConfiguredSource(Announcer, Protocol):
    """What the store keeps of a source in sources.yaml (``tracker.ingest.config.Source``)."""

    @property
    def type(self) -> str: ...
    @property
    def request_url(self) -> str: ...
    @property
    def confidence(self) -> str | None: ...
    @property
    def interval(self) -> int | None: ...
    @property
    def classified(self) -> bool: ...


def sync_sources(db: Database, sources: Iterable[ConfiguredSource]) -> None:
    """Record the configured sources; their fetch state survives edits to sources.yaml, except
    that a new configured URL starts afresh (old validators and redirects don't apply to it)."""
    with write_transaction(db):
        db.execute("update sources set configured = 0")
        # One statement for every source (an upsert each through sqlite-utils, which reads the
        # table's schema every time, took a tenth of a second for 200). In an upsert's SET, every
        # "sources." value is the row's before the update.
        db.conn.executemany(
            """insert into sources (id, publisher, type, url, confidence, interval, scored, configured)
               values (?, ?, ?, ?, ?, ?, ?, 1)
               on conflict (id) do update set
                 publisher = excluded.publisher, type = excluded.type, url = excluded.url,
                 confidence = excluded.confidence, interval = excluded.interval,
                 scored = excluded.scored, configured = 1,
                 fetch_url = iif(sources.url is excluded.url, sources.fetch_url, null),
                 etag = iif(sources.url is excluded.url, sources.etag, null),
                 last_modified = iif(sources.url is excluded.url, sources.last_modified, null)""",
            [(source.id, source.publisher, source.type, source.request_url, source.confidence,
              source.interval, int(source.classified)) for source in sources],
        )


def source_states(db: Database) -> dict[str, dict]:
    return {row["id"]: row for row in db.table("sources").rows}


@dataclass
class FetchRecord:
    """What happened when one source was fetched, as the store records it."""

    started: datetime
    duration_ms: int
    status: int | None = None
    nbytes: int = 0
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    fetch_url: str | None = None  # set after a permanent redirect
    not_modified: bool = False
    next_poll: datetime | None = None
    retry_after: datetime | None = None
    skipped: tuple[str, ...] = ()  # why each entry that could not be read was left out


def save_fetch(
    db: Database, source: Announcer, record: FetchRecord, entries: Iterable[Entry] = ()
) -> StoreResult:
    """Store one source's entries, fetch log row and health in a single transaction."""
    with write_transaction(db):
        return _save(db, source, record, entries)


def save_fetches(
    db: Database, fetches: Sequence[tuple[Announcer, FetchRecord, Iterable[Entry]]]
) -> list[StoreResult | Exception]:
    """Store several sources' fetches in one transaction, each source in a savepoint of its own:
    a source that fails is rolled back alone and its exception takes its place in the list.
    A commit costs more than most sources' rows, so a poll writes what is ready together."""
    outcomes: list[StoreResult | Exception] = []
    with write_transaction(db):
        for source, record, entries in fetches:
            db.execute("savepoint source")
            try:
                outcomes.append(_save(db, source, record, entries))
            except Exception as ex:  # the others are stored whatever happened to this one
                if not db.conn.in_transaction:
                    # SQLite rolled the whole transaction back (a full disk, an I/O error): so
                    # nothing of this batch is stored, and the error is this one, not the
                    # savepoint's absence.
                    raise
                db.execute("rollback to source")
                outcomes.append(ex)
            db.execute("release source")
    return outcomes


def _save(db: Database, source: Announcer, record: FetchRecord, entries: Iterable[Entry]) -> StoreResult:
    now = utc_iso(record.started)
    result = StoreResult()
    if record.error is None:
        for entry in entries:
            _store_one(db, source, entry, now, result)
    _record_health(db, source.id, record, now, result)
    return result


def _store_one(db: Database, source: Announcer, entry: Entry, now: str, result: StoreResult) -> None:
    """One entry in a savepoint: an entry clashing with a stored row (its URL stored under an
    older key) is skipped and said why, never the source's other entries. Any other failure
    is the database's, and rolls back the whole source."""
    counts = (len(result.new_ids), result.updated, result.unchanged)
    db.execute("savepoint entry")
    try:
        store_entry(db, source, entry, now, result)
    except sqlite3.IntegrityError as ex:
        if "UNIQUE constraint failed" not in str(ex):
            raise
        db.execute("rollback to entry")
        del result.new_ids[counts[0]:]
        result.updated, result.unchanged = counts[1], counts[2]
        result.skipped.append(f"{entry.url[:100]} clashes with a stored publication ({ex})")
    db.execute("release entry")


def _record_health(db: Database, source_id: str, record: FetchRecord, now: str, result: StoreResult) -> None:
    db.execute(
        """insert into fetch_log (source_id, started, status, bytes, duration_ms, new_items,
             updated_items, error, skipped) values (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [source_id, now, record.status, record.nbytes, record.duration_ms,
         len(result.new_ids), result.updated, record.error, _skipped_words((*record.skipped, *result.skipped))],
    )
    changes: dict[str, Any] = {
        "last_attempt": now,
        "last_status": record.status,
        "next_poll": utc_iso(record.next_poll) if record.next_poll else None,
        "retry_after": utc_iso(record.retry_after) if record.retry_after else None,
    }
    if record.error is None:
        changes.update(last_success=now, last_error=None, consecutive_errors=0)
        if not record.not_modified:
            changes.update(skipped_entries=len(record.skipped) + len(result.skipped),
                           etag=record.etag, last_modified=record.last_modified)
        if result.new_ids:
            changes["last_new"] = now
    else:
        changes["last_error"] = record.error
    if record.fetch_url:
        changes["fetch_url"] = record.fetch_url
    assignments = ", ".join(f"{column} = ?" for column in changes)
    extra = ", consecutive_errors = consecutive_errors + 1" if record.error else ""
    extra += ", items_seen = items_seen + ?"
    db.execute(
        f"update sources set {assignments}{extra} where id = ?",
        [*changes.values(), len(result.new_ids), source_id],
    )


def _skipped_words(reasons: tuple[str, ...]) -> str | None:
    if not reasons:
        return None
    shown = "; ".join(reasons[:20])
    more = f"; and {len(reasons) - 20} more" if len(reasons) > 20 else ""
    return f"{len(reasons)} skipped: {shown}{more}"


def postpone(db: Database, source_id: str, next_poll: datetime) -> None:
    """Set a source's next poll without a fetch to record (its host failing in this pass)."""
    with write_transaction(db):
        db.execute("update sources set next_poll = ? where id = ?", [utc_iso(next_poll), source_id])


def prune_fetch_log(db: Database, keep_days: int, now: datetime | None = None) -> int:
    """Drop fetch log rows older than ``keep_days``; source health keeps the summary."""
    cutoff = utc_iso((now or utc_now()) - timedelta(days=keep_days))
    with write_transaction(db):
        cursor = db.execute("delete from fetch_log where started < ?", [cutoff])
    return cursor.rowcount
