"""The notification stage's writes: messages, their deliveries, source alerts and saved searches.

Every message is recorded before it is sent, under a key naming its event, in the same
transaction as the state that made it due (an alert opened, a search's hits found): a second
process, or a restart, finds the key taken and sends nothing again. A delivery is claimed
before it is sent, so two processes never send the same one, and a failure is kept in words
with the time of the next attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from sqlite_utils import Database

from tracker import TrackerError
from tracker.dates import utc_iso

from .database import audit, write_transaction

FREQUENCIES = ("at_once", "daily", "never")
# A claim older than this belongs to a process that died while sending: the message is tried
# again (it may arrive twice then, rather than never).
STALE_CLAIM = timedelta(minutes=15)
NAME_MAX = 100
QUERY_MAX = 500


class SavedSearchError(TrackerError):
    pass


@dataclass(frozen=True)
class Message:
    key: str  # the event: "source-failing:dfe:2026-11-30T10:00:00Z", "draft:2026-12-04"
    kind: str
    subject: str
    text: str
    html: str | None = None


@dataclass(frozen=True)
class Delivery:
    notification_id: int
    destination: str
    attempts: int
    message: Message


def _enqueue(db: Database, message: Message, destinations: Iterable[str], now: str) -> int | None:
    """Inside a write transaction: the message's id, or None when its event was already told."""
    cursor = db.execute(
        """insert or ignore into notifications (key, kind, subject, text, html, created_at)
           values (?, ?, ?, ?, ?, ?)""",
        [message.key, message.kind, message.subject, message.text, message.html, now],
    )
    if cursor.rowcount == 0:
        return None
    notification_id = cursor.lastrowid
    for destination in destinations:
        db.execute(
            """insert into notification_deliveries (notification_id, destination, status, attempts,
                 next_attempt) values (?, ?, 'pending', 0, ?)""",
            [notification_id, destination, now],
        )
    return notification_id


def queue_message(db: Database, message: Message, destinations: Iterable[str], now: datetime) -> bool:
    """Record a message for each destination, once per key. True when it is new."""
    with write_transaction(db):
        return _enqueue(db, message, list(destinations), utc_iso(now)) is not None


def open_source_alert(db: Database, source_id: str, kind: str, since: str, reason: str,
                      message: Message, destinations: Iterable[str], now: datetime) -> bool:
    """Open the alert and queue its message together; False when it was open already."""
    stamp = utc_iso(now)
    with write_transaction(db):
        cursor = db.execute(
            """insert or ignore into source_alerts (source_id, kind, since, reason, opened_at)
               values (?, ?, ?, ?, ?)""",
            [source_id, kind, since, reason, stamp],
        )
        if cursor.rowcount == 0:
            return False
        _enqueue(db, message, list(destinations), stamp)
    return True


def open_source_alerts(db: Database) -> list[dict]:
    return db.execute_returning_dicts(
        "select * from source_alerts where closed_at is null order by opened_at, source_id")


def close_source_alert(db: Database, alert: dict, message: Message, destinations: Iterable[str],
                       now: datetime) -> bool:
    """Close the alert and queue its recovery message together; False when already closed."""
    stamp = utc_iso(now)
    with write_transaction(db):
        cursor = db.execute(
            """update source_alerts set closed_at = ?
               where source_id = ? and kind = ? and since = ? and closed_at is null""",
            [stamp, alert["source_id"], alert["kind"], alert["since"]],
        )
        if cursor.rowcount == 0:
            return False
        _enqueue(db, message, list(destinations), stamp)
    return True


def record_hits(db: Database, search_id: int, publication_ids: Iterable[int],
                message: Message | None, destinations: Iterable[str], now: datetime) -> list[int]:
    """Remember the search's new matches; with a message (an at-once search), queue it with them.
    Without one they wait for the day's message (or, for a 'never' search, are only noted).
    Returns the ids that were new (another process may have recorded some first)."""
    stamp = utc_iso(now)
    with write_transaction(db):
        fresh = [
            pid for pid in publication_ids
            if db.execute("""insert or ignore into saved_search_hits (search_id, publication_id, found_at)
                             values (?, ?, ?)""", [search_id, pid, stamp]).rowcount
        ]
        if fresh and message is not None:
            notification_id = _enqueue(db, message, list(destinations), stamp)
            db.execute(
                f"""update saved_search_hits set notification_id = ?
                    where search_id = ? and publication_id in ({','.join('?' * len(fresh))})""",
                [notification_id, search_id, *fresh],
            )
    return fresh


def untold_daily_hits(db: Database) -> list[dict]:
    """Matches of daily searches not yet in a day's message, with their search's name."""
    return db.execute_returning_dicts(
        """select h.search_id, h.publication_id, s.name as search_name
           from saved_search_hits h join saved_searches s on s.id = h.search_id
           where h.notification_id is null and s.frequency = 'daily'
           order by s.name, h.publication_id""")


def queue_daily(db: Database, hits: list[dict], message: Message, destinations: Iterable[str],
                now: datetime) -> bool:
    """Queue the day's message and mark the hits it tells, together."""
    with write_transaction(db):
        notification_id = _enqueue(db, message, list(destinations), utc_iso(now))
        if notification_id is None:
            return False
        for hit in hits:
            db.execute(
                """update saved_search_hits set notification_id = ?
                   where search_id = ? and publication_id = ? and notification_id is null""",
                [notification_id, hit["search_id"], hit["publication_id"]],
            )
    return True


