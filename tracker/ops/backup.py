"""``tracker backup``: a consistent copy of the live database, taken while it is in use.

SQLite's online backup API copies the pages inside one read transaction when asked for all of
them in a single step, so the copy is the database as of one commit even while a poll and
Datasette keep writing (WAL lets them). Copying the file with ``cp`` instead could catch a
checkpoint half way and would miss whatever still sits in the ``-wal`` file.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from tracker import TrackerError
from tracker.store import open_database


class BackupError(TrackerError):
    pass


@dataclass
class BackupResult:
    path: Path
    nbytes: int
    publications: int
    seconds: float


def backup_database(db_path: str | Path, dest: str | Path) -> BackupResult:
    """Copy ``db_path`` to ``dest`` (a new file, or a folder to put a time-stamped file in; a
    name ending with a separator is a folder, created with its parents when missing).

    The copy is written under a temporary name and renamed when complete and checked, so a
    backup killed half way never leaves a file that looks like a good backup.
    """
    started = time.perf_counter()
    # Read from the name as given: Path() drops the trailing separator of "/var/backups/tracker/".
    into_folder = str(dest).endswith(tuple(sep for sep in (os.sep, os.altsep) if sep))
    db_path, dest = Path(db_path), Path(dest)
    if into_folder or dest.is_dir():
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        dest = dest / f"{db_path.stem}-{stamp}.db"
    if dest.exists():
        raise BackupError(f"{dest} already exists: choose a new name or a folder")
    if not into_folder and not dest.parent.is_dir():
        raise BackupError(f"no folder {dest.parent} to write the backup in")
    source = open_database(db_path, must_exist=True)  # refuses files that are not ours
    try:  # only once the source is known good, so a refusal creates nothing
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as ex:
        source.close()
        raise BackupError(f"cannot create the folder {dest.parent} ({ex.strerror or ex})") from None
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        target = sqlite3.connect(partial)
        try:
            source.conn.backup(target)  # one step: one read transaction, one snapshot
            check = target.execute("pragma integrity_check").fetchone()[0]
            publications = target.execute("select count(*) from publications").fetchone()[0]
        finally:
            target.close()
    except sqlite3.Error as ex:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup of {db_path} failed: {ex}") from None
    finally:
        source.close()
    if check != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy of {db_path} failed its integrity check: {check}")
    os.replace(partial, dest)
    return BackupResult(dest, dest.stat().st_size, publications, time.perf_counter() - started)
