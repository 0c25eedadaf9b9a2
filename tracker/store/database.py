"""How the tracker opens its database and writes to it: one policy for every stage.

WAL lets Datasette readers carry on while a poll writes; writers take the lock up front
(``BEGIN IMMEDIATE``) and wait for each other's short transactions; one poll at a time holds a
file lock beside the database.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from pathlib import Path
from typing import Iterator

from sqlite_utils import Database

from tracker import TrackerError
from tracker.dates import utc_iso, utc_now

from .schema import MIGRATION_SET, migrations


class NotATrackerDatabase(TrackerError):
    pass


class DatabaseUnavailable(TrackerError):
    """A tracker database, or where one should be, that SQLite cannot open or write."""


class PollRunning(TrackerError):
    pass


def open_database(path: str | Path, *, must_exist: bool = False) -> Database:
    """Open (creating if allowed) the tracker database, migrated to the current schema.

    The busy timeout makes a writer wait for another's short transaction instead of failing
    with "database is locked".
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
        raise _refusal(path, ex) from None
    return db


def _refusal(path: Path, ex: sqlite3.DatabaseError) -> TrackerError:
    """Why the file cannot be used, in words that send its owner to the right place: a read-only
    folder or file system is not a file that "is not a tracker database"."""
    # The primary code (SQLITE_IOERR_WRITE is SQLITE_IOERR); errors Python raises itself carry none.
    code = getattr(ex, "sqlite_errorcode", 0) & 0xFF
    if code in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_IOERR):
        return DatabaseUnavailable(f"cannot open or write {path} ({ex}): are the file and its folder writable?")
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL):
        return DatabaseUnavailable(f"cannot open or write {path} ({ex})")
    return NotATrackerDatabase(f"{path} is not a tracker database ({ex})")


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
        # Inside: a COMMIT that fails leaves the transaction open, and every later BEGIN would.
        db.execute("COMMIT")
    except BaseException:
        db.rollback()
        raise


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
        handle.write(f"pid {os.getpid()} since {utc_iso(utc_now())}")
        handle.flush()
        yield
    finally:
        handle.close()


def audit(db: Database, editor: str, time: str, action: str, old: str | None, new: str | None,
          publication_id: int | None = None) -> None:
    """One audit_log row: who changed what, when, from what to what (within the caller's
    transaction). The edit triggers of the canned queries write theirs in SQL, to the same columns."""
    db.execute(
        """insert into audit_log (editor, time, publication_id, action, old_value, new_value)
           values (?, ?, ?, ?, ?, ?)""",
        [editor, time, publication_id, action, old, new],
    )
