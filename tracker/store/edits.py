"""The editors' writes on the newsletter's list: the line's edits, the publications the sources
missed, and the upstream updates an editor lists or ignores.

Every write goes through the same triggers as the workspace's canned queries
(``publication_edits`` for a status, ``line_edits`` for the line), so the rules and the audit
trail are the same whether an editor uses a form, a script or the CLI.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlite_utils import Database

from tracker import TrackerError
from tracker.dates import london_date, utc_iso, utc_now
from tracker.text import title_key

from .database import audit, write_transaction

MANUAL_SOURCE = "manual"
# The audit log's action for each way an update leaves triage.
ACTIONS = {"listed": "list_update", "ignored": "ignore_update"}


class EditRefused(TrackerError):
    """An edit the rules refuse (a blank title, a 30 February, an over-long verb, ...): nothing
    was changed. The message is the trigger's, as the workspace shows it."""


@dataclass(frozen=True)
class LineEdit:
    """What an editor sets of the newsletter's line; '' leaves a field as it is."""

    title: str = ""
    publisher: str = ""
    verb: str = ""
    published: str = ""  # YYYY-MM-DD


def edit_line(db: Database, publication_id: int, editor: str, edit: LineEdit,
              now: datetime | None = None) -> None:
    """Apply an editor's edit of a publication's line (audited), as the ``edit_line`` canned
    query does. Raises EditRefused, changing nothing, when the rules refuse it."""
    with write_transaction(db):
        _edit_line(db, publication_id, editor, edit, now)


def set_status(db: Database, publication_id: int, editor: str, status: str,
               now: datetime | None = None) -> None:
    """Set a publication's status (audited, sets ``reviewed_at``), as ``set_status`` does."""
    with write_transaction(db):
        _set_status(db, publication_id, editor, status, now)


def _edit_line(db: Database, publication_id: int, editor: str, edit: LineEdit, now: datetime | None) -> None:
    _refusable(db, """insert into line_edits (editor, time, publication_id, title, publisher, verb, published)
                      values (?, ?, ?, ?, ?, ?, ?)""",
               [editor, _stamp(now), publication_id, edit.title, edit.publisher, edit.verb, edit.published])


def _set_status(db: Database, publication_id: int, editor: str, status: str, now: datetime | None) -> None:
    _refusable(db, """insert into publication_edits (editor, time, publication_id, action, value)
                      values (?, ?, ?, 'set_status', ?)""",
               [editor, _stamp(now), publication_id, status])


def _refusable(db: Database, sql: str, params: list[Any]) -> None:
    try:
        db.execute(sql, params)
    except sqlite3.IntegrityError as ex:  # RAISE(ABORT, ...) in a trigger
        raise EditRefused(str(ex)) from None


def _stamp(now: datetime | None) -> str:
    return utc_iso(now or utc_now())


@dataclass(frozen=True)
class ManualPublication:
    """A publication the sources missed, as ``tracker add`` or the workspace's form read it."""

    url: str
    url_key: str
    title: str
    publisher: str = ""
    published: date | None = None
    summary: str = ""
    verb: str = ""  # "" : the digest suggests one
    document_type: str | None = None


@dataclass(frozen=True)
class Added:
    id: int
    created: bool  # False: the URL was already stored, and nothing changed
    title: str


def add_manual(db: Database, publication: ManualPublication, editor: str, *, accept: bool = False,
               now: datetime | None = None) -> Added:
    """Store a publication the sources missed (``source_id`` 'manual'), audited as 'add'.

    A URL already stored (by its folded key) changes nothing: the existing publication is
    returned with ``created`` False. ``accept`` also accepts it, audited like set_status.
    """
    stamp = _stamp(now)
    with write_transaction(db):
        rows = db.execute_returning_dicts(
            "select id, coalesce(edited_title, title) as title from publications where url_key = ?",
            [publication.url_key],
        )
        if rows:
            return Added(rows[0]["id"], False, rows[0]["title"])
        cursor = db.execute(
            """insert into publications (url, url_key, title, summary, publisher, published,
                 date_source, source_id, first_seen, last_seen, document_type, status, themes,
                 title_key, verb)
               values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'new', '[]', ?, ?)""",
            [publication.url, publication.url_key, publication.title, publication.summary,
             publication.publisher, publication.published and publication.published.isoformat(),
             "page" if publication.published else "first_seen", MANUAL_SOURCE, stamp, stamp,
             publication.document_type, title_key(publication.title), publication.verb or None],
        )
        new_id = cast(int, cursor.lastrowid)
        audit(db, editor, stamp, "add", None, publication.url, new_id)
        if accept:
            _set_status(db, new_id, editor, "accepted", now)
    return Added(new_id, True, publication.title)


def line_verbs(db: Database) -> set[str]:
    """Every verb editors have given a newsletter line, when editing it (the audit log keeps
    those edited again since, which a sent issue may still print) or adding a publication."""
    rows = db.execute(
        """select json_extract(new_value, '$.verb') from audit_log where action = 'edit_line'
           union select verb from publications where source_id = ? and verb is not null""",
        [MANUAL_SOURCE])
    return {verb for (verb,) in rows if verb}


def list_update(db: Database, update_id: int, editor: str, now: datetime | None = None) -> int:
    """List an upstream update in the newsletter: "On 12 May DfE updated Keeping children safe
    in education". Accepts the publication (so it is in this week's list), sets its line's verb
    to "updated" and its date to the update's, and marks the update listed; audited. Returns
    the publication's id."""
    with write_transaction(db):
        update = _pending_update(db, update_id)
        day = london_date(update["upstream_at"] or update["seen_at"])
        _set_status(db, update["publication_id"], editor, "accepted", now)
        _edit_line(db, update["publication_id"], editor,
                   LineEdit(verb="updated", published=day.isoformat() if day else ""), now)
        _close_update(db, update, editor, "listed", now)
    return cast(int, update["publication_id"])


def ignore_update(db: Database, update_id: int, editor: str, now: datetime | None = None) -> None:
    """Set an upstream update aside: it leaves triage and the publication is unchanged; audited."""
    with write_transaction(db):
        _close_update(db, _pending_update(db, update_id), editor, "ignored", now)


def _pending_update(db: Database, update_id: int) -> dict[str, Any]:
    rows = db.execute_returning_dicts("select * from publication_updates where id = ?", [update_id])
    if not rows:
        raise EditRefused("No update with that id")
    if rows[0]["status"] != "new":
        raise EditRefused(f"That update was already {rows[0]['status']}")
    return rows[0]


def _close_update(db: Database, update: dict[str, Any], editor: str, status: str, now: datetime | None) -> None:
    db.execute("update publication_updates set status = ? where id = ?", [status, update["id"]])
    audit(db, editor, _stamp(now), ACTIONS[status], json.dumps({"update": update["id"], "status": update["status"]}),
          json.dumps({"update": update["id"], "status": status}), update["publication_id"])