def claim_due(db: Database, destinations: Iterable[str], now: datetime) -> list[Delivery]:
    """Take the deliveries due now for these destinations; no other process will take them
    until they are finished or their claim goes stale."""
    stamp, stale = utc_iso(now), utc_iso(now - STALE_CLAIM)
    destinations = list(destinations)
    if not destinations:
        return []
    marks = ",".join("?" * len(destinations))
    with write_transaction(db):
        rows = db.execute_returning_dicts(
            f"""select d.notification_id, d.destination, d.attempts, n.key, n.kind, n.subject,
                  n.text, n.html
                from notification_deliveries d join notifications n on n.id = d.notification_id
                where d.destination in ({marks}) and (
                  (d.status in ('pending', 'failed') and d.next_attempt <= ?)
                  or (d.status = 'sending' and d.last_attempt <= ?))
                order by d.notification_id""",
            [*destinations, stamp, stale],
        )
        for row in rows:
            db.execute(
                """update notification_deliveries set status = 'sending', last_attempt = ?
                   where notification_id = ? and destination = ?""",
                [stamp, row["notification_id"], row["destination"]],
            )
    return [
        Delivery(row["notification_id"], row["destination"], row["attempts"],
                 Message(row["key"], row["kind"], row["subject"], row["text"], row["html"]))
        for row in rows
    ]


def finish_delivery(db: Database, delivery: Delivery, now: datetime, error: str | None = None,
                    retry_at: datetime | None = None) -> None:
    """Record a delivery's outcome: sent, or failed with its reason and the next attempt."""
    stamp = utc_iso(now)
    with write_transaction(db):
        if error is None:
            db.execute(
                """update notification_deliveries set status = 'sent', sent_at = ?, last_error = null,
                     attempts = attempts + 1 where notification_id = ? and destination = ?""",
                [stamp, delivery.notification_id, delivery.destination],
            )
        else:
            db.execute(
                """update notification_deliveries set status = 'failed', last_error = ?,
                     next_attempt = ?, attempts = attempts + 1
                   where notification_id = ? and destination = ?""",
                [error, utc_iso(retry_at or now), delivery.notification_id, delivery.destination],
            )


# Saved searches: the workspace's page writes them, each write audited like an edit.


def _check_search(name: str, query: str, frequency: str) -> None:
    if not name.strip() or len(name) > NAME_MAX:
        raise SavedSearchError(f"A saved search needs a name of 1 to {NAME_MAX} characters")
    if not query.strip() or len(query) > QUERY_MAX:
        raise SavedSearchError(f"A saved search needs search words, at most {QUERY_MAX} characters")
    if frequency not in FREQUENCIES:
        raise SavedSearchError(f"How often must be one of: {', '.join(FREQUENCIES)}")


def _describe(row: dict | None) -> str | None:
    if row is None:
        return None
    parts = [f"{row['name']}: {row['query']}"]
    parts += [f"{key} {row[key]}" for key in ("theme", "publisher") if row.get(key)]
    return "; ".join(parts) + f" ({row['frequency']})"


def save_search(db: Database, editor: str, name: str, query: str, *, theme: str | None = None,
                publisher: str | None = None, frequency: str = "daily", search_id: int | None = None,
                now: datetime) -> int:
    """Create a saved search, or change one (``search_id``); audited. Returns its id."""
    _check_search(name, query, frequency)
    stamp = utc_iso(now)
    row = {"name": name.strip(), "query": query.strip(), "theme": theme or None,
           "publisher": publisher or None, "frequency": frequency, "editor": editor,
           "updated_at": stamp}
    with write_transaction(db):
        if search_id is None:
            search_id = db.execute(
                """insert into saved_searches (name, query, theme, publisher, frequency, editor,
                     updated_at, created_at) values (?, ?, ?, ?, ?, ?, ?, ?)""",
                [*row.values(), stamp],
            ).lastrowid
            audit(db, editor, stamp, "save_search", None, _describe(row))
        else:
            old = saved_search(db, search_id)
            if old is None:
                raise SavedSearchError("No saved search with that id")
            db.execute(
                """update saved_searches set name = ?, query = ?, theme = ?, publisher = ?,
                     frequency = ?, editor = ?, updated_at = ? where id = ?""",
                [*row.values(), search_id],
            )
            audit(db, editor, stamp, "edit_search", _describe(old), _describe(row))
    assert search_id is not None
    return int(search_id)


def remove_search(db: Database, editor: str, search_id: int, now: datetime) -> None:
    with write_transaction(db):
        old = saved_search(db, search_id)
        if old is None:
            raise SavedSearchError("No saved search with that id")
        db.execute("delete from saved_search_hits where search_id = ?", [search_id])
        db.execute("delete from saved_searches where id = ?", [search_id])
        audit(db, editor, utc_iso(now), "remove_search", _describe(old), None)


def saved_search(db: Database, search_id: int) -> dict | None:
    rows = db.execute_returning_dicts("select * from saved_searches where id = ?", [search_id])
    return rows[0] if rows else None


def saved_searches(db: Database) -> list[dict]:
    return db.execute_returning_dicts("select * from saved_searches order by name collate nocase, id")
