"""The workspace's audited writes that are more than one canned query: adding a publication the
sources missed from its URL, and listing or ignoring an upstream update (routes of tracker.web).

Each is a POST from an editor's form; Datasette checks its CSRF token before the route runs.
The writes go through tracker.store, which audits them; the answer is a redirect back to
triage with a message, or ``{"ok": ..., "message": ...}`` for ``_json=1``, as the canned
queries answer.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import TYPE_CHECKING, Callable
from urllib.parse import urlsplit

from datasette.utils.asgi import Request, Response
from itsdangerous import BadSignature
from sqlite_utils import Database

from tracker import TrackerError
from tracker.publish.adding import AddRequest, add_publication
from tracker.store import ignore_update, list_update

from .workspace import editors_only, workspace_database

if TYPE_CHECKING:
    from datasette.app import Datasette
    from datasette.database import Database as DatasetteDatabase


ADD_FIELDS = ("url", "title", "publisher", "published")
ADD_COOKIE = "tracker_add"

# What an editor may do with an update: the store's write, and what the editor is told.
UPDATE_ACTIONS: dict[str, tuple[Callable[[Database, int, str], object], str]] = {
    "list": (list_update, "Listed as an update"),
    "ignore": (ignore_update, "Update ignored"),
}


@editors_only
async def update_action(request: Request, datasette: Datasette) -> Response:
    """POST action=list|ignore: list the update as "On 12 May DfE updated ...", or set it aside."""
    if request.method != "POST":
        return Response.redirect(datasette.urls.path("/-/triage"))
    form = await request.post_vars()
    update_id, editor = int(request.url_vars["id"]), request.actor["id"]
    action = form.get("action")
    db = workspace_database(datasette)
    if action not in UPDATE_ACTIONS:
        return answer(datasette, request, form, False, "Choose to list the update or ignore it")
    write, done = UPDATE_ACTIONS[action]
    try:
        await db.execute_write_fn(lambda conn: write(Database(conn), update_id, editor))
    except TrackerError as ex:
        return answer(datasette, request, form, False, str(ex))
    return answer(datasette, request, form, True, done)


@editors_only
async def add_url(request: Request, datasette: Datasette) -> Response:
    """POST url=... (accept=1 to accept it for the list too): read the page's own metadata,
    store it as source 'manual' and classify it. Loopback, private and link-local addresses are
    refused (editors must not reach the server's network), except on a host where the
    operator configured a source: fetching from there is the operator's choice already."""
    if request.method != "POST":
        return Response.redirect(datasette.urls.path("/-/triage"))
    form = await request.post_vars()
    db = workspace_database(datasette)
    url = (form.get("url") or "").strip()
    public_only = urlsplit(url).netloc.lower() not in await configured_hosts(db)
    typed = {field: (form.get(field) or "").strip() for field in ADD_FIELDS}
    try:
        published = date.fromisoformat(typed["published"]) if typed["published"] else None
    except ValueError:
        return answer(datasette, request, form, False,
                      f"{typed['published']!r} is not a date (YYYY-MM-DD)", keep=typed)
    wanted = AddRequest(url=url, title=typed["title"], publisher=typed["publisher"], published=published,
                        accept=bool(form.get("accept")))
    try:
        # A worker thread with its own connection: reading the page takes seconds, and the
        # store's write is one short transaction, as a poll's is.
        added = await asyncio.to_thread(add_publication, db.path, wanted, request.actor["id"],
                                        public_only=public_only)
    except TrackerError as ex:
        return answer(datasette, request, form, False, str(ex), keep=typed)
    if not added.created:
        return answer(datasette, request, form, False, f"Already stored as #{added.id}: {added.title}")
    return answer(datasette, request, form, True,
                  f"{'Added and accepted' if wanted.accept else 'Added'} #{added.id}: {added.line}")


async def configured_hosts(db: DatasetteDatabase) -> set[str]:
    """The hosts (host:port) of the configured sources: the operator chose to fetch from them."""
    rows = (await db.execute("select url from sources where configured = 1")).rows
    return {urlsplit(row["url"] or "").netloc.lower() for row in rows} - {""}


def answer(datasette: Datasette, request: Request, form: dict, ok: bool, message: str,
           keep: dict[str, str] | None = None) -> Response:
    """The JSON answer, or back to triage with the message; ``keep``: the add form's fields as
    the editor typed them, for triage to fill the form in again (a signed cookie, read once)."""
    if form.get("_json"):
        return Response.json({"ok": ok, "message": message}, status=200 if ok else 400)
    datasette.add_message(request, message, datasette.INFO if ok else datasette.ERROR)
    response = Response.redirect(datasette.urls.path("/-/triage"))
    if keep:
        response.set_cookie(ADD_COOKIE, datasette.sign({**keep, "accept": bool(form.get("accept"))}, ADD_COOKIE),
                            max_age=600, path=datasette.urls.path("/-/"), httponly=True)
    return response


def typed_add_form(datasette: Datasette, request: Request) -> dict | None:
    """The add form's fields as the editor last typed them before a refusal (``answer``)."""
    value = request.cookies.get(ADD_COOKIE)
    if not value:
        return None
    try:
        typed = datasette.unsign(value, ADD_COOKIE)
    except BadSignature:
        return None
    return typed if isinstance(typed, dict) else None


def forget_add_form(datasette: Datasette, response: Response) -> None:
    response.set_cookie(ADD_COOKIE, "", expires=0, path=datasette.urls.path("/-/"), httponly=True)
