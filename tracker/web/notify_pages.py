"""Saved searches (routes of tracker.web): an editor saves the current search (its words, and
optionally a theme and a publisher) under a name, with "tell me at once / daily / never";
they are listed, edited and removed at /-/searches. tracker notify sends their matches.

Each write is a POST from an editor's form (Datasette checks its CSRF token first) through
tracker.store.notify, which audits it in audit_log like every other edit.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from datasette.utils.asgi import Request, Response
from sqlite_utils import Database

from tracker import TrackerError
from tracker.store.notify import FREQUENCIES, remove_search, save_search

from .workspace import digits, editors_only, is_editor, theme_labels, workspace, workspace_database

if TYPE_CHECKING:
    from datasette.app import Datasette

FREQUENCY_LABELS = {"at_once": "at once", "daily": "in the daily message", "never": "never"}


@editors_only
async def searches(request: Request, datasette: Datasette) -> Response:
    """GET: the saved searches and a form prefilled from ?q=&theme=&publisher= (the search the
    editor came from). POST action=save|remove: write, then back here with a message."""
    db = workspace_database(datasette)
    if request.method == "POST":
        return await _write(request, datasette)
    rows = [dict(row) for row in (await db.execute(
        "select * from saved_searches order by name collate nocase, id")).rows]
    themes = list((await theme_labels(db)).items())
    html = await datasette.render_template(
        "tracker_searches.html",
        {"database": db.name, "searches": rows, "themes": themes, "frequencies": FREQUENCY_LABELS,
         "draft": {key: request.args.get(key, "") for key in ("q", "theme", "publisher", "name")}},
        request=request,
    )
    return Response.html(html)


def save_this_search(datasette: Datasette, actor: dict | None, database: str, table: str,
                     request: Request | None) -> list[dict] | None:
    """The publications table's action "Save this search", for an editor who has searched:
    its words (_search), theme (_theme) and publisher (an exact publisher filter) prefill the form."""
    config = workspace(datasette)
    if (config is None or database != config.database or table != "publications" or request is None
            or not is_editor(actor) or not request.args.get("_search")):
        return None
    draft = {"q": request.args.get("_search"), "theme": request.args.get("_theme"),
             "publisher": request.args.get("publisher__exact") or request.args.get("publisher")}
    query = urlencode({key: value for key, value in draft.items() if value})
    return [{"href": datasette.urls.path("/-/searches") + "?" + query, "label": "Save this search"}]


async def _write(request: Request, datasette: Datasette) -> Response:
    form = await request.post_vars()
    editor, now = request.actor["id"], datetime.now(timezone.utc)
    action = form.get("action")
    search_id = int(form["id"]) if digits(form.get("id")) else None
    if action == "remove" and search_id is not None:
        def write(conn: sqlite3.Connection) -> None:
            remove_search(Database(conn), editor, search_id, now)

        done = "Saved search removed"
    elif action == "save":
        frequency = form.get("frequency") or "daily"
        if frequency not in FREQUENCIES:
            return _back(request, datasette, False, "Choose at once, daily or never")

        def write(conn: sqlite3.Connection) -> None:
            save_search(Database(conn), editor, form.get("name") or "", form.get("q") or "",
                        theme=form.get("theme") or None, publisher=(form.get("publisher") or "").strip() or None,
                        frequency=frequency, search_id=search_id, now=now)

        done = "Saved search changed" if search_id else "Search saved"
    else:
        return _back(request, datasette, False, "Choose to save or remove a search")
    try:
        await workspace_database(datasette).execute_write_fn(write)
    except TrackerError as ex:
        return _back(request, datasette, False, str(ex))
    return _back(request, datasette, True, done)


def _back(request: Request, datasette: Datasette, ok: bool, message: str) -> Response:
    # Datasette's signed message cookie, as the other pages' writes use: a link cannot put words
    # on this page, as a message in the query string could.
    datasette.add_message(request, message, datasette.INFO if ok else datasette.ERROR)
    return Response.redirect(datasette.urls.path("/-/searches"))
