"""What the publish stage keeps: each issue's digest, and the documents its lines describe."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Mapping

from sqlite_utils import Database

from tracker import TrackerError
from tracker.dates import utc_iso, utc_now

from .database import audit, write_transaction


class IssueSent(TrackerError):
    """The issue was sent: its texts are frozen as they went out."""


class IssueNotSent(TrackerError):
    """The issue was not sent (or never stored): there is nothing to reopen."""


def replace_digest(
    db: Database, week: date, weeks: int, texts: Mapping[str, str], counts: Mapping[str, int],
    generated_at: datetime | None = None, *, sent_by: str | None = None,
) -> dict:
    """Store one issue's digest (``texts``: format -> rendering), replacing that week's row only.

    With ``sent_by`` the row is stored as sent by that editor, at ``generated_at``: frozen, so
    the next issue begins. A sent issue's row is never replaced (IssueSent). One statement in
    one transaction: a crash leaves the previous row or the new one, never half a digest.
    Returns the row as stored.
    """
    stamp = utc_iso(generated_at or utc_now())
    row = {
        "week": week.isoformat(),
        "generated_at": stamp,
        "weeks": weeks,
        **texts,
        "counts": json.dumps(counts),
        "sent_at": stamp if sent_by else None,
        "sent_by": sent_by,
    }
    updates = ", ".join(f"{column} = excluded.{column}" for column in row if column != "week")
    with write_transaction(db):
        cursor = db.execute(
            f"""insert into digests ({', '.join(row)}) values ({', '.join('?' * len(row))})
                on conflict (week) do update set {updates} where digests.sent_at is null""",
            list(row.values()),
        )
        if not cursor.rowcount:
            sent = db.execute("select sent_at, sent_by from digests where week = ?", [row["week"]]).fetchone()
            raise IssueSent(f"the issue of {row['week']} was sent by {sent[1]} at {sent[0]}: it stays as sent")
    return row


def reopen_issue(db: Database, week: date, editor: str, now: datetime | None = None) -> dict:
    """Undo marking the issue dated ``week`` sent (an editor's slip): sent_at and sent_by are
    cleared, so the page drafts from the store again and it can be marked sent anew. Audited
    like every editor's write: old_value says when and by whom it had been marked sent.
    Raises IssueNotSent for an issue that is a draft or not stored. Returns the row."""
    stamp = utc_iso(now or utc_now())
    with write_transaction(db):
        rows = db.execute_returning_dicts("select * from digests where week = ?", [week.isoformat()])
        if not rows or not rows[0]["sent_at"]:
            raise IssueNotSent(f"the issue of {week.isoformat()} is not marked sent: nothing to reopen")
        row = rows[0]
        db.execute("update digests set sent_at = null, sent_by = null where week = ?", [week.isoformat()])
        audit(db, editor, stamp, "reopen_issue", f"sent {row['sent_at']} by {row['sent_by']}", week.isoformat())
    return {**row, "sent_at": None, "sent_by": None}


def list_issues(db: Database) -> list[dict]:
    """Every stored issue, newest first: week, generated_at, weeks, counts (a dict), sent_at and
    sent_by (None for a draft)."""
    rows = db.execute_returning_dicts(
        "select week, generated_at, weeks, counts, sent_at, sent_by from digests order by week desc"
    )
    return [{**row, "counts": json.loads(row["counts"] or "{}")} for row in rows]


def sent_weeks(db: Database) -> set[date]:
    """The issue dates already sent."""
    return {date.fromisoformat(week) for (week,) in
            db.execute("select week from digests where sent_at is not null").fetchall()}


@dataclass(frozen=True)
class Document:
    """The document behind a publication, as looked up once: a row of ``documents``."""

    url: str | None = None
    content_type: str | None = None
    pages: int | None = None
    nbytes: int | None = None
    error: str | None = None  # the look-up failed: stored all the same, so it is not repeated


def save_documents(db: Database, documents: dict[int, Document], checked_at: datetime) -> None:
    """Cache the documents found for these publications (publication id -> document)."""
    checked = utc_iso(checked_at)
    with write_transaction(db):
        for publication_id, document in documents.items():
            db.execute(
                """insert or replace into documents
                   (publication_id, url, content_type, pages, bytes, checked_at, error)
                   values (?, ?, ?, ?, ?, ?, ?)""",
                [publication_id, document.url, document.content_type, document.pages,
                 document.nbytes, checked, document.error],
            )
