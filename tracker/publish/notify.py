"""Tell the editors what is due, through Apprise: source alerts, saved-search matches, the
weekly draft and the day's gathered matches.

One pass (``notify``) first records every message that has become due, each under its event's
key in the same transaction as the state that made it due, then sends what is waiting. So a
message goes out once however often the pass runs, from cron or ``tracker serve``, in one
process or two; a failed delivery stays in the database with its reason in words and is tried
again with backoff, never raised and never dropped.

The destinations are ``settings.notify``'s Apprise URLs; ``$NAME`` in one is read from the
environment only here, at the moment of sending, and is never stored or logged.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Mapping

from sqlite_utils import Database

from tracker.dates import LONDON, long_date, utc_iso
from tracker.ingest.config import ENV_NAME, WEEKDAYS, Settings, expand_env
from tracker.store.notify import (
    Message,
    claim_due,
    close_source_alert,
    finish_delivery,
    open_source_alert,
    open_source_alerts,
    queue_daily,
    queue_message,
    record_hits,
    saved_searches,
    untold_daily_hits,
)

from . import messages
from .digest import Item, next_issue_date, publication_line

FIRST_RETRY = timedelta(minutes=5)
LAST_RETRY = timedelta(hours=6)  # the longest wait between attempts: retried for ever, never lost
FTS_TERM = re.compile(r'"([^"]*)"|(\S+)')

log = logging.getLogger(__name__)


@dataclass
class NotifyResult:
    queued: list[str] = field(default_factory=list)  # subjects of the messages that became due
    sent: int = 0
    failed: list[str] = field(default_factory=list)  # "subject: reason (next try at ...)"


def destination_id(url: str) -> str:
    """How the database names a destination: a hash of the URL as written ($NAME unexpanded)."""
    return hashlib.sha256(url.strip().encode()).hexdigest()[:16]


def retry_delay(attempts: int) -> timedelta:
    """5 minutes after the first failure, doubling, at most 6 hours."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LAST_RETRY)


def notify(db: Database, settings: Settings, *, now: datetime | None = None,
           environ: Mapping[str, str] | None = None) -> NotifyResult:
    """Record whatever has become due, then send what waits. Needs ``settings.notify``."""
    now = now or datetime.now(timezone.utc)
    destinations = [destination_id(url) for url in settings.notify]
    result = NotifyResult()
    result.queued += source_alerts(db, settings, destinations, now)
    result.queued += search_matches(db, settings, destinations, now)
    result.queued += weekly_draft(db, settings, destinations, now)
    result.queued += daily_matches(db, settings, destinations, now)
    deliver(db, settings, now, os.environ if environ is None else environ, result)
    return result


# What is due


