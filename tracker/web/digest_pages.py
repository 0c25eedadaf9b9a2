"""The digests: each issue's page and the index of drafts and sent issues (routes of tracker.web).

A draft is rendered from the store on every request, so an editor's decision in triage shows at
once; a sent issue shows the text frozen when it was marked sent. The newsletter's list and
this week's candidates are shown apart, and Copy takes the list alone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from html import unescape
from typing import TYPE_CHECKING, Callable

from datasette.utils.asgi import NotFound, Request, Response
from sqlite_utils import Database

from tracker import TrackerError
from tracker.dates import LONDON
from tracker.publish.digest import Digest, Item, collect, current_issue, line
from tracker.publish.digest import mark_sent as send_issue
from tracker.store import reopen_issue

from .wording import day_words
from .workspace import configured, editors_only, ensure_table_visible, is_editor, workspace_database

if TYPE_CHECKING:
    import sqlite3

    from datasette.app import Datasette
    from datasette.database import Database as DatasetteDatabase


@dataclass(frozen=True)
class Issue:
    """One issue as its page shows it: the stored row (None before any draft was stored) and,
    for a draft, the digest as the store has it now."""

    week: date
    row: dict | None
    digest: Digest | None
    previous: dict | None = None  # for a draft, the last issue sent before it

    @property
    def sent(self) -> bool:
        return bool(self.row and self.row.get("sent_at"))


async def coming_issue(datasette: Datasette) -> date:
    """The issue being drafted: the next issue day (the served settings') not yet sent."""
    today, issue_day = datetime.now(LONDON).date(), configured(datasette).issue_day
    return await workspace_database(datasette).execute_fn(
        lambda conn: current_issue(Database(conn), today, issue_day))


async def digest_index(request: Request, datasette: Datasette) -> Response:
    db = workspace_database(datasette)
    private = await ensure_table_visible(datasette, request.actor, "digests")
    rows: list[dict] = []
    if await db.table_exists("digests"):
        rows = [dict(row) for row in (await db.execute(
            "select * from digests order by week desc limit 200")).rows]
    coming = (await coming_issue(datasette)).isoformat()
    html = await datasette.render_template(
        "tracker_digests.html",
        {"database": db.name, "private": private, "rows": rows, "coming": coming,
         "coming_stored": any(row["week"] == coming for row in rows)},
        request=request,
    )
    return Response.html(html)


async def digest_week(request: Request, datasette: Datasette) -> Response:
    """One issue: the newsletter's list (ready to copy) and, for a draft, the candidates apart."""
    db = workspace_database(datasette)
    private = await ensure_table_visible(datasette, request.actor, "digests")
    issue = await find_issue(db, request.url_vars["week"])
    week = issue.week
    lines = list_lines(issue)
    html = await datasette.render_template(
        "tracker_digest.html",
        {"database": db.name, "private": private, "issue": issue, "week": week.isoformat(),
         "lines": lines, "shown": shown_order(lines),
         "repeated": sum(entry.earlier for entry in lines),
         "candidates": issue.digest.candidates if issue.digest else [],
         "editor": is_editor(request.actor)},
        request=request,
    )
    return Response.html(html)


async def find_issue(db: DatasetteDatabase, text: str) -> Issue:
    """The issue dated ``text``: one stored (drafted or sent), or one still to come. NotFound
    for anything else (a past week never drafted, a 30 February)."""
    try:
        week = date.fromisoformat(text)
    except ValueError:
        raise NotFound("Not a date: an issue's page is /-/digest/YYYY-MM-DD") from None
    issue = await db.execute_fn(lambda conn: load_issue(conn, week))
    if issue.row is None and week < datetime.now(LONDON).date():
        raise NotFound(f"No digest has been generated for {week.isoformat()}")
    return issue


def load_issue(conn: sqlite3.Connection, week: date) -> Issue:
    db = Database(conn)
    row = None
    if db["digests"].exists():
        row = next(db.query("select * from digests where week = ?", [week.isoformat()]), None)
    if row and row.get("sent_at"):
        return Issue(week, row, None)
    previous = None
    if db["digests"].exists():
        previous = next(db.query("""select * from digests where sent_at is not null and week < ?
                                    order by week desc limit 1""", [week.isoformat()]), None)
    return Issue(week, row, collect(db, week, (row or {}).get("weeks") or 12), previous)


@dataclass(frozen=True)
class ListLine:
    """A line of the newsletter's list: its plain text and, for the rich copy, its parts."""

    text: str
    item: Item | None = None
    earlier: bool = False  # a draft's line that was in the last sent issue too
    order: int = 0  # its place in the list as Copy takes it (the CONTRACT's order)


def list_lines(issue: Issue) -> list[ListLine]:
    if issue.digest is None:
        return [ListLine(text, order=n) for n, text in enumerate(sent_lines(issue.row or {}))]
    # The list keeps an accepted publication for its whole window (CONTRACT), so most of last
    # week's lines come round again: known by their link, or their words if they have none.
    previous = issue.previous or {}
    links = set(map(unescape, re.findall(r'href="([^"]*)"', previous.get("html") or "")))
    texts = set(sent_lines(previous))
    return [ListLine(text, item, item.url in links or text in texts, n)
            for n, (item, text) in enumerate((item, line(item)) for item in issue.digest.accepted)]


def shown_order(lines: list[ListLine]) -> list[ListLine]:
    """The lines as the page shows them: those new since the last sent issue first. Copy
    still takes them in the list's own order (each line's ``order``)."""
    return sorted(lines, key=lambda entry: entry.earlier)


def sent_lines(row: dict) -> list[str]:
    """The lines of a stored issue's list (none when its text says nothing was accepted)."""
    if not json.loads(row.get("counts") or "{}").get("accepted"):
        return []  # the frozen text says "Nothing was accepted ...": not a line to paste
    return frozen_list(row.get("text") or "")


def frozen_list(text: str) -> list[str]:
    """The list's lines in a sent issue's stored text (``--format text``: blocks apart by blank
    lines, each heading underlined): the blocks under the first heading, up to the next one."""
    blocks = [block for block in text.split("\n\n") if block.strip()]
    lines = []
    for block in blocks[1:]:
        if _is_heading(block):
            break
        lines.append(" ".join(block.split()))
    return lines


def _is_heading(block: str) -> bool:
    parts = block.strip().split("\n")
    return len(parts) == 2 and len(set(parts[1])) == 1 and parts[1][0] in "=-~"


@editors_only
async def mark_sent(request: Request, datasette: Datasette) -> Response:
    """POST (an editor, with the CSRF token Datasette checks): freeze the issue as sent. GET
    (the week page's button without JavaScript, which asks with confirm() instead): the step
    that asks the editor to confirm, since only Reopen undoes it."""
    db = workspace_database(datasette)
    issue = await find_issue(db, request.url_vars["week"])
    week = issue.week
    if request.method != "POST":
        if issue.sent:
            return Response.redirect(datasette.urls.path(f"/-/digest/{week.isoformat()}"))
        html = await datasette.render_template(
            "tracker_digest_confirm.html",
            {"database": db.name, "week": week.isoformat(), "lines": list_lines(issue)}, request=request)
        return Response.html(html)
    return await _write_issue(request, datasette, week, send_issue, f"The issue of {day_words(week)} is marked sent.")


@editors_only
async def reopen(request: Request, datasette: Datasette) -> Response:
    """POST (an editor, CSRF checked): undo Mark this issue sent; audited (tracker.store)."""
    week_page = datasette.urls.path(f"/-/digest/{request.url_vars['week']}")
    if request.method != "POST":
        return Response.redirect(week_page)
    week = (await find_issue(workspace_database(datasette), request.url_vars["week"])).week
    return await _write_issue(request, datasette, week, reopen_issue,
                              f"The issue of {day_words(week)} is open again: a draft that "
                              "follows the editors' decisions, to be marked sent anew.")


async def _write_issue(request: Request, datasette: Datasette, week: date,
                       write: Callable[[Database, date, str], object], done: str) -> Response:
    """Run the editor's write on the issue dated ``week``, say how it went, back to its page."""
    editor = request.actor["id"]
    try:
        await workspace_database(datasette).execute_write_fn(lambda conn: write(Database(conn), week, editor))
    except TrackerError as ex:
        datasette.add_message(request, str(ex), datasette.ERROR)
    else:
        datasette.add_message(request, done)
    return Response.redirect(datasette.urls.path(f"/-/digest/{week.isoformat()}"))
