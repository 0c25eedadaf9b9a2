"""Editors' sessions: a ``ds_actor`` cookie that holds only while its account does.

Datasette accepts any ``ds_actor`` cookie signed with the secret until its expiry. Ours also
carry a session id (``s``) and the account's session key (``k``, see tracker.web.editors), and
the plugin's ASGI guard (tracker.web.guard) drops the cookie from each request unless the
account still exists, its key is the same (no new password since), and the session was not
logged out. So removing an editor, resetting a password or logging out ends sessions at once,
in a running server too: the accounts file is re-read whenever it changes.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import TYPE_CHECKING

from datasette.utils import baseconv
from datasette.utils.asgi import Request, Response
from itsdangerous import BadSignature

from .editors import EditorError, current_editors, end_session, session_key
from .workspace import EDITOR_ROLE, configured, workspace_database

if TYPE_CHECKING:
    from datasette.app import Datasette

COOKIE = "ds_actor"

log = logging.getLogger(__name__)


def session_seconds(datasette: Datasette) -> int:
    return int(configured(datasette).session_hours * 3600)


def open_session(datasette: Datasette, name: str) -> str:
    """A signed cookie value for a new session of editor ``name`` (who must have an account)."""
    record = current_editors(workspace_database(datasette).path)[name]
    expires = int(time.time()) + session_seconds(datasette)
    return datasette.sign({"a": {"id": name, "roles": [EDITOR_ROLE]},
                           "e": baseconv.base62.encode(expires),
                           "s": secrets.token_urlsafe(16), "k": session_key(record)}, "actor")


def read_session(datasette: Datasette, cookie: str) -> dict | None:
    """The cookie's payload when it is a live session of an existing account, else None."""
    try:
        payload = datasette.unsign(cookie, "actor")
        expires = int(baseconv.base62.decode(payload["e"]))
        name, session, key = payload["a"]["id"], payload["s"], payload["k"]
    except (BadSignature, TypeError, KeyError, ValueError):
        return None
    if expires < time.time():
        return None
    try:
        record = current_editors(workspace_database(datasette).path).get(name)
    except EditorError as ex:  # a damaged accounts file: nobody is an editor until it is fixed
        log.error("session refused: %s", ex)
        return None
    if (not isinstance(record, dict) or key != session_key(record)
            or session in (record.get("ended") or {})):
        return None
    return payload


async def logout(request: Request, datasette: Datasette) -> Response:
    """Datasette's /-/logout, which also ends the session for good (its cookie no longer
    works, even replayed); GET asks to confirm, as Datasette's does."""
    if request.method != "POST":
        if not request.actor:
            return Response.redirect(datasette.urls.instance())
        html = await datasette.render_template("logout.html", {"actor": request.actor},
                                               request=request)
        return Response.html(html)
    payload = read_session(datasette, request.cookies.get(COOKIE, ""))
    if payload is not None:
        try:
            await asyncio.to_thread(end_session, workspace_database(datasette).path,
                                    payload["a"]["id"], payload["s"],
                                    int(baseconv.base62.decode(payload["e"])))
        except (EditorError, OSError) as ex:
            log.error("logout could not end the session on the server: %s", ex)
    response = Response.redirect(datasette.urls.instance())
    response.set_cookie(COOKIE, "", expires=0, max_age=0)
    datasette.add_message(request, "You are now logged out", datasette.WARNING)
    return response