def source_alerts(db: Database, settings: Settings, destinations: list[str], now: datetime) -> list[str]:
    """One message when a source starts failing (or falls silent), one when it recovers."""
    queued = []
    sources = {row["id"]: row for row in db.execute_returning_dicts(
        "select * from sources where configured = 1 order by id")}
    for alert in open_source_alerts(db):
        source = sources.get(alert["source_id"])
        if source is None:
            continue  # no longer configured: nothing to recover from
        if _recovered(source, alert):
            message = messages.recovered_message(source, alert)
            if close_source_alert(db, alert, message, destinations, now):
                queued.append(message.subject)
    still_open = {(a["source_id"], a["kind"]) for a in open_source_alerts(db)}
    silent_before = utc_iso(now - timedelta(seconds=settings.silent_after)) if settings.silent_after else None
    for source in sources.values():
        if (source["consecutive_errors"] or 0) >= settings.alert_after and (source["id"], "failing") not in still_open:
            since = _failing_since(db, source)
            message = messages.failing_message(source, since, settings.alert_after)
            if open_source_alert(db, source["id"], "failing", since, source["last_error"] or "",
                                 message, destinations, now):
                queued.append(message.subject)
        last_new = source["last_new"]
        if (silent_before and last_new and last_new < silent_before and not source["consecutive_errors"]
                and (source["id"], "silent") not in still_open):
            message = messages.silent_message(source, last_new, (settings.silent_after or 0) // 86400)
            if open_source_alert(db, source["id"], "silent", last_new, "nothing new", message,
                                 destinations, now):
                queued.append(message.subject)
    return queued


def _recovered(source: dict, alert: dict) -> bool:
    if alert["kind"] == "failing":
        # Only a successful fetch resets the count (timestamps are to the second: no comparison).
        return not source["consecutive_errors"]
    return (source["last_new"] or "") > alert["since"]


def _failing_since(db: Database, source: dict) -> str:
    """When the source's run of failures began: its first failed fetch after the last success."""
    row = db.execute(
        "select min(started) from fetch_log where source_id = ? and error is not null and started > ?",
        [source["id"], source["last_success"] or ""],
    ).fetchone()
    return row[0] or source["last_attempt"] or utc_iso(datetime.now(timezone.utc))


def search_matches(db: Database, settings: Settings, destinations: list[str], now: datetime) -> list[str]:
    """Publications first seen since a search was saved that match it: told at once, or kept
    for the day's message."""
    queued = []
    for search in saved_searches(db):
        ids = matching_ids(db, search)
        if not ids:
            continue
        message = None
        if search["frequency"] == "at_once":
            items = _publications(db, ids, now)
            key = f"search:{search['id']}:" + hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]
            title = items[0].title if len(items) == 1 else f"{len(items)} new publications"
            message = messages.search_message(key, [(search["name"], items)],
                                              f"Saved search {search['name']}: {title}")
        if record_hits(db, search["id"], ids, message, destinations, now) and message:
            queued.append(message.subject)
    return queued


def matching_ids(db: Database, search: dict) -> list[int]:
    """The search's new, untold matches: the workspace's full-text search (each word, or each
    "quoted phrase", must appear), narrowed by theme and publisher; never a rejected one."""
    try:
        rows = db.execute(
            """select p.id from publications p join publications_fts f on f.rowid = p.id
               where publications_fts match :query and p.first_seen >= :since and p.status != 'rejected'
                 and (:theme is null or exists (select 1 from json_each(p.themes) where value = :theme))
                 and (:publisher is null or lower(p.publisher) = lower(:publisher))
                 and not exists (select 1 from saved_search_hits h
                                 where h.search_id = :search and h.publication_id = p.id)
               order by p.id""",
            {"query": fts_query(search["query"]), "since": search["created_at"],
             "theme": search["theme"], "publisher": search["publisher"], "search": search["id"]},
        ).fetchall()
    except Exception as ex:  # the search's words reach SQLite's FTS syntax: one bad search skips
        log.warning("saved search %r skipped: %s", search["name"], ex)
        return []
    return [row[0] for row in rows]


def fts_query(text: str) -> str:
    """Editors' words as an FTS5 query of quoted terms: no word is read as an operator."""
    terms = [(phrase or word).replace('"', "") for phrase, word in FTS_TERM.findall(text)]
    return " ".join(f'"{term}"' for term in terms if term.strip())


def _publications(db: Database, ids: list[int], now: datetime) -> list[Item]:
    """The publications as the digest writes their lines, in this issue's year."""
    today = now.astimezone(LONDON).date()
    return [item for item in (publication_line(db, pid, today) for pid in ids) if item is not None]


def weekly_draft(db: Database, settings: Settings, destinations: list[str], now: datetime) -> list[str]:
    """On the issue's eve (settings.draft_day at draft_time, London time), the draft, once."""
    week = next_issue_date(now.astimezone(LONDON).date(), settings.issue_day)
    if now < draft_time(week, settings):
        return []
    last = db.execute("select max(created_at) from notifications where kind = 'draft'").fetchone()[0]
    message = messages.draft_message(db, week, settings.workspace_url, last)
    return [message.subject] if queue_message(db, message, destinations, now) else []


