"""The SQLite store: schema migrations, idempotent writes, source health, the poll lock.

Rules the CONTRACT fixes, enforced here and nowhere else:
- one row per publication, keyed on its URL (``url_key`` folds http/https, www. and a trailing
  slash), or on its folded title when another publisher announces the same report;
- a later poll never changes ``status``, editor-set ``themes`` or ``published`` of a row, except
  that a *different* source announcing an earlier date lowers ``published`` (earliest wins);
- each source's fetch, entries and health are written in one short transaction, so a killed
  poll leaves every source either fully stored or untouched.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Iterator

from sqlite_utils import Database, Migrations

from tracker import TrackerError
from tracker.entries import Entry
from tracker.dates import utc_iso

STATUSES = ("new", "accepted", "rejected")
MIGRATION_SET = "tracker"
# Titles shorter than this ("Annual report", "News") are too generic to merge publishers on.
MIN_TITLE_KEY_FOR_MERGE = 25
TITLE_MERGE_WINDOW = timedelta(days=120)

migrations = Migrations(MIGRATION_SET)


class NotATrackerDatabase(TrackerError):
    pass


class PollRunning(TrackerError):
    pass


@migrations()
def m001_initial(db: Database):
    db["sources"].create(
        {
            "id": str, "publisher": str, "type": str, "url": str, "fetch_url": str,
            "confidence": str, "interval": int, "configured": int,
            "etag": str, "last_modified": str,
            "last_attempt": str, "last_success": str, "last_error": str, "last_status": int,
            "consecutive_errors": int, "next_poll": str, "retry_after": str,
            "last_new": str, "items_seen": int,
        },
        pk="id",
        defaults={"consecutive_errors": 0, "configured": 1, "items_seen": 0},
    )
    db["publications"].create(
        {
            "id": int, "url": str, "url_key": str, "title": str, "summary": str,
            "publisher": str, "published": str, "date_source": str, "source_id": str,
            "first_seen": str, "last_seen": str, "updated": str, "document_type": str,
            "status": str, "themes": str, "themes_by_editor": int,
            "candidate_score": float, "model_version": str, "why": str,
            "reviewed_at": str, "title_key": str,
        },
        pk="id",
        not_null={"url", "url_key", "title", "status", "themes", "first_seen"},
        defaults={"status": "new", "themes": "[]", "themes_by_editor": 0, "summary": ""},
    )
    db["publications"].create_index(["url"], unique=True)
    db["publications"].create_index(["url_key"], unique=True)
    for column in ("status", "first_seen", "published", "title_key", "source_id"):
        db["publications"].create_index([column])
    db["publications"].enable_fts(["title", "summary"], create_triggers=True, tokenize="porter")
    db["publication_sources"].create(
        {
            "publication_id": int, "source_id": str, "url": str, "publisher": str,
            "published": str, "entry_id": str, "first_seen": str, "last_seen": str,
        },
        pk=("publication_id", "source_id"),
        foreign_keys=[("publication_id", "publications", "id")],
    )
    db["publication_sources"].create_index(["source_id"])
    db["fetch_log"].create(
        {
            "id": int, "source_id": str, "started": str, "status": int, "bytes": int,
            "duration_ms": int, "new_items": int, "updated_items": int, "error": str,
        },
        pk="id",
    )
    db["fetch_log"].create_index(["source_id", "started"])
    db["audit_log"].create(
        {
            "id": int, "editor": str, "time": str, "publication_id": int, "action": str,
            "old_value": str, "new_value": str,
        },
        pk="id",
    )
    db["audit_log"].create_index(["publication_id"])


@migrations()
def m005_digest(db: Database):
    # One row per issue date: regenerating a week replaces that week and nothing else.
    db["digests"].create(
        {
            "week": str, "generated_at": str, "weeks": int, "markdown": str, "html": str,
            "text": str, "counts": str,
        },
        pk="week",
        if_not_exists=True,
    )
    # The document behind a publication (GOV.UK attachment or the publisher's PDF), looked up
    # once: a row, even one with an error, means "do not fetch again".
    db["documents"].create(
        {
            "publication_id": int, "url": str, "content_type": str, "pages": int,
            "bytes": int, "checked_at": str, "error": str,
        },
        pk="publication_id",
        foreign_keys=[("publication_id", "publications", "id")],
        if_not_exists=True,
    )


@migrations()
def m004_web(db: Database):
    # The theme slugs editors may use; `tracker serve` refreshes them from themes.yaml.
    db["themes"].create(
        {"slug": str, "label": str, "description": str, "network": str},
        pk="slug",
        if_not_exists=True,
    )
    # Datasette's canned queries run one statement each, so an editor's edit is an INSERT into
    # this view: the trigger validates it, applies it and audits it in that one statement's
    # transaction; RAISE(ABORT) undoes everything and its text becomes the editor's message.
    db.execute(
        """create view if not exists publication_edits as
          select editor, time, publication_id, action, new_value as value from audit_log where 0"""
    )
    db.execute(
        """
        create trigger if not exists publication_edits_insert
        instead of insert on publication_edits
        begin
          select raise(abort, 'Only a logged-in editor can change publications')
            where coalesce(new.editor, '') = '';
          select raise(abort, 'No publication with that id')
            where not exists (select 1 from publications where id = new.publication_id);
          select raise(abort, 'Status must be one of: new, accepted, rejected')
            where new.action = 'set_status'
              and coalesce(new.value, '') not in ('new', 'accepted', 'rejected');
          -- A slug dropped from themes.yaml can still be removed from a publication that has it.
          select raise(abort, 'Unknown theme: use a slug listed in the themes table')
            where new.action in ('add_theme', 'remove_theme')
              and not exists (select 1 from themes where slug = new.value)
              and not (new.action = 'remove_theme' and exists (
                select 1 from publications p, json_each(p.themes) t
                where p.id = new.publication_id and t.value = new.value));
          select raise(abort, 'Unknown action')
            where new.action not in ('set_status', 'add_theme', 'remove_theme');
          insert into audit_log (editor, time, publication_id, action, old_value, new_value)
            select new.editor, coalesce(new.time, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')), p.id,
              new.action,
              case new.action when 'set_status' then p.status else p.themes end,
              case
                when new.action = 'set_status' then new.value
                when new.action = 'add_theme' then
                  case when exists (select 1 from json_each(p.themes) where value = new.value)
                    then p.themes else json_insert(p.themes, '$[#]', new.value) end
                else (select json_group_array(value) from json_each(p.themes)
                      where value != new.value)
              end
            from publications p where p.id = new.publication_id;
          update publications set
            status = case when new.action = 'set_status' then new.value else status end,
            reviewed_at = case when new.action = 'set_status'
              then (select time from audit_log where id = last_insert_rowid())
              else reviewed_at end,
            themes = case when new.action = 'set_status' then themes
              else (select new_value from audit_log where id = last_insert_rowid()) end,
            themes_by_editor = case when new.action = 'set_status' then themes_by_editor else 1 end
          where id = new.publication_id;
        end
        """
    )


@migrations()
def m002_classifier(db: Database):
    # One row per `tracker train`: the newest is the one that scores. `model` is numpy .npz
    # bytes (arrays only, no pickle), so reading it back cannot run code.
    db["models"].create(
        {
            "version": str, "trained_at": str, "examples": int, "metrics": str,
            "themes_digest": str, "data_digest": str, "model": bytes,
        },
        pk="version",
        if_not_exists=True,
    )
    db["models"].create_index(["trained_at"], if_not_exists=True)


@migrations()
def m003_newsletter(db: Database):
    # Entries imported from past issues: the verb the newsletter used ("released", "premiered")
    # for the digest to write it again, and the entry as the issue wrote it, typos and all.
    existing = db["publications"].columns_dict
    for column in ("verb", "newsletter_line"):
        if column not in existing:
            db["publications"].add_column(column, str)


def open_database(path: str | Path, *, must_exist: bool = False) -> Database:
    """Open (creating if allowed) the tracker database, migrated to the current schema.

    WAL lets Datasette readers carry on while a poll writes; the busy timeout makes a writer
    wait for another's short transaction instead of failing with "database is locked".
    """
    path = Path(path)
    if not path.exists():
        if must_exist:
            raise TrackerError(
                f"no database at {path}: create one with `tracker poll --db {path}`"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as ex:
            raise TrackerError(f"cannot create the folder for {path}: {ex.strerror}") from None
    try:
        conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False, isolation_level=None)
        db = Database(conn)
        _check_is_tracker_database(db, path)
        with db.ensure_autocommit_on():
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA foreign_keys=ON")
        migrations.apply(db)
    except sqlite3.DatabaseError as ex:
        raise NotATrackerDatabase(f"{path} is not a tracker database ({ex})") from None
    return db


def _check_is_tracker_database(db: Database, path: Path) -> None:
    tables = set(db.table_names())
    if not tables:
        return
    applied = set()
    if "_sqlite_migrations" in tables:
        applied = {
            row[0]
            for row in db.execute(
                "select name from _sqlite_migrations where migration_set = ?", [MIGRATION_SET]
            )
        }
    if "m001_initial" not in applied:
        raise NotATrackerDatabase(f"{path} is not a tracker database (it has other tables)")


@contextlib.contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """BEGIN IMMEDIATE: take the write lock up front, so a reader never has to upgrade."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    db.execute("COMMIT")


@contextlib.contextmanager
def poll_lock(db_path: str | Path) -> Iterator[None]:
    """One poll at a time per database. The kernel drops the lock if the process dies."""
    lock_path = Path(f"{db_path}.poll-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock_path, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise PollRunning(f"a poll is already running on {db_path} ({holder})") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {utc_iso(datetime.now(timezone.utc))}")
        handle.flush()
        yield
    finally:
        handle.close()


def sync_sources(db: Database, sources: Iterable) -> None:
    """Record the configured sources; their fetch state survives edits to sources.yaml."""
    sources = list(sources)
    with write_transaction(db):
        db.execute("update sources set configured = 0")
        for source in sources:
            existing = db.execute("select url from sources where id = ?", [source.id]).fetchone()
            row = {
                "id": source.id, "publisher": source.publisher, "type": source.type,
                "url": source.request_url, "confidence": source.confidence,
                "interval": source.interval, "configured": 1,
            }
            if existing and existing[0] != source.request_url:
                # A new configured URL starts afresh: old validators and redirects don't apply.
                row.update(fetch_url=None, etag=None, last_modified=None)
            db["sources"].upsert(row, pk="id")


def source_states(db: Database) -> dict[str, dict]:
    return {row["id"]: row for row in db["sources"].rows}


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


@dataclass
class StoreResult:
    new_ids: list[int] = field(default_factory=list)
    updated: int = 0
    unchanged: int = 0


def save_fetch(
    db: Database, source, record: FetchRecord, entries: Iterable[Entry] = ()
) -> StoreResult:
    """Store one source's entries, fetch log row and health in a single transaction."""
    now = utc_iso(record.started)
    result = StoreResult()
    with write_transaction(db):
        if record.error is None:
            for entry in entries:
                _store_entry(db, source, entry, now, result)
        _record_health(db, source.id, record, now, result)
    return result


def _store_entry(db: Database, source, entry: Entry, now: str, result: StoreResult) -> None:
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
        publication_id = cursor.lastrowid
        result.new_ids.append(publication_id)
        _link_source(db, publication_id, source, entry, now)
        return
    publication_id = row["id"]
    linked = db.execute(
        "select 1 from publication_sources where publication_id = ? and source_id = ?",
        [publication_id, source.id],
    ).fetchone()
    changes: dict = {"last_seen": now}
    if not linked:
        _link_source(db, publication_id, source, entry, now)
        if entry.published and (row["published"] is None or entry.published < row["published"]):
            changes.update(published=entry.published, date_source=entry.date_source)
    elif row["source_id"] == source.id and (
        (entry.title, entry.summary) != (row["title"], row["summary"])
    ):
        # The announcing source edited its own text: keep the wording current, nothing else.
        changes.update(title=entry.title, summary=entry.summary, title_key=entry.title_key)
    if entry.updated and entry.updated != row["updated"]:
        changes["updated"] = entry.updated
    if len(changes) > 1:
        result.updated += 1
    else:
        result.unchanged += 1
    assignments = ", ".join(f"{column} = ?" for column in changes)
    db.execute(
        f"update publications set {assignments} where id = ?", [*changes.values(), publication_id]
    )
    db.execute(
        "update publication_sources set last_seen = ? where publication_id = ? and source_id = ?",
        [now, publication_id, source.id],
    )


def _find_publication(db: Database, source, entry: Entry, now: str) -> dict | None:
    columns = "id, title, summary, published, source_id, updated"
    row = db.execute_returning_dicts(
        f"select {columns} from publications where url_key = ?", [entry.url_key]
    )
    if row:
        return row[0]
    key = entry.title_key
    if len(key) < MIN_TITLE_KEY_FOR_MERGE:
        return None
    since = utc_iso(datetime.fromisoformat(now.replace("Z", "+00:00")) - TITLE_MERGE_WINDOW)
    # Only another source's copy counts: one source listing a title twice means two things.
    rows = db.execute_returning_dicts(
        f"""select {columns} from publications where title_key = ? and first_seen >= ?
            and id not in (select publication_id from publication_sources where source_id = ?)
            order by id limit 1""",
        [key, since, source.id],
    )
    return rows[0] if rows else None


def _link_source(db: Database, publication_id: int, source, entry: Entry, now: str) -> None:
    db.execute(
        """insert or ignore into publication_sources
           (publication_id, source_id, url, publisher, published, entry_id, first_seen, last_seen)
           values (?, ?, ?, ?, ?, ?, ?, ?)""",
        [publication_id, source.id, entry.url, source.publisher, entry.published,
         entry.entry_id, now, now],
    )


def _record_health(db: Database, source_id: str, record: FetchRecord, now: str, result: StoreResult):
    db.execute(
        """insert into fetch_log (source_id, started, status, bytes, duration_ms, new_items,
             updated_items, error) values (?, ?, ?, ?, ?, ?, ?, ?)""",
        [source_id, now, record.status, record.nbytes, record.duration_ms,
         len(result.new_ids), result.updated, record.error],
    )
    changes = {
        "last_attempt": now,
        "last_status": record.status,
        "next_poll": utc_iso(record.next_poll) if record.next_poll else None,
        "retry_after": utc_iso(record.retry_after) if record.retry_after else None,
    }
    if record.error is None:
        changes.update(last_success=now, last_error=None, consecutive_errors=0)
        if not record.not_modified:
            changes.update(etag=record.etag, last_modified=record.last_modified)
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


def prune_fetch_log(db: Database, keep_days: int, now: datetime | None = None) -> int:
    """Drop fetch log rows older than ``keep_days``; source health keeps the summary."""
    cutoff = utc_iso((now or datetime.now(timezone.utc)) - timedelta(days=keep_days))
    with write_transaction(db):
        cursor = db.execute("delete from fetch_log where started < ?", [cutoff])
    return cursor.rowcount
