"""The words of each notification: the weekly draft, a source's alert and recovery, saved-search
matches. Pure functions of what the store holds; ``tracker.publish.notify`` decides when each is
due and sends it.

Each message has a plain-text body (chat, webhooks) and, where a list is worth linking, an HTML
body (email sends both as one multipart message). The draft's list is the digest's own rendering,
so what arrives is what ``tracker digest`` prints.
"""

from __future__ import annotations

import html
from datetime import date

from sqlite_utils import Database

from tracker.dates import london_time, long_date
from tracker.store.notify import Message

from .digest import Digest, Item, collect, render
from .digest import line as house_line

TOP_CANDIDATES = 10


def london_stamp(iso: str | None) -> str:
    """"30 November 2026 10:05" in London time, from a stored UTC timestamp."""
    return london_time(iso, at=" ") if iso else "an unknown time"


def triage_link(workspace_url: str | None, item: Item) -> str | None:
    return f"{workspace_url}/-/triage#card-{item.id}" if workspace_url else None


def draft_message(db: Database, week: date, workspace_url: str | None, since: str | None) -> Message:
    """The coming issue's list as it stands, this week's top candidates with a link each to
    triage, and what changed since the last draft (``since``: when it was recorded)."""
    digest = collect(db, week, candidates=TOP_CANDIDATES)
    subject = (f"Draft for the issue of {long_date(week)}: {len(digest.accepted)} on the list, "
               f"{len(digest.candidates)} top candidates")
    changes = _changes(db, since)
    text = [f"The list for the issue of {long_date(week)} as it stands, and this week's top "
            "candidates.", render(digest, "text").rstrip()]
    markup = [f"<p>{html.escape(text[0])}</p>", render(digest, "html").rstrip()]
    links = [(item, triage_link(workspace_url, item)) for item in digest.candidates]
    if workspace_url and links:
        text.append("Triage\n------\n" + "\n".join(f"{item.title}: {link}" for item, link in links))
        markup.append("<h2>Triage</h2>\n<ul>\n" + "\n".join(
            # The address as the link's text too: email's plain part keeps the text, not the href.
            f'<li>{html.escape(item.title)}: <a href="{html.escape(link or "")}">{html.escape(link or "")}</a></li>'
            for item, link in links) + "\n</ul>")
    text.append(changes)
    markup.append(f"<h2>Since the last message</h2>\n<p>{html.escape(changes.splitlines()[-1])}</p>")
    return Message(f"draft:{week.isoformat()}", "draft", subject, "\n\n".join(text) + "\n",
                   "\n".join(markup) + "\n")


def _changes(db: Database, since: str | None) -> str:
    heading = "Since the last message\n----------------------\n"
    if since is None:
        return heading + "This is the first draft tracker has sent."
    counts = db.execute(
        """select sum(status = 'accepted' and reviewed_at > :since),
                  sum(status = 'rejected' and reviewed_at > :since),
                  sum(first_seen > :since)
           from publications""", {"since": since}).fetchone()
    parts = [f"{counts[0] or 0} accepted", f"{counts[1] or 0} rejected",
             f"{counts[2] or 0} new publications found"]
    # publication_updates arrives with the poll's change tracking (issue 16); counted where it is.
    if db.table("publication_updates").exists():
        updates = db.execute("select count(*) from publication_updates where seen_at > ?", [since]).fetchone()[0]
        parts.append(f"{updates} changed upstream")
    return heading + f"Since {london_stamp(since)}: " + ", ".join(parts) + "."


def failing_message(source: dict, since: str, alert_after: int) -> Message:
    reason = source.get("last_error") or "an unknown error"
    count = source.get("consecutive_errors") or alert_after
    hint = ""
    if "matched nothing" in reason:
        hint = (" The page's layout has probably changed: check the source's item selector in "
                "sources.yaml.")
    text = (f"{_name(source)} has failed its last {count} polls, since {london_stamp(since)} "
            f"(London time).\nThe reason: {reason}.{hint}\n"
            "tracker will say once more when it recovers, not at every poll.\n")
    return Message(f"source-failing:{source['id']}:{since}", "source-failing",
                   f"Source {source['id']} is failing: {_short(reason)}", text)


def recovered_message(source: dict, alert: dict) -> Message:
    what = "failing" if alert["kind"] == "failing" else "silent"
    text = (f"{_name(source)} works again: its last poll succeeded at "
            f"{london_stamp(source.get('last_success'))} (London time). It had been {what} since "
            f"{london_stamp(alert['since'])} ({alert['reason']}).\n")
    return Message(f"source-recovered:{source['id']}:{alert['kind']}:{alert['since']}",
                   "source-recovered", f"Source {source['id']} has recovered", text)


def silent_message(source: dict, since: str, silent_days: int) -> Message:
    text = (f"{_name(source)} has announced nothing new since {london_stamp(since)} (London "
            f"time), longer than the {silent_days} days settings.silent_after allows, though its "
            "polls succeed. Its feed or page may have moved.\n")
    return Message(f"source-silent:{source['id']}:{since}", "source-silent",
                   f"Source {source['id']} has been silent for {silent_days} days", text)


def search_message(key: str, searches: list[tuple[str, list[Item]]], subject: str) -> Message:
    """Matches of one or more saved searches, each publication in the house style."""
    text, markup = [], []
    for name, items in searches:
        text.append(f"{name}\n" + "-" * len(name) + "\n" + "\n".join(
            f"{line} {item.url}" if item.linkable else line
            for item, line in ((item, house_line(item)) for item in items)))
        markup.append(f"<h2>{html.escape(name)}</h2>\n" + "\n".join(
            _html_line(item) for item in items))
    return Message(key, "search", subject, "\n\n".join(text) + "\n", "\n".join(markup) + "\n")


def _html_line(item: Item) -> str:
    one = Digest(week=item.day, weeks=1, accepted=[item], candidates=[])
    # The digest's own html line: the second block of its rendering (after the heading).
    return render(one, "html").split("\n\n")[1]


def _name(source: dict) -> str:
    return f"The source {source['id']} ({source.get('publisher') or 'no publisher'}, {source.get('url')})"


def _short(reason: str, limit: int = 80) -> str:
    return reason if len(reason) <= limit else reason[: limit - 1] + "…"