def draft_time(week: date, settings: Settings) -> datetime:
    """When the draft for the issue of ``week`` is due, by default the day before at 16:00."""
    issue = WEEKDAYS.index(settings.issue_day)
    day = WEEKDAYS.index(settings.draft_day) if settings.draft_day else (issue - 1) % 7
    return datetime.combine(week - timedelta(days=(issue - day) % 7), _clock(settings.draft_time),
                            LONDON)


def daily_matches(db: Database, settings: Settings, destinations: list[str], now: datetime) -> list[str]:
    """From draft_time each day, the daily searches' matches gathered into one message."""
    today = now.astimezone(LONDON).date()
    if now < datetime.combine(today, _clock(settings.draft_time), LONDON):
        return []
    hits = untold_daily_hits(db)
    if not hits:
        return []
    items = {item.id: item for item in _publications(db, [hit["publication_id"] for hit in hits], now)}
    groups: dict[str, list[Item]] = {}
    for hit in hits:
        if hit["publication_id"] in items:
            groups.setdefault(hit["search_name"], []).append(items[hit["publication_id"]])
    message = messages.search_message(
        f"daily:{today.isoformat()}", list(groups.items()),
        f"Saved searches, {long_date(today)}: {len(hits)} new matches")
    return [message.subject] if queue_daily(db, hits, message, destinations, now) else []


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


# Sending


def deliver(db: Database, settings: Settings, now: datetime, environ: Mapping[str, str],
            result: NotifyResult) -> None:
    urls = {destination_id(url): url for url in settings.notify}
    for delivery in claim_due(db, urls, now):
        error = send(urls[delivery.destination], delivery.message, environ)
        if error is None:
            finish_delivery(db, delivery, now)
            result.sent += 1
            continue
        retry_at = now + retry_delay(delivery.attempts + 1)
        finish_delivery(db, delivery, now, error, retry_at)
        result.failed.append(f"{delivery.message.subject}: {error} (tried again after "
                             f"{messages.london_stamp(utc_iso(retry_at))})")
        log.warning("message %s not delivered: %s", delivery.message.key, error)


def send(url: str, message: Message, environ: Mapping[str, str]) -> str | None:
    """Send one message to one Apprise URL: None when it went, else why not, in words (with no
    secret in them). Email gets the HTML body, which Apprise sends as multipart with a plain
    part; chat and webhooks get the plain text."""
    import apprise

    expanded, missing = expand_env(url, environ)
    if missing:
        return f"the environment has no {', '.join('$' + name for name in missing)} for this destination"
    used = {match.group(1) or match.group(2) for match in ENV_NAME.finditer(url)}
    secrets = sorted({environ[name] for name in used if environ[name]}, key=len, reverse=True)
    # Apprise's own lines may name the URL: captured for the reason, kept out of the log.
    logger = logging.getLogger("apprise")
    propagate, logger.propagate = logger.propagate, False
    try:
        service = apprise.Apprise.instantiate(expanded)
        if service is None:
            return "Apprise could not use this destination's URL"
        formats = service.notify_format
        wanted = formats[0] if isinstance(formats, tuple) else formats
        html = wanted == apprise.NotifyFormat.HTML and message.html is not None
        sender = apprise.Apprise()
        sender.add(service)
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
            ok = bool(sender.notify(
                title=message.subject, body=message.html if html and message.html else message.text,
                body_format=apprise.NotifyFormat.HTML if html else apprise.NotifyFormat.TEXT,
            ))
        reason = captured.getvalue().strip().splitlines()
    except Exception as ex:  # a destination's failure is recorded, never raised
        ok, reason = False, [f"{type(ex).__name__}: {ex}"]
    finally:
        logger.propagate = propagate
    if ok:
        return None
    text = reason[-1] if reason else "Apprise reported a failure without a reason"
    for secret in secrets:
        text = text.replace(secret, "***")
    return text
