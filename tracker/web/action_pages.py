"""The workspace's audited writes that are more than one canned query: listing or ignoring an
upstream update (routes of tracker.web).

Each is a POST from an editor's form; Datasette checks its CSRF token before the route runs.
The writes go through tracker.store, which audits them; the answer is a redirect back to
triage with a message, or ``{"ok": ..., "message": ...}`` for ``_json=1``, as the canned
queries answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from datasette.utils.asgi import Request, Response
from sqlite_utils import Database

from tracker import TrackerError
from tracker.store import ignore_update, list_update

from .workspace import is_editor, login_redirect, workspace_database

if TYPE_CHECKING:
    from datasette.app import Datasette


async def update_action(request: Request, datasette: Datasette) -> Response:
    """POST action=list|ignore: list the update as "On 12 May DfE updated ...", or set it aside."""
    if not is_editor(request.actor):
        return login_redirect(datasette, request)
    if request.method != "POST":
        return Response.redirect(datasette.urls.path("/-/triage"))
    form = await request.post_vars()
    update_id, editor = int(request.url_vars["id"]), request.actor["id"]
    action = form.get("action")
    db = workspace_database(datasette)
    if action == "list":
        write, done = (lambda conn: list_update(Database(conn), update_id, editor)), "Listed as an update"
    elif action == "ignore":
        write, done = (lambda conn: ignore_update(Database(conn), update_id, editor)), "Update ignored"
    else:
        return answer(datasette, request, form, False, "Choose to list the update or ignore it")
    try:
        await db.execute_write_fn(write)
    except TrackerError as ex:
        return answer(datasette, request, form, False, str(ex))
    return answer(datasette, request, form, True, done)


def answer(datasette: Datasette, request: Request, form: dict, ok: bool, message: str) -> Response:
    if form.get("_json"):
        return Response.json({"ok": ok, "message": message}, status=200 if ok else 400)
    datasette.add_message(request, message, datasette.INFO if ok else datasette.ERROR)
    return Response.redirect(datasette.urls.path("/-/triage"))
