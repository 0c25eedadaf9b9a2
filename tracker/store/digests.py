"""What the publish stage keeps: each issue's digest, and the documents its lines describe."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Mapping

from sqlite_utils import Database

from tracker.dates import utc_iso

from .database import write_transaction


def replace_digest(
    db: Database, week: date, weeks: int, texts: Mapping[str, str], counts: Mapping[str, int],
    generated_at: datetime | None = None,
) -> dict:
    """Store one issue's digest (``texts``: format -> rendering), replacing that week's row only.

    One statement in one transaction: a crash leaves the previous row or the new one, never half
    a digest. Returns the row as stored.
    """
    row = {
        "week": week.isoformat(),
        "generated_at": utc_iso(generated_at or datetime.now(timezone.utc)),
        "weeks": weeks,
        **texts,
        "counts": json.dumps(counts),
    }
    with write_transaction(db):
        db.execute(
            f"insert or replace into digests ({', '.join(row)}) values ({', '.join('?' * len(row))})",
            list(row.values()),
        )
    return row


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
