"""Every page of the workspace declares its language: ``<html lang="en-GB">``.

Datasette 0.65's base template writes a bare ``<html>`` outside any block a template could
override, so the plugin sets the attribute on the way out, in HTML responses of the workspace's
Datasette only (a plain Datasette with the plugin installed is left as it is).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable, MutableMapping

from .guard import ASGIApp
from .workspace import workspace

if TYPE_CHECKING:
    from datasette.app import Datasette

LANGUAGE = "en-GB"
OPENING = b"<html>"
DECLARED = f'<html lang="{LANGUAGE}">'.encode()
# The tag comes right after the doctype: look no further into the first chunk than this.
HEAD_BYTES = 512


def declare_language(datasette: Datasette, app: ASGIApp) -> ASGIApp:
    async def wrapped(scope: MutableMapping[str, Any], receive: Callable[[], Awaitable[dict]],
                      send: Callable[[dict], Awaitable[None]]) -> None:
        if scope["type"] != "http" or workspace(datasette) is None:
            await app(scope, receive, send)
            return
        pending = False  # an HTML response whose first chunk is still to come

        async def send_declared(message: dict[str, Any]) -> None:
            nonlocal pending
            if message["type"] == "http.response.start":
                headers = {key.lower(): value for key, value in message.get("headers") or []}
                # A declared length would no longer match: such a response is left as it is.
                pending = (headers.get(b"content-type", b"").startswith(b"text/html")
                           and b"content-length" not in headers)
            elif pending and message["type"] == "http.response.body" and message.get("body"):
                pending = False
                body = message["body"]
                at = body.find(OPENING, 0, HEAD_BYTES)
                if at >= 0:
                    message = {**message, "body": body[:at] + DECLARED + body[at + len(OPENING):]}
            await send(message)

        await app(scope, receive, send_declared)

    return wrapped
