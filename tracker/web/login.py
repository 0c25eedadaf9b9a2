"""Editors log in at /-/login: the form, the check against the accounts file, the actor cookie.

The cookie is Datasette's own ``ds_actor``, signed exactly as datasette-auth-passwords signs it,
so Datasette checks the signature and the expiry on every request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from datasette.utils import baseconv
from datasette.utils.asgi import Request, Response

from .editors import EditorError, check_login
from .workspace import EDITOR_ROLE, workspace_database

if TYPE_CHECKING:
    from datasette.app import Datasette

SESSION_DAYS = 30
UNSAFE_IN_NEXT = set("\\\t\r\n")

log = logging.getLogger(__name__)


async def login(request: Request, datasette: Datasette) -> Response:
    """GET: the form (with Datasette's CSRF token); POST: check the editors file, set ds_actor."""
    next_path = _safe_next(request.args.get("next"))
    error = None
    if request.method == "POST":
        form = await request.post_vars()
        next_path = _safe_next(form.get("next"))
        username = (form.get("username") or "").strip()
        db_path = workspace_database(datasette).path
        # pbkdf2 with 480,000 rounds takes a good fraction of a second: keep it off the loop.
        try:
            ok = await asyncio.to_thread(check_login, db_path, username, form.get("password") or "")
        except EditorError as ex:  # a damaged accounts file: the details go to the log only
            log.error("login refused: %s", ex)
            ok, error = False, "The editors' accounts cannot be read: ask whoever runs the tracker."
        if ok:
            response = Response.redirect(next_path or datasette.urls.path("/-/triage"))
            expires = baseconv.base62.encode(int(time.time()) + SESSION_DAYS * 86400)
            actor = {"id": username, "roles": [EDITOR_ROLE]}
            response.set_cookie(
                "ds_actor", datasette.sign({"a": actor, "e": expires}, "actor"),
                httponly=True, max_age=SESSION_DAYS * 86400,
            )
            return response
        error = error or "That username and password do not match an editor's account."
    html = await datasette.render_template(
        "tracker_login.html",
        {"error": error, "next": next_path or "", "username": ""},
        request=request,
    )
    return Response.html(html, status=401 if error else 200)


def _safe_next(value: str | None) -> str | None:
    """Only a path on this site: never an open redirect to somebody else's."""
    # Browsers drop tabs and newlines from a URL and read a backslash as "/": "/<tab>/host"
    # and "/\host" both mean "//host".
    if not value or not value.startswith("/") or value.startswith("//") or UNSAFE_IN_NEXT & set(value):
        return None
    parts = urlsplit(value)
    return None if parts.scheme or parts.netloc else value
