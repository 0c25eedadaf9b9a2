"""Editors log in at /-/login: the form, the check against the accounts file, the session cookie.

The cookie is Datasette's own ``ds_actor``, signed as datasette-auth-passwords signs it, so
Datasette checks the signature and the expiry on every request; the plugin also checks that it
is a live session of an existing account (tracker.web.sessions). Failed logins are throttled
per account and per address (tracker.web.guard.Throttle).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from datasette.utils.asgi import Request, Response

from .editors import EditorError, check_login
from .guard import throttle
from .sessions import COOKIE, open_session, session_seconds
from .workspace import workspace_database

if TYPE_CHECKING:
    from datasette.app import Datasette

# At most this many password checks at once (in worker threads, the event loop never waits):
# each is a good fraction of a CPU-second, and a flood of them must not starve the pages.
CHECKS = threading.BoundedSemaphore(2)

log = logging.getLogger(__name__)


async def login(request: Request, datasette: Datasette) -> Response:
    """GET: the form (with Datasette's CSRF token); POST: check the editors file, set ds_actor."""
    next_path = _safe_next(request.args.get("next"))
    error = None
    username = ""
    status, headers = 200, {}
    if request.method == "POST":
        form = await request.post_vars()
        next_path = _safe_next(form.get("next"))
        username = (form.get("username") or "").strip()
        password = form.get("password") or ""
        client = request.scope.get("client") or ("unknown", 0)
        # Names are at most 40 characters: a longer one is nobody's, and must not cost memory.
        keys = (f"account:{username.lower()[:64]}", f"address:{client[0]}")
        guard = throttle(datasette)
        wait = guard.wait(*keys)
        ok = False
        if wait > 0:  # refused unchecked: a guess during the wait tells nothing
            seconds = math.ceil(wait)
            log.warning("login throttled for %r from %s (%ds)", username[:40], client[0], seconds)
            error = f"Too many failed logins: try again in {seconds} seconds."
            status, headers = 429, {"Retry-After": str(seconds)}
        else:
            try:
                # pbkdf2 with 480,000 rounds takes a good fraction of a second: off the loop.
                ok = await asyncio.to_thread(_check, workspace_database(datasette).path,
                                             username, password)
            except EditorError as ex:  # a damaged accounts file: the details go to the log only
                log.error("login refused: %s", ex)
                error = "The editors' accounts cannot be read: ask whoever runs the tracker."
            if ok:
                guard.succeeded(keys[0])
                response = Response.redirect(next_path or datasette.urls.path("/-/triage"))
                response.set_cookie(COOKIE, open_session(datasette, username), httponly=True,
                                    max_age=session_seconds(datasette))
                return response
            if error is None:
                guard.failed(*keys)
                error = "That username and password do not match an editor's account."
            status = 401
    html = await datasette.render_template(
        "tracker_login.html",
        # A refused login keeps the name typed: the editor retypes only the password.
        {"error": error, "next": next_path or "", "username": username[:40]},
        request=request,
    )
    return Response.html(html, status=status, headers=headers)


def _check(db_path: str, username: str, password: str) -> bool:
    with CHECKS:
        return check_login(db_path, username, password)


def _safe_next(value: str | None) -> str | None:
    """Only a path on this site: never an open redirect to somebody else's, never a header
    the server cannot send. Anything else means the default page."""
    # Browsers drop tabs and newlines from a URL and read a backslash as "/": "/<tab>/host"
    # and "/\host" both mean "//host". Any control character is refused with them (CR/LF
    # would split the Location header).
    if (not value or not value.startswith("/") or value.startswith("//") or "\\" in value
            or any(ord(char) < 32 or ord(char) == 127 for char in value)):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    # Non-ASCII characters percent-encoded, so that the Location header is plain ASCII.
    return quote(value, safe="/?&=#%+:;@!$'()*,~-._")
